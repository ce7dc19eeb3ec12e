"""Cache hits of /image/<id>/ served ahead of Django: no middleware stack, session or database query.

As whitenoise does for static files, a WSGI wrapper answers what it can answer completely (a variant whose
original this worker already knows and that a cache tier holds, or a 304) and hands everything else
(misses, refusals, unknown ids, other paths) to Django untouched. The answer itself is transforms/answer.py,
the view's own; this module only reads the environ, checks the Host as Django would, and records the request.
"""

import functools
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any, NamedTuple

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http.request import split_domain_port, validate_host

from server.logs import request_id_var
from server.metrics import HTTP_RESPONSES, CountOf, CountsOf, count_of
from server.middleware import client_ip, record_request

from .answer import Answer, VariantRequest, answer, resolution, served_counts
from .cache import lookup
from .variants import OriginalFacts, known_originals

logger = logging.getLogger("darkroom.request")

_IMAGE_PATH = re.compile(r"/image/([A-Za-z0-9_-]{1,16})/")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
StartResponse = Callable[..., Any]
_hosts: dict[str, bool] = {}
_STATUS_LINES = {200: "200 OK", 304: "304 Not Modified"}


def _host_allowed(environ: dict[str, Any]) -> bool:
    """Django's own ALLOWED_HOSTS check on the request's Host, remembered per host name."""
    host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
    allowed = _hosts.get(host)
    if allowed is None:
        domain, _ = split_domain_port(host)
        allowed = bool(domain) and validate_host(domain, settings.ALLOWED_HOSTS)
        if len(_hosts) < 1000:
            _hosts[host] = allowed
    return allowed


@functools.cache
def _switches() -> tuple[bool, bool]:
    """(SECURE_SSL_REDIRECT, LOG_CACHE_HITS), read once: a settings lookup costs a fifth of a memory hit."""
    return bool(settings.SECURE_SSL_REDIRECT), bool(settings.LOG_CACHE_HITS)


class Hot(NamedTuple):
    """A URL this worker has answered from a cache tier, worked out down to the headers that depend on it alone."""

    original_id: str
    facts: OriginalFacts  # as remembered then: another object once the original is forgotten (deleted, changed)
    key: str
    out_format: str
    headers: list[tuple[str, str]]  # the 200's, but for Content-Length, X-Cache and Server-Timing


HotKey = tuple[str, str, str, str, str]  # path, query, Accept, Host, scheme
_hot: dict[HotKey, Hot] = {}
_hot_counts: dict[str, CountsOf] = {}  # by tier: what a hit counts (answer.py's counts and the response's), at once
HOT_SIZE = 4096  # URLs a worker keeps worked out (1-2 KB each, with their headers); past it, all are forgotten


def _hot_key(environ: dict[str, Any]) -> HotKey:
    """What a hit's answer depends on besides the settings, the original's facts, the method and the conditionals.
    _served_hot builds the same tuple inline (a call costs a tenth of a hot hit): change both, or hot URLs miss."""
    host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
    accept = environ.get("HTTP_ACCEPT", "")
    return (
        environ.get("PATH_INFO", ""),
        environ.get("QUERY_STRING", ""),
        accept,
        host,
        environ.get("wsgi.url_scheme", ""),
    )


def _served_hot(environ: dict[str, Any], start_response: StartResponse) -> list[bytes] | None:
    """A hit of a URL answered before, answered again without working out the request: the host, the query, the
    signature and the variant were checked the first time, and only a settings change or a forgotten original (then
    other facts) can change them. None: the whole way (not hot, or in no tier any more).

    Every step of a hit here is paid many times over under load: the longer a thread holds the GIL, the likelier the
    server's next thread waits for it, and each wait is two context switches (two microseconds more of Python made
    the bare app of `make bench` as slow as a hit). Hence one clock read for the original's expiry and the timing,
    the key made inline, and the hit's three counts written at once."""
    hot = _hot.get(
        (
            environ.get("PATH_INFO", ""),
            environ.get("QUERY_STRING", ""),
            environ.get("HTTP_ACCEPT", ""),
            environ.get("HTTP_HOST") or environ.get("SERVER_NAME", ""),
            environ.get("wsgi.url_scheme", ""),
        )
    )
    if hot is None:
        return None
    method = environ.get("REQUEST_METHOD")
    started = time.monotonic()
    if (method != "GET" and method != "HEAD") or not known_originals.holds(hot.original_id, hot.facts, started):
        return None
    found = lookup(original_id=hot.original_id, key=hot.key, out_format=hot.out_format)
    if found is None:
        return None
    data, tier = found
    counts = _hot_counts.get(tier)
    if counts is None:
        counts = _hot_counts[tier] = CountsOf(*served_counts(tier), _count_of(200))
    counts.inc(1, 0 if method == "HEAD" else len(data), 1)  # a HEAD sends no body bytes
    took = time.monotonic() - started  # server_timing's string for a hit, written out: the call cost a tenth of a hit
    timing = f'cache;desc="{tier}", total;dur={"0.0" if took < 0.00005 else f"{took * 1000:.1f}"}'
    start_response(
        "200 OK", [*hot.headers, ("Content-Length", str(len(data))), ("X-Cache", tier), ("Server-Timing", timing)]
    )
    return [b"" if method == "HEAD" else data]


def _remember_hot(environ: dict[str, Any], request: VariantRequest) -> None:
    known = resolution(request, facts_of=known_originals.get)
    if known is None:
        return
    if len(_hot) >= HOT_SIZE:
        _hot.clear()
    facts, resolved = known
    variant, headers = resolved.variant, resolved.ok[request.https]
    _hot[_hot_key(environ)] = Hot(request.original_id, facts, variant.key, variant.out_format, headers)


@receiver(setting_changed)
def _forget_hosts(**kwargs: Any) -> None:
    _hosts.clear()
    _hot.clear()
    _switches.cache_clear()


class VariantFastPath:
    """WSGI middleware in front of Django for GET and HEAD of cached variants."""

    def __init__(self, app: Callable[[dict[str, Any], StartResponse], Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if not (_switches()[1] or environ.get("HTTP_IF_NONE_MATCH") or environ.get("HTTP_X_REQUEST_ID")):
            try:
                served = _served_hot(environ, start_response)
            except Exception:
                logger.exception("variant fast path failed; handing the request to Django")
                served = None
            if served is not None:
                return served
        started = time.perf_counter() if _switches()[1] else 0.0  # only a log line says how long
        found = None
        method = environ.get("REQUEST_METHOD")
        if method in ("GET", "HEAD"):
            match = _IMAGE_PATH.fullmatch(environ.get("PATH_INFO", ""))
            if match is not None:
                try:
                    found = self._answer(environ, match.group(1))
                except Exception:
                    logger.exception("variant fast path failed; handing the request to Django")
        if found is None:
            return self.app(environ, start_response)
        headers = found.headers  # the answer's own list, made for this request
        headers += self._record(environ, found, started)
        start_response(_STATUS_LINES.get(found.status) or f"{found.status} {HTTPStatus(found.status).phrase}", headers)
        return [found.body]

    def _answer(self, environ: dict[str, Any], original_id: str) -> Answer | None:
        https = environ.get("wsgi.url_scheme") == "https"  # the server sets it from TRUSTED_PROXIES alone
        if _switches()[0] and not https:
            return None  # Django redirects
        if not _host_allowed(environ):
            return None  # Django answers the 400
        request = VariantRequest(  # by position: keywords cost a tenth of a hit
            original_id,
            environ.get("QUERY_STRING", ""),
            environ["REQUEST_METHOD"] == "HEAD",
            environ.get("HTTP_ACCEPT", ""),
            environ.get("HTTP_IF_NONE_MATCH", ""),
            https,
        )
        found = answer(request, facts_of=known_originals.get, complete=False)
        if found is not None and found.status == 200:  # a hit
            hot = _hot.get(_hot_key(environ))
            if hot is None or hot.facts is not known_originals.get(original_id):
                _remember_hot(environ, request)
        return found

    def _record(self, environ: dict[str, Any], found: Answer, started: float) -> list[tuple[str, str]]:
        """Count and (when hits are logged) log the request as RequestMiddleware does; the X-Request-ID header.

        Every answer here is a hit or a 304, which are counted but logged only with LOG_CACHE_HITS: without it
        nothing is worked out that only the log line would use (a log line cost more than the rest of a hit).
        """
        supplied = environ.get("HTTP_X_REQUEST_ID", "")
        request_id = supplied if supplied and _REQUEST_ID.fullmatch(supplied) else ""
        if not _switches()[1]:
            _count_of(found.status).inc()
            # A client's own id is echoed; none is made up for a line nobody writes.
            return [("X-Request-ID", request_id)] if request_id else []
        request_id = request_id or uuid.uuid4().hex
        token = request_id_var.set(request_id)
        try:
            record_request(
                method=environ["REQUEST_METHOD"],
                path=environ.get("PATH_INFO", ""),
                route="image",
                status=found.status,
                seconds=time.perf_counter() - started,
                cache=found.tier if found.status == 200 else "",
                length=str(len(found.body)),
                client=client_ip(environ),
                request_id=request_id,
            )
        finally:
            request_id_var.reset(token)
        return [("X-Request-ID", request_id)]


@functools.cache
def _count_of(status: int) -> CountOf:
    """What record_request counts for an image hit or 304 that is not logged."""
    return count_of(HTTP_RESPONSES, "image", str(status))
