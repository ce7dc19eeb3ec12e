"""The one JSON shape of every refusal ({"error", "code", "param"}), and the handlers that give it: Django's, DRF's,
the pages'. A leaf: it imports no app of this project, and every app imports it."""

import functools
import json
import logging
import math
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler
from rest_framework_simplejwt.exceptions import DetailDictMixin, InvalidToken, TokenBackendError, TokenError

logger = logging.getLogger(__name__)


class DarkroomError(Exception):
    """A refusal a client caused; carries the status, a stable code and a sentence a person understands."""

    status_code: int = status.HTTP_400_BAD_REQUEST
    code: str = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        status: int | None = None,
        retry_after: int | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.code = code or self.code
        self.param = param
        self.retry_after = retry_after  # seconds, sent as Retry-After (a 503 of a dependency that is away)
        if status is not None:
            self.status_code = status

    def payload(self) -> dict[str, str]:
        return error_payload(self.message, self.code, self.param)


def _image_origins() -> str:
    """'self', and PUBLIC_BASE_URL's origin when the template tags write images from there (a CDN in front)."""
    parts = urlsplit(settings.PUBLIC_BASE_URL)
    return f"'self' {parts.scheme}://{parts.netloc}" if parts.netloc else "'self'"


PAGE_CSP = (
    f"default-src 'self'; script-src 'self'; style-src 'self'; img-src {_image_origins()} data: blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_PAGE_TITLES = {
    400: "This request cannot be answered",
    401: "Log in first",
    403: "Not allowed",
    404: "Nothing is here",
    405: "Not like this",
    413: "Too large",
    429: "Too many requests",
    500: "Something went wrong",
}


COMPACT_JSON = {"separators": (",", ":")}  # as DRF's JSONRenderer writes the API's bodies: one spelling of JSON


def json_bytes(value: Any) -> bytes:
    """`value` as the API writes JSON (compact, UTF-8 escaped as json.dumps does), for bodies built outside DRF."""
    return json.dumps(value, separators=(",", ":")).encode()


def error_payload(message: str, code: str, param: str | None = None) -> dict[str, str]:
    body = {"error": message, "code": code}
    if param:
        body["param"] = param
    return body


def error_response(
    message: str, code: str, status_code: int, param: str | None = None, *, retry_after: int | None = None
) -> JsonResponse:
    """A plain Django JSON error, for views outside DRF; never cached for long."""
    response = JsonResponse(error_payload(message, code, param), status=status_code, json_dumps_params=COMPACT_JSON)
    response["Cache-Control"] = "no-store"
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


def wants_html(request: HttpRequest) -> bool:
    """A browser asks for HTML before JSON; an API client (application/json, */*, or no Accept) gets JSON."""
    return request.get_preferred_type(["application/json", "text/html"]) == "text/html"


def refusal_in_kind(
    request: HttpRequest, message: str, code: str, status_code: int, param: str | None = None
) -> HttpResponse:
    """A refusal as the client asked for it: the site's HTML error page for a browser, else the house's JSON.
    Rendered without the request's context, so it works whatever broke (the database, the session)."""
    if not wants_html(request):
        return error_response(message, code, status_code, param)
    title = _PAGE_TITLES.get(status_code, _PAGE_TITLES[400 if status_code < 500 else 500])
    html = render_to_string("error.html", {"title": title, "message": message, "status": status_code})
    response = HttpResponse(html, status=status_code)
    response["Cache-Control"] = "no-store"
    response["Content-Security-Policy"] = PAGE_CSP
    return response


_DRF_CODES: dict[type[exceptions.APIException], str] = {
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
    exceptions.ParseError: "malformed_request",
}
# An APIException of another kind (another library's) is coded by its status.
_STATUS_CODES = {
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    429: "throttled",
    500: "server_error",
}
_FALLBACK_CODE = "bad_request"
# A field's or a filter's ValidationError code (DRF's and Django's: required, blank, invalid_choice, max_length…)
# in the variants' words, so that one vocabulary names what is wrong with any parameter or field.
_FIELD_CODES = {
    "required": "missing_parameter",
    "null": "missing_parameter",
    "blank": "empty_parameter",
    "empty": "empty_parameter",
    **dict.fromkeys(
        (
            "max_length",
            "min_length",
            "max_value",
            "min_value",
            "max_digits",
            "max_decimal_places",
            "max_whole_digits",
            "max_string_length",
            "overflow",
        ),
        "out_of_range",
    ),
}
_INVALID_FIELD_CODE = "invalid_parameter"
TOKEN_CODE = "token_not_valid"
_DRF_CSRF = "CSRF Failed:"
# Every code a refusal through DRF may carry: a closed set, so the README's table can name them all
# (originals/tests/test_error_codes.py checks that it does).
HANDLER_CODES = frozenset(
    {*_DRF_CODES.values(), *_STATUS_CODES.values(), _FALLBACK_CODE, *_FIELD_CODES.values(), _INVALID_FIELD_CODE}
    | {TOKEN_CODE, "csrf_failed"}
)

_TOKEN_SENTENCES = {  # simplejwt's words, as sentences that say what to do
    "Token is expired": "The access token has expired; get a new one from /api/v1/token/refresh/ with your refresh "
    "token, or log in again at /api/v1/token/.",
    "Given token not valid for any token type": "The access token is not valid (malformed, signed with another key, "
    "or not an access token); log in again at /api/v1/token/.",
    "Token contained no recognizable user identification": "The access token names no user; log in again at "
    "/api/v1/token/.",
    "Authorization header must contain two space-delimited values": "The Authorization header must be "
    "'Bearer <access token>'.",
    "User not found": "The access token's user no longer exists.",
    "User is inactive": "The access token's user is inactive.",
    "The user's password has been changed.": "The user's password has changed since this token was issued; log in "
    "again at /api/v1/token/.",
    "No active account found with the given credentials": "No active account has this username and password.",
}


def _sentence(text: str) -> str:
    """A message as a sentence: DRF's and simplejwt's words often end without a full stop."""
    text = " ".join(text.split())
    return text if text.endswith((".", "?", "!")) else f"{text}."


def _first_leaf(detail: Any, param: str | None = None) -> tuple[str, str | None, str | None]:
    """Walk a DRF error detail (a string, or lists and dicts of them, nested) down to its first leaf:
    (message, its code, the field it belongs to). Never str() of a container: that is a Python repr."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            field = param if key in ("non_field_errors", "detail") else str(key)
            return _first_leaf(value, field)
        return "", None, param
    if isinstance(detail, list | tuple):
        return _first_leaf(detail[0], param) if detail else ("", None, param)
    return str(detail), getattr(detail, "code", None), param


def _validation_refusal(exc: exceptions.ValidationError) -> dict[str, str]:
    message, code, param = _first_leaf(exc.detail)
    message = message or "The request is not valid."
    if param and not message.lower().startswith(param.lower()):
        message = f"{param}: {message}"
    return error_payload(_sentence(message), _FIELD_CODES.get(str(code), _INVALID_FIELD_CODE), param)


def _token_refusal(exc: exceptions.APIException) -> dict[str, str]:
    """simplejwt's refusals nest their words in {"detail", "code", "messages": [one per token class tried]}."""
    detail: Any = exc.detail if isinstance(exc.detail, dict) else {"detail": exc.detail}
    tried = detail.get("messages", [])
    words = [str(item.get("message", "")) for item in tried if isinstance(item, dict)]
    words.append(_first_leaf(detail.get("detail", ""))[0])
    message = next((_TOKEN_SENTENCES[word] for word in words if word in _TOKEN_SENTENCES), None)
    if message is None:
        message = _sentence(words[-1] or "The token was refused; log in again at /api/v1/token/.")
    code = TOKEN_CODE if isinstance(exc, InvalidToken) else _DRF_CODES[exceptions.AuthenticationFailed]
    return error_payload(message, code)


def _api_refusal(exc: exceptions.APIException) -> dict[str, str]:
    if isinstance(exc, DetailDictMixin):
        return _token_refusal(exc)
    code = next((c for cls, c in _DRF_CODES.items() if isinstance(exc, cls)), None)
    code = code or _STATUS_CODES.get(exc.status_code, _FALLBACK_CODE)
    message = _first_leaf(exc.detail)[0]
    if isinstance(exc, exceptions.PermissionDenied) and message.startswith(_DRF_CSRF):  # SessionAuthentication's
        reason = message.removeprefix(_DRF_CSRF).strip().rstrip(".")
        return error_payload(_csrf_message(reason), "csrf_failed")
    message = _TOKEN_SENTENCES.get(message) or _sentence(message or str(exc.default_detail))
    wait = getattr(exc, "wait", None)
    if isinstance(exc, exceptions.Throttled) and wait is not None:
        message = f"Too many requests; try again in {math.ceil(wait)} seconds."  # as Retry-After says
    return error_payload(message, code)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER: every refusal becomes {"error", "code", "param"} with its status, its message
    plain sentences however DRF or simplejwt nested it."""
    if isinstance(exc, DarkroomError):
        headers = {"Cache-Control": "no-store"}
        if exc.retry_after is not None:
            headers["Retry-After"] = str(exc.retry_after)
        return Response(exc.payload(), status=exc.status_code, headers=headers)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, TokenError | TokenBackendError):  # simplejwt's own catch these; should one escape
        exc = InvalidToken(str(exc))
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = _validation_refusal(exc)
    elif isinstance(exc, exceptions.APIException):
        response.data = _api_refusal(exc)
    response["Cache-Control"] = "no-store"
    return response


def json_404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return refusal_in_kind(request, f"Nothing is at {request.path}.", "not_found", 404)


def json_500(request: HttpRequest) -> HttpResponse:
    logger.error("unhandled server error for %s", request.path)
    return refusal_in_kind(request, "The server failed; the error was logged.", "server_error", 500)


def json_400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django's answer to a SuspiciousOperation; a body over the non-file limit is a 413, not a 400."""
    if isinstance(exception, RequestDataTooBig | TooManyFieldsSent | TooManyFilesSent):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return refusal_in_kind(
            request,
            f"The request body is too large or has too many fields (non-file data is limited to {limit:,} bytes).",
            "body_too_large",
            413,
        )
    return refusal_in_kind(request, "The request was malformed.", "bad_request", 400)


def json_403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return refusal_in_kind(request, "You may not do this.", "permission_denied", 403)


def method_refusal(request: HttpRequest, allowed: list[str]) -> HttpResponse:
    """405 in kind, with the Allow header naming what the URL takes."""
    response = refusal_in_kind(
        request, f"{request.method} is not allowed here; use {', '.join(allowed)}.", "method_not_allowed", 405
    )
    response["Allow"] = ", ".join(allowed)
    return response


def allow_methods(*methods: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Django's require_http_methods with the house's refusal: a JSON 405 (in kind) with Allow. The methods are
    kept on the view (`allowed_methods`), so that MethodMiddleware refuses others before any CSRF check."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method not in methods:
                return method_refusal(request, list(methods))
            return view(request, *args, **kwargs)

        checked.allowed_methods = methods  # type: ignore[attr-defined]
        return checked

    return decorator


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: Django's CSRF refusal in the house's shape (in kind), never its own HTML page."""
    logger.warning("CSRF check failed for %s %s: %s", request.method, request.path, reason)
    return refusal_in_kind(request, _csrf_message(reason), "csrf_failed", 403)


def _csrf_message(reason: str) -> str:
    return f"The page's security token is missing or stale ({reason}); reload the page and try again."
