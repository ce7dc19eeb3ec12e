"""/image/<id>/: parse the query (400), find the original (404), then serve from cache or render."""

import logging
import time
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.views import View

from originals import selectors
from originals.errors import error_response
from server.metrics import BYTES_SERVED, VARIANT_REQUESTS

from . import signing
from .http import body_headers, caching_headers, not_modified
from .pipeline import RenderError, RenderTimeout
from .queries import spec_from_query
from .render_pool import RenderCrashed, RenderOverMemory
from .spec import InvalidSpec
from .throttles import RendersThrottled, admit_render
from .variants import Overloaded, Variant, known_originals, variant_fetch, variant_resolve

logger = logging.getLogger(__name__)


def _apply(response: HttpResponseBase, headers: list[tuple[str, str]]) -> None:
    for name, value in headers:
        response[name] = value


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
            spec, signature = spec_from_query(request.META.get("QUERY_STRING", ""))
        except InvalidSpec as exc:
            return error_response(exc.message, exc.code, exc.status, exc.param)
        problem = signing.signature_problem(original_id, spec, signature)
        if problem is not None:
            return error_response(problem[1], problem[0], 403, "sig")
        original = selectors.original_get(original_id)
        if original is None:
            return error_response(f"No original has the id {original_id[:40]!r}.", "not_found", 404, "id")
        known_originals.remember(original)  # later hits of it can take the fast path
        try:
            variant = variant_resolve(spec, original, accept=request.headers.get("Accept", ""))
        except InvalidSpec as exc:  # over an output budget
            return error_response(exc.message, exc.code, exc.status, exc.param)
        if not_modified(request.headers.get("If-None-Match", ""), variant.etag):
            VARIANT_REQUESTS.labels(tier="not-modified").inc()
            response: HttpResponseBase = HttpResponse(status=304)
            _apply(response, caching_headers(variant))
            return response
        return self._serve(request, variant, started)

    def _serve(self, request: HttpRequest, variant: Variant, started: float) -> HttpResponseBase:
        original = variant.original
        try:
            fetched = variant_fetch(variant, admit=lambda: admit_render(request))
        except RendersThrottled as exc:
            message = f"Too many new variants from this client; try again in {exc.wait} seconds."
            return error_response(message, "throttled", 429, retry_after=exc.wait)
        except FileNotFoundError:
            logger.error("original %s (sha256 %s) has no file in the store", original.id, original.sha256)
            return error_response("The original's file is missing from the store.", "original_missing", 404)
        except RenderTimeout:
            message = "The render ran past its time budget; try again later."
            return error_response(message, "render_timeout", 503, retry_after=5)
        except RenderOverMemory:
            limit = settings.RENDER_MEMORY_LIMIT // 2**20
            message = f"The render needed more than the {limit} MiB a render may use; ask for a smaller variant."
            return error_response(message, "render_too_large", 422)
        except RenderCrashed:
            logger.error("render of %s for %s failed in its process", variant.key, original.id)
            return error_response("The render failed; try again later.", "render_failed", 503, retry_after=5)
        except Overloaded:
            return error_response("Every render slot is busy; try again shortly.", "overloaded", 503, retry_after=2)
        except RenderError as exc:
            return error_response(f"The original cannot be rendered: {exc}", "corrupt_image", 422)
        response = HttpResponse(fetched.data)
        _apply(response, caching_headers(variant))
        total = time.perf_counter() - started
        _apply(response, body_headers(variant, fetched.data, fetched.tier, total, fetched.rendered))
        BYTES_SERVED.labels(kind="variant").inc(len(fetched.data))
        return response
