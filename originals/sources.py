"""What a POST to /api/v1/originals/ asks to store: the file of a multipart upload (field `file`), or the address of
an image to import (field `url`, in a form or a JSON object), never both."""

from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest
from django.utils.datastructures import MultiValueDict
from rest_framework.request import Request

from server.errors import DarkroomError

MISSING = "Send the image as multipart/form-data in a field named 'file', with a filename."


def the_upload(files: MultiValueDict[str, UploadedFile], missing: str) -> UploadedFile:
    """The one file of an upload, from the field `file` (LimitedUploadHandler has refused a second one already)."""
    upload = files.get("file")
    if upload is None:
        elsewhere = next(iter(files), None)
        if elsewhere is not None:
            missing = f"Send the image in the field named 'file', not {elsewhere[:40]!r}."
        raise DarkroomError(missing, code="missing_file", param="file")
    return upload


def _checked_url(value: Any) -> str:
    if not isinstance(value, str):
        raise DarkroomError(
            "url must be a string: the image's address, e.g. https://images.example.com/photo.jpg.",
            code="invalid_parameter",
            param="url",
        )
    if not value:
        raise DarkroomError(
            "url is empty; give the image's http or https address.", code="empty_parameter", param="url"
        )
    return value


def _json_url(data: Any) -> str:
    """A JSON body is {"url": "…"} and nothing else."""
    if not isinstance(data, dict):
        raise DarkroomError(
            'The body must be a JSON object, e.g. {"url": "https://images.example.com/photo.jpg"}.',
            code="malformed_request",
        )
    for name in data:
        if name == "file":
            raise DarkroomError(
                "A file is sent as multipart/form-data (field 'file'); a JSON body carries only url.",
                code="invalid_parameter",
                param="file",
            )
        if name != "url":
            raise DarkroomError(
                f"{str(name)[:40]!r} is not a field; a JSON body carries only url.",
                code="unknown_parameter",
                param=name,
            )
    if "url" not in data:
        raise DarkroomError(
            'Give the image\'s address as {"url": "https://…"}, or send the file as multipart/form-data.',
            code="missing_parameter",
            param="url",
        )
    return _checked_url(data["url"])


def form_url(request: HttpRequest | Request) -> str | None:
    """The form's `url` field, once, as text and without a file beside it; None when the form has none (the API's
    multipart or urlencoded form, and the upload page's)."""
    if "url" in request.FILES:
        raise DarkroomError(
            "url is the image's address as text; send a file in the field 'file'.",
            code="invalid_parameter",
            param="url",
        )
    values = request.POST.getlist("url")
    if len(values) > 1:
        raise DarkroomError(
            "url is given more than once; import one image a request.", code="repeated_parameter", param="url"
        )
    if values and "file" in request.FILES:
        raise DarkroomError(
            "Send either a file (field 'file') or an image's address (field 'url'), not both.",
            code="conflicting_parameter",
            param="url",
        )
    return _checked_url(values[0]) if values else None


def requested_source(request: Request) -> UploadedFile | str:
    """The upload's file, or the URL to import: from a JSON object, or a form's field `url` beside no file."""
    if not isinstance(request.data, MultiValueDict):  # a JSON body (a form's is a QueryDict, even when empty)
        return _json_url(request.data)
    url = form_url(request)
    return url if url is not None else the_upload(request.FILES, MISSING)
