"""Darkroom's client-facing errors and the one JSON shape they all take: {"error", "code", "param"}."""

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

logger = logging.getLogger(__name__)


class DarkroomError(Exception):
    """A refusal a client caused; carries the status, a stable code and a sentence a person understands."""

    status_code: int = status.HTTP_400_BAD_REQUEST
    code: str = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, param: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.code = code or self.code
        self.param = param
        if status is not None:
            self.status_code = status

    def payload(self) -> dict[str, str]:
        return error_payload(self.message, self.code, self.param)


class UploadTooLarge(DarkroomError):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    code = "file_too_large"


class UnsupportedFormat(DarkroomError):
    status_code = status.HTTP_415_UNSUPPORTED_MEDIA_TYPE
    code = "unsupported_format"


class UnprocessableImage(DarkroomError):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    code = "corrupt_image"


def error_payload(message: str, code: str, param: str | None = None) -> dict[str, str]:
    body = {"error": message, "code": code}
    if param:
        body["param"] = param
    return body


def error_response(
    message: str, code: str, status_code: int, param: str | None = None, *, retry_after: int | None = None
) -> JsonResponse:
    """A plain Django JSON error, for views outside DRF; never cached for long."""
    response = JsonResponse(error_payload(message, code, param), status=status_code)
    response["Cache-Control"] = "no-store"
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


def _first_validation_error(detail: Any, param: str | None = None) -> tuple[str, str, str | None]:
    """Walk a DRF ValidationError detail down to its first leaf: (message, code, field)."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            field = None if key == "non_field_errors" else str(key)
            return _first_validation_error(value, field or param)
    if isinstance(detail, list) and detail:
        return _first_validation_error(detail[0], param)
    message = str(detail)
    code = getattr(detail, "code", None) or "invalid"
    if param and not message.lower().startswith(param.lower()):
        message = f"{param}: {message}"
    return message, str(code), param


_DRF_CODES = {
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


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER: every refusal becomes {"error", "code", "param"} with its status."""
    if isinstance(exc, DarkroomError):
        return Response(exc.payload(), status=exc.status_code, headers={"Cache-Control": "no-store"})
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        message, code, param = _first_validation_error(exc.detail)
        response.data = error_payload(message, code, param)
    elif isinstance(exc, exceptions.APIException):
        code = next((c for cls, c in _DRF_CODES.items() if isinstance(exc, cls)), exc.default_code)
        detail: Any = exc.detail
        if isinstance(detail, dict) and "detail" in detail:  # simplejwt's token errors nest their sentence and code
            code, detail = str(detail.get("code", code)), detail["detail"]
        message = str(detail)
        wait = getattr(exc, "wait", None)
        if isinstance(exc, exceptions.Throttled) and wait is not None:
            message = f"Too many requests; try again in {int(wait) + 1} seconds."
        response.data = error_payload(message, str(code))
    response["Cache-Control"] = "no-store"
    return response


def json_404(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return error_response(f"Nothing is at {request.path}.", "not_found", 404)


def json_500(request: HttpRequest) -> JsonResponse:
    logger.error("unhandled server error for %s", request.path)
    return error_response("The server failed; the error was logged.", "server_error", 500)


def json_400(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    """Django's answer to a SuspiciousOperation; a body over the non-file limit is a 413, not a 400."""
    if isinstance(exception, RequestDataTooBig | TooManyFieldsSent | TooManyFilesSent):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return error_response(
            f"The request body is too large or has too many fields (non-file data is limited to {limit:,} bytes).",
            "body_too_large",
            413,
        )
    return error_response("The request was malformed.", "bad_request", 400)


def json_403(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return error_response("You may not do this.", "permission_denied", 403)
