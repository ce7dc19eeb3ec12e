"""Cache hits of /image/<id>/ served ahead of Django: no middleware stack, session or database query.

As whitenoise does for static files, a WSGI wrapper answers what it can answer completely, a variant
whose original this worker already knows (KnownOriginals) and that Redis or the disk already holds, or a
304, and hands everything else (misses, refusals, unknown ids, other paths) to Django untouched. The
headers are the view's own (transforms/http.py); a test checks both paths answer alike.
"""

import functools
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from server.logs import request_id_var
from server.metrics import BYTES_SERVED, HTTP_RESPONSES, VARIANT_REQUESTS

from . import cache, signing
from .http import body_headers, caching_headers, not_modified
from .queries import spec_from_query
from .spec import InvalidSpec
from .variants import OriginalFacts, Variant, known_originals, variant_resolve

logger = logging.getLogger("darkroom.request")

_IMAGE_PATH = re.compile(r"/image/([A-Za-z0-9_-]{1,16})/")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
StartResponse = Callable[..., Any]
Answer = tuple[str, list[tuple[str, str]], bytes]


_MEMO_SIZE = 20_000
_memo: dict[tuple[str, str, str], Variant | None] = {}


def _resolved(facts: OriginalFacts, query: str, accept: str) -> Variant | None:
    """The variant a query names (None: refused, or not signed as required), remembered per worker.

    Parsing, the signature and the key are pure functions of (original, query, Accept) and the settings,
    so a hot URL is worked out once; the memo is dropped whenever a setting changes (tests) or it fills.
    """
    memo_key = (facts.id, query, accept)
    if memo_key in _memo:
        return _memo[memo_key]
    try:
        spec, signature = spec_from_query(query)
        refused = signing.signature_problem(facts.id, spec, signature) is not None
        variant = None if refused else variant_resolve(spec, facts, accept=accept)
    except InvalidSpec:  # malformed, or over an output budget: Django's path answers it
        variant = None
    if len(_memo) >= _MEMO_SIZE:
        _memo.clear()
    _memo[memo_key] = variant
    return variant


@receiver(setting_changed)
def _forget_resolutions(**kwargs: Any) -> None:
    _memo.clear()


@functools.cache
def _child(metric: Any, *labels: str) -> Any:
    """A metric's labelled child, looked up once per worker (labels() costs more than the increment)."""
    return metric.labels(*labels)


class VariantFastPath:
    """WSGI middleware in front of Django for GET and HEAD of cached variants."""

    def __init__(self, app: Callable[[dict[str, Any], StartResponse], Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        answer = None
        if environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            match = _IMAGE_PATH.fullmatch(environ.get("PATH_INFO", ""))
            if match is not None:
                try:
                    answer = self._answer(environ, match.group(1))
                except Exception:
                    logger.exception("variant fast path failed; handing the request to Django")
        if answer is None:
            return self.app(environ, start_response)
        status, headers, body = answer
        start_response(status, headers)
        return [body]

    def _answer(self, environ: dict[str, Any], original_id: str) -> Answer | None:
        started = time.perf_counter()
        if settings.SECURE_SSL_REDIRECT and environ.get("HTTP_X_FORWARDED_PROTO", "") != "https":
            return None  # Django redirects
        facts = known_originals.get(original_id)
        if facts is None:
            return None
        variant = _resolved(facts, environ.get("QUERY_STRING", ""), environ.get("HTTP_ACCEPT", ""))
        if variant is None:
            return None
        if not_modified(environ.get("HTTP_IF_NONE_MATCH", ""), variant.etag):
            _child(VARIANT_REQUESTS, "not-modified").inc()
            return self._finish(environ, "304 Not Modified", caching_headers(variant), b"", started, "")
        found = cache.lookup(original_id=original_id, key=variant.key, out_format=variant.out_format)
        if found is None:
            return None
        data, tier = found
        _child(VARIANT_REQUESTS, tier).inc()
        _child(BYTES_SERVED, "variant").inc(len(data))
        headers = caching_headers(variant) + body_headers(variant, data, tier, time.perf_counter() - started, None)
        body = b"" if environ["REQUEST_METHOD"] == "HEAD" else data
        return self._finish(environ, "200 OK", headers, body, started, tier)

    def _finish(
        self, environ: dict[str, Any], status: str, headers: list[tuple[str, str]], body: bytes, started: float,
        tier: str,
    ) -> Answer:  # fmt: skip
        if settings.SECURE_HSTS_SECONDS and environ.get("wsgi.url_scheme") == "https":
            headers.append(("Strict-Transport-Security", f"max-age={settings.SECURE_HSTS_SECONDS}"))
        code = status.split(" ", 1)[0]
        _child(HTTP_RESPONSES, "image", code).inc()
        supplied = environ.get("HTTP_X_REQUEST_ID", "")
        request_id = supplied if _REQUEST_ID.fullmatch(supplied) else ""
        if not settings.LOG_CACHE_HITS:  # every answer here is a hit or a 304: counted, not logged
            if request_id:  # a client's own id is echoed; none is made up for a line nobody writes
                headers.append(("X-Request-ID", request_id))
            return status, headers, body
        request_id = request_id or uuid.uuid4().hex
        headers.append(("X-Request-ID", request_id))
        token = request_id_var.set(request_id)
        try:
            logger.info(
                "%s %s %s",
                environ["REQUEST_METHOD"],
                environ.get("PATH_INFO", ""),
                code,
                extra={
                    "request_id": request_id,
                    "method": environ["REQUEST_METHOD"],
                    "path": environ.get("PATH_INFO", ""),
                    "route": "image",
                    "status": int(code),
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    "cache": tier,
                    "bytes": str(len(body)),
                    "client_ip": environ.get("REMOTE_ADDR", ""),
                    "fast_path": True,
                },
            )
        finally:
            request_id_var.reset(token)
        return status, headers, body
