"""Request plumbing: the client's real IP behind a proxy, a request id, one log line and metrics per request."""

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
from django.middleware.common import CommonMiddleware
from django.urls import resolve
from django.utils.http import escape_leading_slashes

from server.errors import error_response, method_refusal

from .logs import request_id_var
from .metrics import HTTP_RESPONSES, count_of

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
    count_of(HTTP_RESPONSES, route, str(status)).inc()
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


def allowed_methods(view: Callable[..., Any]) -> list[str] | None:
    """The methods a resolved view takes, read off it as Django and DRF dispatch them; None when it cannot say
    (a plain function view, the admin's), which then answers for itself."""
    actions = getattr(view, "actions", None)  # a DRF viewset's route: its method -> action map
    cls = getattr(view, "view_class", None) or getattr(view, "cls", None)
    if actions is not None and cls is not None:
        names = {*actions, *(["options"] if hasattr(cls, "options") else [])}
    elif cls is not None:
        names = {name for name in cls.http_method_names if hasattr(cls, name)}
    else:
        declared = getattr(view, "allowed_methods", None)  # server.errors.allow_methods
        return None if declared is None else list(declared)
    if "get" in names and "head" in cls.http_method_names:
        names.add("head")  # Django's View.setup and DRF's viewsets answer HEAD with get
    order = [name for name in cls.http_method_names if name in names]
    return [name.upper() for name in order]


class MethodMiddleware:
    """A method the URL does not take is a 405 naming the ones it does, before the CSRF check (which would
    answer a POST to a read-only URL with a 403) and before authentication (which would answer a PUT with a
    401): what is wrong with the request is said first."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponseBase | None:
        allowed = allowed_methods(view)
        if allowed is None or request.method in allowed:
            return None
        return method_refusal(request, allowed)


class SlashRedirects(CommonMiddleware):
    """Django's CommonMiddleware, whose APPEND_SLASH answered a URL missing its final slash with an empty 301: a
    `POST /api/v1/originals` was lost (curl shows nothing; `curl -L` follows a 301 with a GET, and lists instead of
    uploading). Here a GET or HEAD is moved with a 301 and any other method with a 308, which keeps the method and
    the body (`curl -L` sends the upload again to the right URL), each with a JSON body naming the URL."""

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        if response.status_code == 404 and self.should_redirect_with_slash(request):
            location = escape_leading_slashes(request.get_full_path(force_append_slash=True))
            status = 301 if request.method in ("GET", "HEAD") else 308
            moved = error_response(f"This URL ends with a slash: {location}", "add_slash", status)
            moved["Location"] = location
            return moved
        return super().process_response(request, response)
