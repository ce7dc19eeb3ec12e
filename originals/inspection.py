"""Decide what an upload is from its bytes alone, checking every limit before any full decode."""

import io
import logging
from dataclasses import dataclass
from typing import IO

from PIL import Image

from transforms.decoders import ALLOWED_DECODERS, exif_orientation

from .errors import UnprocessableImage, UnsupportedFormat
from .placeholders import Placeholder, placeholder_from, small_upright

logger = logging.getLogger(__name__)

# Pillow is told exactly which decoders it may try (the renderer's list); nothing else is ever identified.
ACCEPTED_FORMATS = ALLOWED_DECODERS
EXTENSIONS = {
    "JPEG": "jpg",
    "MPO": "jpg",
    "PNG": "png",
    "WEBP": "webp",
    "GIF": "gif",
    "AVIF": "avif",
    "TIFF": "tif",
    "BMP": "bmp",
    "ICO": "ico",
    "HEIF": "heic",
}
_ALPHA_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}
_SWAPPING_ORIENTATIONS = {5, 6, 7, 8}


@dataclass(frozen=True)
class Limits:
    max_pixels: int
    max_frames: int
    max_total_pixels: int


@dataclass(frozen=True)
class ImageFacts:
    format: str
    mime_type: str
    width: int  # as displayed, after EXIF orientation
    height: int
    frames: int
    has_alpha: bool
    placeholder: Placeholder | None = None  # None only when it could not be made (logged); never a refusal

    @property
    def extension(self) -> str:
        return EXTENSIONS.get(self.format, "bin")


def _looks_like_accepted_format(head: bytes) -> bool:
    """True when an accepted decoder claims the magic bytes, so a failure to open means corrupt, not foreign."""
    Image.init()
    for name in ACCEPTED_FORMATS:
        accept = Image.OPEN.get(name, (None, None))[1]
        try:
            if accept is not None and accept(head):
                return True
        except Exception:  # noqa: BLE001 - a plugin's sniffing quirk must not decide the answer
            continue
    return False


def _open(fp: IO[bytes]) -> Image.Image:
    head = fp.read(64)
    fp.seek(0)
    try:
        return Image.open(fp, formats=ACCEPTED_FORMATS)
    except Image.DecompressionBombError as exc:
        raise UnprocessableImage(f"The image has too many pixels: {exc}", code="too_many_pixels") from exc
    except Image.UnidentifiedImageError as exc:
        if head and _looks_like_accepted_format(head):
            raise UnprocessableImage("The file looks like an image but its header is corrupt.") from exc
        raise UnsupportedFormat(
            f"This is not an accepted image format. Accepted: {', '.join(ACCEPTED_FORMATS)}.",
            code="unsupported_format",
        ) from exc
    except Exception as exc:
        raise UnprocessableImage("The image header could not be read; the file is corrupt.") from exc


def _check_limits(image: Image.Image, frames: int, limits: Limits) -> None:
    width, height = image.size
    if width < 1 or height < 1:
        raise UnprocessableImage("The image declares an empty size.", code="corrupt_image")
    if width * height > limits.max_pixels:
        raise UnprocessableImage(
            f"The image is {width}x{height} = {width * height:,} pixels; the limit is {limits.max_pixels:,}.",
            code="too_many_pixels",
        )
    if frames > limits.max_frames:
        raise UnprocessableImage(
            f"The image has {frames} frames; the limit is {limits.max_frames}.", code="too_many_frames"
        )
    if width * height * frames > limits.max_total_pixels:
        raise UnprocessableImage(
            f"The image has {width * height * frames:,} pixels over all frames; "
            f"the limit is {limits.max_total_pixels:,}.",
            code="too_many_pixels",
        )


def _frame_count(image: Image.Image) -> int:
    try:
        return max(1, int(getattr(image, "n_frames", 1)))
    except Exception as exc:
        raise UnprocessableImage("The image's frames could not be counted; the file is corrupt.") from exc


def _decode_first_frame(image: Image.Image) -> None:
    try:
        image.load()
    except Image.DecompressionBombError as exc:
        raise UnprocessableImage(f"The image has too many pixels: {exc}", code="too_many_pixels") from exc
    except Exception as exc:
        raise UnprocessableImage(f"The image data is corrupt or truncated ({exc}).") from exc


def _verify_checksums(fp: IO[bytes], fmt: str) -> None:
    """PNG chunks carry CRCs that Pillow's decoder skips; browsers do not, so a bad one is refused here."""
    if fmt != "PNG":
        return
    fp.seek(0)
    try:
        with Image.open(fp, formats=["PNG"]) as fresh:
            fresh.verify()
    except Exception as exc:
        raise UnprocessableImage(f"The PNG is corrupt ({exc}).") from exc


def _placeholder(image: Image.Image, orientation: int) -> Placeholder | None:
    """The placeholder, from the frame just decoded (a few milliseconds: no second decode). A picture that passed
    every check is never refused for it: None, logged, and `backfill_placeholders` can try again."""
    try:
        return placeholder_from(small_upright(image, orientation))
    except Exception:  # decoration: never a reason to lose an upload
        logger.warning("no placeholder for a %s %sx%s upload", image.format, *image.size, exc_info=True)
        return None


def inspect_image(fp: IO[bytes], limits: Limits) -> ImageFacts:
    """Identify an upload from its bytes; refuse foreign formats (415) and corrupt or oversized ones (422).
    Its placeholder (BlurHash and dominant colour) is made from the first frame decoded for the check."""
    with _open(fp) as image:
        frames = _frame_count(image)
        _check_limits(image, frames, limits)
        orientation = exif_orientation(image)
        _decode_first_frame(image)
        placeholder = _placeholder(image, orientation)
        width, height = image.size
        if orientation in _SWAPPING_ORIENTATIONS:
            width, height = height, width
        # A camera's multi-picture JPEG (MPO) is a JPEG to every browser; record it as one.
        fmt = "JPEG" if image.format == "MPO" else image.format or "UNKNOWN"
        has_alpha = image.mode in _ALPHA_MODES or "transparency" in image.info
        mime = Image.MIME.get(fmt, "application/octet-stream")
    _verify_checksums(fp, fmt)
    return ImageFacts(fmt, mime, width, height, frames, has_alpha, placeholder)


def inspect_bytes(data: bytes, limits: Limits) -> ImageFacts:
    return inspect_image(io.BytesIO(data), limits)


def accepted_mime_types() -> tuple[str, ...]:
    """The MIME types of the accepted formats, for an upload form's `accept` and the limits shown to people."""
    Image.init()  # registers every plugin's MIME type, not only the common ones
    return tuple(dict.fromkeys(Image.MIME[name] for name in ACCEPTED_FORMATS if name in Image.MIME))


def accepted_extensions() -> tuple[str, ...]:
    """File name extensions of the accepted formats: browsers leave `File.type` empty for some of them."""
    Image.init()
    return tuple(sorted(ext for ext, name in Image.registered_extensions().items() if name in ACCEPTED_FORMATS))
