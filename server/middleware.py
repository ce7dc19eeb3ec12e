"""Request plumbing: the client's real IP behind a proxy, a request id, one log line and metrics per request."""

import ipaddress
import logging
import re
import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponseBase
from django.urls import resolve

from originals.errors import error_response

from .logs import request_id_var
from .metrics import HTTP_RESPONSES

logger = logging.getLogger("darkroom.request")

_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
_IP = re.compile(r"[0-9A-Fa-f:.]{2,45}")


def is_trusted_proxy(peer: str) -> bool:
    """Whether the socket peer is one of TRUSTED_PROXIES (an IPv4 peer on an IPv6 socket counts as IPv4)."""
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in settings.TRUSTED_PROXIES)


class RequestMiddleware:
    """First in the stack: sets REMOTE_ADDR from a trusted proxy's header, then times and logs the request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        self.client_ip_header = "HTTP_" + settings.CLIENT_IP_HEADER.upper().replace("-", "_")
        self.untrusted_peer_seen = False

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        if settings.CLIENT_IP_HEADER and self.client_ip_header in request.META:
            self._take_client_ip(request)
        supplied = request.headers.get("X-Request-ID", "")
        request_id = supplied if _REQUEST_ID.fullmatch(supplied) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = request_id
            self._record(request, response, request_id, time.perf_counter() - started)
        finally:
            request_id_var.reset(token)
        return response

    def _take_client_ip(self, request: HttpRequest) -> None:
        """The proxy's word for the client's address, believed only when the socket peer is that proxy."""
        peer = request.META.get("REMOTE_ADDR", "")
        if not is_trusted_proxy(peer):
            if not self.untrusted_peer_seen:  # once per worker: enough to spot a proxy missing from the list
                self.untrusted_peer_seen = True
                logger.warning("ignoring %s from %s, which is not in TRUSTED_PROXIES", settings.CLIENT_IP_HEADER, peer)
            return
        client_ip = request.META[self.client_ip_header]
        if _IP.fullmatch(client_ip):  # anything malformed is ignored
            request.META["REMOTE_ADDR"] = client_ip

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponseBase | None:
        """A locked or unreachable database is the server's trouble, not the client's: 503, try again."""
        if isinstance(exception, OperationalError | InterfaceError):
            logger.warning("database unavailable for %s: %s", request.path, exception)
            message = "The database is busy or unreachable; try again shortly."
            return error_response(message, "database_unavailable", 503, retry_after=2)
        return None

    def _record(self, request: HttpRequest, response: HttpResponseBase, request_id: str, seconds: float) -> None:
        match = getattr(request, "resolver_match", None)
        route = match.url_name if match is not None and match.url_name else "unmatched"
        HTTP_RESPONSES.labels(route=route, status=str(response.status_code)).inc()
        is_hit = response.status_code == 304 or response.get("X-Cache", "").startswith("hit-")
        if route == "image" and is_hit and not settings.LOG_CACHE_HITS:
            return
        logger.info(
            "%s %s %s",
            request.method,
            request.path,
            response.status_code,
            extra={
                "request_id": request_id,
                "method": request.method,
                "path": request.path,
                "route": route,
                "status": response.status_code,
                "duration_ms": round(seconds * 1000, 2),
                "cache": response.get("X-Cache", ""),
                "bytes": response.get("Content-Length", ""),
                "client_ip": request.META.get("REMOTE_ADDR", ""),
            },
        )


class HealthCheckMiddleware:
    """Answers /healthz and /readyz before Host validation: platform probers (Fly, Kubernetes, Docker) send
    the machine's own IP as Host, which ALLOWED_HOSTS rightly refuses everywhere else."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        from . import health

        view = {"/healthz": health.healthz, "/readyz": health.readyz}.get(request.path_info)
        if view is None:
            return self.get_response(request)
        request.resolver_match = resolve(request.path_info)  # for the request log's route label
        return view(request)
