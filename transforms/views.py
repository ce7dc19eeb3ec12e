"""/image/<id>/: parse the query (400), find the original (404), then serve from cache or render."""

import logging
import time
from typing import Any
from urllib.parse import parse_qsl

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils.cache import patch_vary_headers
from django.views import View

from originals import selectors, services
from originals.errors import error_response
from server.metrics import BYTES_SERVED, VARIANT_REQUESTS

from . import signing
from .pipeline import ENCODERS, Rendered, RenderError, RenderTimeout, animation_for
from .spec import InvalidSpec, VariantSpec, parse
from .variants import Overloaded, Variant, variant_fetch, variant_resolve

logger = logging.getLogger(__name__)

IMMUTABLE = "public, max-age=31536000, immutable"
IMAGE_CSP = "default-src 'none'; sandbox"
MAX_QUERY_LENGTH = 1024
SIGNATURE_PARAM = frozenset({"sig"})


def _parse_query(request: HttpRequest) -> tuple[VariantSpec, str | None]:
    """The canonical spec and the `sig` parameter, or InvalidSpec naming what is wrong."""
    query = request.META.get("QUERY_STRING", "")
    if len(query) > MAX_QUERY_LENGTH:
        raise InvalidSpec("query", f"The query is longer than {MAX_QUERY_LENGTH} characters.", "query_too_long")
    pairs = parse_qsl(query, keep_blank_values=True, separator="&")
    signatures = [value for name, value in pairs if name == "sig"]
    if len(signatures) > 1:
        raise InvalidSpec("sig", "sig is given more than once; give it once", "repeated_parameter")
    spec = parse(pairs, max_side=settings.MAX_OUTPUT_SIDE, ignore=SIGNATURE_PARAM, presets=signing.presets())
    return spec, signatures[0] if signatures else None


def _not_modified(request: HttpRequest, etag: str) -> bool:
    header = request.headers.get("If-None-Match", "")
    if not header:
        return False
    candidates = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in candidates or etag in candidates


def _server_timing(tier: str, total: float, rendered: Rendered | None) -> str:
    parts = [f'cache;desc="{tier}"']
    if rendered is not None:
        parts += [f"{stage};dur={seconds * 1000:.1f}" for stage, seconds in rendered.timings.items()]
    parts.append(f"total;dur={total * 1000:.1f}")
    return ", ".join(parts)


def _headers(response: HttpResponseBase, variant: Variant) -> None:
    response["ETag"] = variant.etag
    response["Cache-Control"] = IMMUTABLE
    response["Content-Security-Policy"] = IMAGE_CSP
    response["X-Content-Type-Options"] = "nosniff"
    if variant.negotiated:
        patch_vary_headers(response, ["Accept"])


class ImageView(View):
    """GET and HEAD of one variant, with the caching headers of DESIGN.md section 7."""

    http_method_names = ["get", "head", "options"]

    def http_method_not_allowed(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = error_response(f"{request.method} is not allowed here; use GET or HEAD.", "method_not_allowed", 405)
        response["Allow"] = "GET, HEAD, OPTIONS"
        return response

    def head(self, request: HttpRequest, original_id: str) -> HttpResponseBase:
        response = self.get(request, original_id)
        if isinstance(response, HttpResponse) and response.status_code == 200:
            length = len(response.content)
            response.content = b""
            response["Content-Length"] = str(length)
        return response

    def get(self, request: HttpRequest, original_id: str) -> HttpResponseBase:
        started = time.perf_counter()
        try:
            spec, signature = _parse_query(request)
        except InvalidSpec as exc:
            return error_response(exc.message, exc.code, 400, exc.param)
        problem = signing.signature_problem(original_id, spec, signature)
        if problem is not None:
            return error_response(problem[1], problem[0], 403, "sig")
        original = selectors.original_get(original_id)
        if original is None:
            return error_response(f"No original has the id {original_id[:40]!r}.", "not_found", 404, "id")
        variant = variant_resolve(spec, original, accept=request.headers.get("Accept", ""))
        if _not_modified(request, variant.etag):
            VARIANT_REQUESTS.labels(tier="not-modified").inc()
            response: HttpResponseBase = HttpResponse(status=304)
            _headers(response, variant)
            return response
        return self._serve(variant, started)

    def _serve(self, variant: Variant, started: float) -> HttpResponseBase:
        original = variant.original
        try:
            fetched = variant_fetch(variant)
        except FileNotFoundError:
            logger.error("original %s has no file at %s", original.id, services.original_path(original))
            return error_response("The original's file is missing from the store.", "original_missing", 404)
        except RenderTimeout:
            message = "The render ran past its time budget; try again later."
            return error_response(message, "render_timeout", 503, retry_after=5)
        except Overloaded:
            return error_response("Every render slot is busy; try again shortly.", "overloaded", 503, retry_after=2)
        except RenderError as exc:
            return error_response(f"The original cannot be rendered: {exc}", "corrupt_image", 422)
        response = HttpResponse(fetched.data, content_type=ENCODERS[variant.out_format].content_type)
        response["Content-Length"] = str(len(fetched.data))
        _headers(response, variant)
        response["X-Cache"] = fetched.tier
        animation = animation_for(original.format, original.frames, variant.out_format)
        if animation != "none":
            response["X-Animation"] = animation
        response["Server-Timing"] = _server_timing(fetched.tier, time.perf_counter() - started, fetched.rendered)
        BYTES_SERVED.labels(kind="variant").inc(len(fetched.data))
        return response
