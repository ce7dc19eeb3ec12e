"""What a page paints while a picture loads: its BlurHash and dominant colour, from a small copy (pure Pillow).

Never a full-size conversion for this, and no full decode of its own where the decoder can do less: a JPEG is
decoded at 1/2 to 1/8 of its size by DCT scaling (Pillow's draft); at upload the frame inspection has decoded
already is used. The decoded frame is sampled to at most SAMPLE_SIDE a side, converted, then shrunk with
averaging to SIDE: the first frame of an animation, upright (EXIF orientation), in sRGB, and flattened on white
when it has transparency (as a JPEG variant of it is), so the placeholder looks like what a browser shows.
"""

from __future__ import annotations

import functools
import io
import struct
from dataclasses import dataclass
from typing import IO

import blurhash
from PIL import Image, ImageCms

from transforms.decoders import ALLOWED_DECODERS, exif_orientation

SIDE = 32  # the longest side of what is hashed: BlurHash keeps a few cosines a side, 32 px hold them all
# The decoded frame is sampled to this before anything is converted: 256 samples are averaged into each pixel. On a
# 24 MP photo of fine noise the result was within 1/255 of an exact Lanczos shrink (4/255 when sampled to 256 px).
SAMPLE_SIDE = 16 * SIDE
# A JPEG's DCT scaling averages exactly, so its decode need only keep this much: a 24 MP photo decodes at 1/8.
DRAFT_SIDE = 8 * SIDE
BACKGROUND = (255, 255, 255)  # transparency is flattened on white, as JPEG variants are (README, Variants)
# The transpose that makes a picture with this EXIF orientation upright (as ImageOps.exif_transpose).
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


# What Pillow raises on bytes it cannot decode (as the renderer's pipeline lists them).
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError, struct.error)


class PlaceholderError(Exception):
    """The bytes cannot be decoded into a placeholder: not an accepted format, corrupt, truncated or too large."""


@dataclass(frozen=True)
class Placeholder:
    blurhash: str  # https://blurha.sh: 4x3 components (3x4 for a portrait, 4x4 for a square)
    color: str  # the dominant colour, "#rrggbb"


def placeholder_of(fp: IO[bytes]) -> Placeholder:
    """The placeholder of the picture in `fp`, decoded as small as its format allows (a stored original's: at
    upload, inspection hands over the frame it decoded); PlaceholderError when it cannot be decoded."""
    try:
        fp.seek(0)
        with Image.open(fp, formats=ALLOWED_DECODERS) as image:
            orientation = exif_orientation(image)  # from the header, before the decode
            return placeholder_from(small_upright(decode_small(image), orientation))
    except (*_DECODE_ERRORS, Image.DecompressionBombError) as exc:
        raise PlaceholderError(f"cannot decode the picture: {exc or type(exc).__name__}") from exc


def decode_small(image: Image.Image) -> Image.Image:
    """The opened picture's first frame, decoded at the smallest size its decoder offers that keeps DRAFT_SIDE a
    side: a JPEG at 1/2, 1/4 or 1/8 (a 6000x4000 photo at 750x500); other formats at full size."""
    image.draft(None, (DRAFT_SIDE, DRAFT_SIDE))  # a no-op for other formats, and for a frame decoded already
    image.load()
    return image


def small_upright(image: Image.Image, orientation: int = 1) -> Image.Image:
    """A decoded frame at most SIDE a side, upright for its EXIF `orientation`, in sRGB, RGB on white. Only a
    sample of at most SAMPLE_SIDE a side is ever converted: never a copy of a large frame."""
    profile = image.info.get("icc_profile")
    sample = image.resize(_fitted(image.size, SAMPLE_SIDE), Image.Resampling.NEAREST)
    small = _averageable(sample)
    small.thumbnail((SIDE, SIDE))
    small = _on_white(_to_srgb(small, profile))
    transpose = _UPRIGHT.get(orientation)
    return small if transpose is None else small.transpose(transpose)


def _fitted(size: tuple[int, int], side: int) -> tuple[int, int]:
    width, height = size
    scale = min(1.0, side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _averageable(image: Image.Image) -> Image.Image:
    """The sample in a mode resampling averages: 16-bit scaled to 8 (convert("L") would clip), palette and
    bilevel expanded, transparency kept as alpha."""
    if image.mode.startswith("I;16") or image.mode in ("I", "F"):
        return image.convert("I").point(lambda v: v * (1 / 257) + 0.5).convert("L")
    if image.mode in ("RGB", "RGBA", "L", "LA", "CMYK"):
        return image
    if image.has_transparency_data:
        return image.convert("LA" if image.mode in ("L", "La") else "RGBA")
    return image.convert("L" if image.mode == "1" else "RGB")


@functools.lru_cache(maxsize=8)
def _transform(profile: bytes, in_mode: str, out_mode: str) -> ImageCms.ImageCmsTransform:
    source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
    srgb = ImageCms.createProfile("sRGB")
    # NOCACHE: transforms built with lcms' one-pixel cache are not safe to share between threads
    return ImageCms.buildTransform(source, srgb, in_mode, out_mode, flags=ImageCms.Flags.NOCACHE)


def _to_srgb(image: Image.Image, profile: bytes | None) -> Image.Image:
    """CMYK and ICC-tagged RGB in sRGB's colours, as variants have them; a broken profile counts as none."""
    if profile and image.mode in ("RGB", "RGBA", "CMYK"):
        try:
            return _transform(profile, image.mode, "RGB" if image.mode == "CMYK" else image.mode).apply(image)
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass
    return image


def _on_white(image: Image.Image) -> Image.Image:
    if "A" not in image.mode:
        return image.convert("RGB")
    rgba = image.convert("RGBA")
    return Image.alpha_composite(Image.new("RGBA", rgba.size, (*BACKGROUND, 255)), rgba).convert("RGB")


def components(size: tuple[int, int]) -> tuple[int, int]:
    """BlurHash's cosines across and down: 4 along the longer side, 3 along the shorter, 4x4 for a square."""
    width, height = size
    return (4 if width >= height else 3), (4 if height >= width else 3)


def placeholder_from(small: Image.Image) -> Placeholder:
    """The BlurHash and dominant colour of a small upright RGB picture."""
    pixels = list(small.get_flattened_data())
    width, height = small.size
    rows = [pixels[y * width : (y + 1) * width] for y in range(height)]
    return Placeholder(blurhash.encode(rows, *components(small.size)), dominant_color(small))


def dominant_color(small: Image.Image) -> str:
    """The most common of five median-cut colours: a photo's sky or wall, not the grey average of everything."""
    quantized = small.quantize(colors=5, method=Image.Quantize.MEDIANCUT)
    counts = quantized.histogram()  # pixels of each palette index
    index = max(range(len(counts)), key=counts.__getitem__)
    red, green, blue = (quantized.getpalette() or [])[index * 3 : index * 3 + 3]
    return f"#{red:02x}{green:02x}{blue:02x}"
