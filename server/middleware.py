"""Request plumbing: the client's real IP behind a proxy, a request id, one log line and metrics per request."""

import functools
import ipaddress
import logging
import re
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponseBase
from django.urls import resolve

from server.errors import error_response

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


_untrusted_peer_seen = False


def client_ip(meta: Mapping[str, Any]) -> str:
    """The client's address: the proxy's word for it (CLIENT_IP_HEADER), believed only from TRUSTED_PROXIES."""
    global _untrusted_peer_seen
    peer = str(meta.get("REMOTE_ADDR", ""))
    header = settings.CLIENT_IP_HEADER
    supplied = meta.get("HTTP_" + header.upper().replace("-", "_"), "") if header else ""
    if not supplied:
        return peer
    if not is_trusted_proxy(peer):
        if not _untrusted_peer_seen:  # once per worker: enough to spot a proxy missing from the list
            _untrusted_peer_seen = True
            logger.warning("ignoring %s from %s, which is not in TRUSTED_PROXIES", header, peer)
        return peer
    return supplied if _IP.fullmatch(supplied) else peer  # anything malformed is ignored


def record_request(
    *,
    method: str,
    path: str,
    route: str,
    status: int,
    seconds: float,
    cache: str,
    length: str,
    client: str,
    request_id: str,
) -> None:
    """Count a response and write its log line: one for every request but image hits and 304s, which are only
    counted unless LOG_CACHE_HITS (a log line costs more than the rest of a hit). Django's path and the fast
    path both come here."""
    _child(HTTP_RESPONSES, route, str(status)).inc()
    if route == "image" and (status == 304 or cache.startswith("hit-")) and not settings.LOG_CACHE_HITS:
        return
    logger.info(
        "%s %s %s",
        method,
        path,
        status,
        extra={
            "request_id": request_id,
            "method": method,
            "path": path,
            "route": route,
            "status": status,
            "duration_ms": round(seconds * 1000, 2),
            "cache": cache,
            "bytes": length,
            "client_ip": client,
        },
    )


@functools.cache
def _child(metric: Any, *labels: str) -> Any:
    """A metric's labelled child, looked up once per worker (labels() costs more than the increment)."""
    return metric.labels(*labels)


class RequestMiddleware:
    """First in the stack: sets REMOTE_ADDR from a trusted proxy's header, then times and logs the request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        request.META["REMOTE_ADDR"] = client_ip(request.META)
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

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponseBase | None:
        """A locked or unreachable database is the server's trouble, not the client's: 503, try again."""
        if isinstance(exception, OperationalError | InterfaceError):
            logger.warning("database unavailable for %s: %s", request.path, exception)
            message = "The database is busy or unreachable; try again shortly."
            return error_response(message, "database_unavailable", 503, retry_after=2)
        return None

    def _record(self, request: HttpRequest, response: HttpResponseBase, request_id: str, seconds: float) -> None:
        match = getattr(request, "resolver_match", None)
        record_request(
            method=request.method or "",
            path=request.path,
            route=match.url_name if match is not None and match.url_name else "unmatched",
            status=response.status_code,
            seconds=seconds,
            cache=response.get("X-Cache", ""),
            length=response.get("Content-Length", ""),
            client=request.META.get("REMOTE_ADDR", ""),
            request_id=request_id,
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
