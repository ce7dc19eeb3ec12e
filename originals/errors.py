"""The refusals of an upload: too large, not an accepted format, or an accepted format that cannot be used."""

from rest_framework import status

from server.errors import DarkroomError


class UploadTooLarge(DarkroomError):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    code = "file_too_large"


class UnsupportedFormat(DarkroomError):
    status_code = status.HTTP_415_UNSUPPORTED_MEDIA_TYPE
    code = "unsupported_format"


class UnprocessableImage(DarkroomError):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    code = "corrupt_image"


# Every script and style is a static file of this host; pictures may also be data:/blob: previews of a drop.
