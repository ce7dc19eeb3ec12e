"""Request bodies sent with `Transfer-Encoding: chunked`, read before Django sees them.

Django reads a request's body as CONTENT_LENGTH bytes of wsgi.input, and a chunked request has no Content-Length:
both servers hand Django the de-chunked stream without one, and Django read an upload sent so (curl's
`-H 'Transfer-Encoding: chunked'`, a streaming client) as empty, answering "send the image as multipart/form-data".
Here such a body is read whole, to at most one byte past the largest body the service takes, into a spooled
temporary file (memory up to FILE_UPLOAD_MAX_MEMORY_SIZE, then disk), and handed on with the length it turned out to
have. A body past the limit is handed on with that prefix's length, which Django's own checks refuse from the length
alone (413 `file_too_large` for an upload, `body_too_large` for other bodies), as they refuse a Content-Length over it.
"""

import tempfile
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings

CHUNK = 64 * 1024
MULTIPART_OVERHEAD = 64 * 1024  # boundaries and part headers beyond the file (originals/uploads.py allows as much)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def body_limit() -> int:
    """The largest body any URL takes: an upload with its multipart framing, or a non-file body."""
    return max(settings.MAX_UPLOAD_BYTES + MULTIPART_OVERHEAD, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)


class ChunkedBodies:
    """WSGI middleware: gives a chunked request body the Content-Length Django needs to read it."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        coding = environ.get("HTTP_TRANSFER_ENCODING", "")
        if not coding or environ.get("CONTENT_LENGTH") or "chunked" not in coding.lower():
            return self.app(environ, start_response)
        body = tempfile.SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE)  # noqa: SIM115
        try:
            stream, limit, size = environ["wsgi.input"], body_limit(), 0
            while size <= limit and (chunk := stream.read(min(CHUNK, limit + 1 - size))):
                body.write(chunk)
                size += len(chunk)
            body.seek(0)
            environ["wsgi.input"], environ["CONTENT_LENGTH"] = body, str(size)
            return self.app(environ, start_response)  # Django has read what it reads of the body by now
        finally:
            body.close()
