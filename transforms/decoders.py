"""What may be decoded, and how a picture says which way is up: shared by the upload check and the renderer."""

import warnings

from PIL import Image

try:  # HEIC/HEIF is decoded only where pillow-heif is installed.
    import pillow_heif

    pillow_heif.register_heif_opener()
    _HEIF: tuple[str, ...] = ("HEIF",)
except ImportError:  # pragma: no cover - depends on the installation
    _HEIF = ()

# The one allow-list of decoders: the upload validator and the renderer both pass it to Image.open.
ALLOWED_DECODERS: tuple[str, ...] = ("JPEG", "PNG", "WEBP", "GIF", "AVIF", "TIFF", "BMP", "ICO", *_HEIF)

# A broken EXIF block only loses the orientation, never the picture (exif_orientation); Pillow's warning
# about it would say so again on stderr for every such upload.
warnings.filterwarnings("ignore", message="Corrupt EXIF data", category=UserWarning, module="PIL.TiffImagePlugin")


def exif_orientation(image: Image.Image) -> int:
    """The EXIF orientation (1-8) of an opened image; 1 when it has none or its EXIF block is broken."""
    try:
        value = image.getexif().get(0x0112, 1)
    except Exception:  # noqa: BLE001 - whatever a broken EXIF block raises, the picture is still good
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1
