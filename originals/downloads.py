"""The untouched file as HTTP serves a file: conditional (304), byte ranges (206, 416), and the uploaded name."""

import re
from pathlib import Path
from typing import IO

from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseBase
from django.utils.cache import get_conditional_response
from django.utils.http import http_date

from server.errors import error_response

from .inspection import EXTENSIONS
from .models import Original

IMMUTABLE = "public, max-age=31536000, immutable"
PRIVATE = "private, no-cache"  # only its owner and staff get it: no shared cache may hand it to anyone else
FILE_CSP = "default-src 'none'; sandbox"
# Other spellings of a format's extension that name the same type, so `photo.jpeg` keeps its name.
_SAME_TYPE = {"jpg": {"jpeg", "jpe", "jfif"}, "tif": {"tiff"}, "heic": {"heif"}}
# RFC 9110 §14.1.2: one range of bytes. Several ranges (a comma) or another unit are answered with the whole file,
# as the RFC allows.
_ONE_RANGE = re.compile(r"bytes=([0-9]*)-([0-9]*)", re.IGNORECASE)
_BEYOND_ANY_FILE = 2**63  # a position of more than 18 digits: past any file, without int() of thousands of digits


class RangeNotSatisfiable(Exception):
    """A well-formed single range that starts at or after the end of the file (or asks for its last 0 bytes)."""


def download_name(original: Original) -> str:
    """The uploaded name, with the extension of what the bytes are: a picture is never saved under another type
    (`notes.html` that is a JPEG downloads as `notes.html.jpg`). The name was cut to its last path segment and
    stripped of control characters at upload; Django's Content-Disposition quotes or RFC 5987-encodes it."""
    extension = EXTENSIONS.get(original.format, "bin")
    name = original.filename or original.id
    suffix = Path(name).suffix.lstrip(".").lower()
    if suffix != extension and suffix not in _SAME_TYPE.get(extension, set()):
        name = f"{name}.{extension}"
    return name


def requested_range(header: str, size: int) -> tuple[int, int] | None:
    """The first and last byte of the one range asked for, or None for the whole file (no Range, several ranges,
    another unit, or a malformed one, which RFC 9110 says to ignore). Raises RangeNotSatisfiable."""
    match = _ONE_RANGE.fullmatch(header.strip())
    if match is None or not (match[1] or match[2]):
        return None
    if not match[1]:  # a suffix: the last N bytes
        length = _position(match[2])
        if length == 0:
            raise RangeNotSatisfiable
        return max(0, size - length), size - 1
    first = _position(match[1])
    last = _position(match[2]) if match[2] else None
    if last is not None and last < first:
        return None  # invalid: ignored, the whole file is sent
    if first >= size:
        raise RangeNotSatisfiable
    return first, size - 1 if last is None else min(last, size - 1)


def _position(digits: str) -> int:
    return int(digits) if len(digits) <= 18 else _BEYOND_ANY_FILE


class FileSlice:
    """Bytes first..last of an open file, read in blocks: what FileResponse streams for a 206."""

    def __init__(self, file: IO[bytes], first: int, last: int) -> None:
        file.seek(first)
        self.file, self.left = file, last - first + 1

    def read(self, size: int = -1) -> bytes:
        data = self.file.read(self.left if size < 0 else min(size, self.left))
        self.left -= len(data)
        return data

    def close(self) -> None:
        self.file.close()


def file_response(
    request: HttpRequest, original: Original, file: IO[bytes], size: int, *, public: bool
) -> HttpResponseBase:
    """200 with the file, 206 with one range of it, 304 when the client has it, 412 or 416 when it must say no."""
    modified = int(original.created.timestamp())  # the bytes never change after the upload
    headers = {
        "ETag": f'"{original.sha256}"',
        "Last-Modified": http_date(modified),
        "Cache-Control": IMMUTABLE if public else PRIVATE,
        "Content-Security-Policy": FILE_CSP,
        "Accept-Ranges": "bytes",
    }
    answered = _preconditions(request, headers, modified)
    if answered is not None:
        file.close()
        return answered
    try:
        wanted = _range_of(request, (headers["ETag"], headers["Last-Modified"]), size)
    except RangeNotSatisfiable:
        file.close()
        return _unsatisfiable(request.headers["Range"], size)
    content = file if wanted is None else FileSlice(file, *wanted)
    response = FileResponse(content, content_type=original.mime_type, filename=download_name(original))
    for name, value in headers.items():
        response[name] = value
    if wanted is not None:
        response.status_code = 206
        response["Content-Range"] = f"bytes {wanted[0]}-{wanted[1]}/{size}"
        response["Content-Length"] = str(wanted[1] - wanted[0] + 1)
    return response


def _preconditions(request: HttpRequest, headers: dict[str, str], modified: int) -> HttpResponseBase | None:
    """Django's evaluation of If-Match, If-Unmodified-Since, If-None-Match and If-Modified-Since (RFC 9110
    §13.2.2): a 304 that keeps ETag and Cache-Control, a 412 in the house's JSON, or None to go on."""
    carrier = HttpResponse(headers=headers)
    answer = get_conditional_response(request, etag=headers["ETag"], last_modified=modified, response=carrier)
    if answer is None or answer is carrier:
        return None
    if answer.status_code == 412:
        message = f"The file does not meet the request's precondition; its ETag is {headers['ETag']}."
        return error_response(message, "precondition_failed", 412)
    return answer


def _unsatisfiable(header: str, size: int) -> HttpResponseBase:
    message = f"The range {header[:60]!r} is outside the file's {size:,} bytes."
    response = error_response(message, "range_not_satisfiable", 416, "Range")
    response["Content-Range"] = f"bytes */{size}"
    return response


def _range_of(request: HttpRequest, validators: tuple[str, ...], size: int) -> tuple[int, int] | None:
    header = request.headers.get("Range", "")
    if not header or request.method != "GET":  # RFC 9110 defines ranges for GET only
        return None
    if_range = request.headers.get("If-Range")
    if if_range is not None and if_range.strip() not in validators:  # the client's copy is another file
        return None
    return requested_range(header, size)
