"""/image/<id>/ and /image/<id>/info/: Django's doors to the one variant answer (transforms/answer.py, info.py)."""

from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.views import View

from originals import selectors
from server.errors import error_response

from .answer import Answer, VariantRequest, answer
from .info import info_answer
from .throttles import admit_render
from .variants import OriginalFacts, known_originals


def facts_from_database(original_id: str) -> OriginalFacts | None:
    """The original's facts from the database, remembered so that later hits of it can take the fast path."""
    original = selectors.original_get(original_id)  # variants are public by id: no viewer
    if original is None:
        return None
    known_originals.remember(original)
    return OriginalFacts.of(original)


class ImageView(View):
    """GET and HEAD of one variant, with the caching headers of DESIGN.md section 7."""

    http_method_names = ["get", "head", "options"]

    def http_method_not_allowed(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = error_response(f"{request.method} is not allowed here; use GET or HEAD.", "method_not_allowed", 405)
        response["Allow"] = "GET, HEAD, OPTIONS"
        return response

    def options(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        """The methods, and nothing else: no body, so no Content-Type (Django's default answers 200 text/html)."""
        response = HttpResponse(status=204)
        response["Allow"] = "GET, HEAD, OPTIONS"
        del response["Content-Type"]
        return response

    def head(self, request: HttpRequest, original_id: str) -> HttpResponseBase:
        return self.get(request, original_id)

    def get(self, request: HttpRequest, original_id: str) -> HttpResponseBase:
        found = answer(
            variant_request_of(request, original_id),
            facts_of=facts_from_database,
            complete=True,
            admit=lambda: admit_render(request),
        )
        assert found is not None  # a complete answer is never deferred
        return response_of(found)


class ImageInfoView(ImageView):
    """GET and HEAD of /image/<id>/info/?<query>: the variant's plan as JSON (transforms/info.py), never a render."""

    def get(self, request: HttpRequest, original_id: str) -> HttpResponseBase:
        return response_of(info_answer(variant_request_of(request, original_id), facts_of=facts_from_database))


def variant_request_of(request: HttpRequest, original_id: str) -> VariantRequest:
    return VariantRequest(
        original_id=original_id,
        query=request.META.get("QUERY_STRING", ""),
        head=request.method == "HEAD",
        accept=request.headers.get("Accept", ""),
        if_none_match=request.headers.get("If-None-Match", ""),
        https=request.is_secure(),
    )


def response_of(found: Answer) -> HttpResponse:
    response = HttpResponse(found.body, status=found.status)
    for name, value in found.headers:
        response[name] = value
    return response
