"""An upload handler that refuses a too-large body, or a second file, before or while it streams, never after
buffering it."""

from typing import Any

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler

from server.errors import DarkroomError

from .errors import UploadTooLarge

# Multipart framing (boundaries, part headers, a filename) costs a few hundred bytes beyond the file itself.
MULTIPART_OVERHEAD = 64 * 1024


def _too_large(size: int | None = None) -> UploadTooLarge:
    limit = settings.MAX_UPLOAD_BYTES
    got = f" ({size:,} bytes)" if size else ""
    return UploadTooLarge(f"The file is too large{got}; the limit is {limit:,} bytes.", param="file")


def _too_many_files() -> DarkroomError:
    return DarkroomError(
        "Send one image per request, in the field 'file'; this request carries more than one file. Upload each "
        "in a request of its own.",
        code="too_many_files",
        param="file",
    )


class LimitedUploadHandler(FileUploadHandler):
    """First in FILE_UPLOAD_HANDLERS: checks Content-Length up front, counts bytes as they arrive, and refuses a
    second file when it starts: only one would be stored, and the others silently dropped."""

    files = 0

    def handle_raw_input(
        self, input_data: Any, META: Any, content_length: int, boundary: Any, encoding: Any = None
    ) -> None:
        if content_length and content_length > settings.MAX_UPLOAD_BYTES + MULTIPART_OVERHEAD:
            raise _too_large(content_length)

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.files += 1
        if self.files > 1:
            raise _too_many_files()
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > settings.MAX_UPLOAD_BYTES:
            raise _too_large()
        return raw_data  # the next handler (memory, then temporary file) keeps the bytes

    def file_complete(self, file_size: int) -> None:
        return None
