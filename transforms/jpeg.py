"""JPEG decoding at any DCT scale M/8: Pillow's draft for 1/8, 1/4, 1/2 and 1, libjpeg-turbo (simplejpeg) between.

Pillow's `draft()` offers only the power-of-two scales. libjpeg-turbo can decode at every M/8, and its 3/8, 5/8 and
6/8 are better reducers than its 1/2 as well (they keep the lowest M x M coefficients of each block, where 1/2 samples
the full block's curve and aliases; README, "Cold renders"), so they let the quality guard decode smaller. Pillow
stays the decoder of everything else: CMYK and YCCK (Adobe's inverted ink, ICC), and any stream libjpeg-turbo finds
fault with in strict mode, so a broken file gets the answer it had before. Both read the header Pillow has already
checked against the decompression-bomb limit; libjpeg-turbo's own reading of it must agree before it decodes.
"""

from __future__ import annotations

import math
from types import ModuleType

from PIL import Image, JpegImagePlugin

from transforms.geometry import Plan

EIGHTHS = (1, 2, 3, 4, 5, 6, 7, 8)  # libjpeg-turbo's scales up to the full decode, in eighths of each side
DRAFT_EIGHTHS = (1, 2, 4, 8)  # Pillow's: draft() at 1/8, 1/4, 1/2, or the full decode
# Per output format and DCT scale, in eighths: how many times the target's size (each side) the reduced decode must keep
# for the Lanczos resize to finish from; a scale not listed is not used, and the first listed scale that keeps its gap
# is, else the full decode. Measured on the encoded variant against the full-quality render encoded alike (`python -m
# bench.anchor`; README, "Cold renders"), the guard being 0.003 SSIM, on two photographs: W2's 4000x3000 and the
# 2000x1500 of transforms/tests/test_quality_guard.py, whose finer detail loses more. libjpeg-turbo's 1/8, 1/4 and 1/2
# average each block's full-size pixels in twos, fours or eights: 1/8 and 1/4 lose at most 0.0019 (JPEG) and 0.0017
# (WebP) even just at the target, but 1/2 loses more as it nears it, JPEG 0.0021 at 1.5x, 0.0033 at 1.3x, 0.0078 at 1x;
# WebP (whose encoder smooths more) 0.0012 at 1.1x, 0.0039 at 1x. Its 3/8, 5/8 and 6/8 keep each block's lowest
# frequencies instead, and lose less near the target: 3/8 at most 0.0023 (JPEG) and 0.0006 (WebP) at any gap; 5/8 0.0018
# at 1.3x, 0.0022-0.0026 at 1.2-1.25x, 0.0032 at 1.1x (JPEG), WebP 0.0007 at 1.2x, 0.0016-0.0036 at 1.05x; 6/8 0.0019 at
# 1.3x, 0.0025 at 1.2x, 0.0045 at 1.05x (JPEG), WebP 0.0023 at 1.3x, 0.0030 at 1.2x. 7/8 costs more than the full decode
# (it has no SIMD: 3.1 G instructions to 3.0 for a 1700-px render). Lossless outputs show every lost detail (PNG loses
# 0.006-0.03 with the lossy gaps): they keep twice the target at 1/8, 1/4 and 1/2, as before; AVIF, not measured, keeps
# JPEG's gaps.
DRAFT_GAPS: dict[str, dict[int, float]] = {
    "jpeg": {1: 1.0, 2: 1.0, 3: 1.0, 4: 1.5, 5: 1.3, 6: 1.3},
    "webp": {1: 1.0, 2: 1.0, 3: 1.0, 4: 1.1, 5: 1.2, 6: 1.3},
    "avif": {1: 1.0, 2: 1.0, 3: 1.0, 4: 1.5, 5: 1.3, 6: 1.3},
}
LOSSLESS_DRAFT_GAPS: dict[int, float] = {1: 2.0, 2: 2.0, 4: 2.0}
# Pillow's mode for the colour spaces libjpeg-turbo decodes to the same pixels; CMYK and YCCK stay with Pillow.
_TURBO_MODES = {"RGB": ("RGB", ("YCbCr", "RGB")), "L": ("GRAY", ("Gray",))}


def turbo() -> ModuleType:
    """simplejpeg, imported on first use: it brings numpy, about 7 MB more in every process that imports it, and the
    web workers, which import this module but never decode, need neither (render_child imports it at its start)."""
    import simplejpeg

    return simplejpeg


def scaled_size(size: tuple[int, int], eighths: int) -> tuple[int, int]:
    """A side decoded at eighths/8, as libjpeg rounds it (up)."""
    return math.ceil(size[0] * eighths / 8), math.ceil(size[1] * eighths / 8)


def draft_eighths(plan: Plan, out_format: str, offered: tuple[int, ...] = EIGHTHS) -> int:
    """The smallest JPEG DCT scale, in eighths of each side (8: the full decode), of those `offered` that DRAFT_GAPS
    allow for this plan's resize."""
    gaps = DRAFT_GAPS.get(out_format, LOSSLESS_DRAFT_GAPS)
    for eighths in offered:
        need = plan.draft_size(gaps[eighths]) if eighths in gaps else None
        if need is None:
            continue
        width, height = scaled_size(plan.source, eighths)
        if width >= need[0] and height >= need[1]:
            return eighths
    return 8


def decode(source: bytes, image: JpegImagePlugin.JpegImageFile, plan: Plan, out_format: str) -> tuple[Image.Image, int]:
    """The JPEG at the smallest DCT scale the guard allows, and that scale in eighths: libjpeg-turbo's M/8 where
    Pillow's draft lacks it, and Pillow's nearest scale instead where libjpeg-turbo will not read the stream (so that
    it answers as it did). Pillow's picture is still to be loaded."""
    eighths = draft_eighths(plan, out_format, offered(image))
    if eighths not in DRAFT_EIGHTHS:
        decoded = decode_scaled(source, image, eighths)
        if decoded is not None:
            return decoded, eighths
        eighths = draft_eighths(plan, out_format, DRAFT_EIGHTHS)
    return draft(image, eighths), eighths


def offered(image: JpegImagePlugin.JpegImageFile) -> tuple[int, ...]:
    """The scales this JPEG can be decoded at, in eighths: every M/8 where libjpeg-turbo reads its colour space."""
    return EIGHTHS if image.mode in _TURBO_MODES else DRAFT_EIGHTHS


def draft(image: JpegImagePlugin.JpegImageFile, eighths: int) -> Image.Image:
    """`image` set to decode by Pillow at one of DRAFT_EIGHTHS (draft() picks it from the floor of each side over
    the scale, and decodes the ceiling)."""
    if eighths < 8:
        width, height = image.size
        scale = 8 // eighths
        image.draft(None, (max(1, width // scale), max(1, height // scale)))
    return image


def decode_scaled(source: bytes, image: JpegImagePlugin.JpegImageFile, eighths: int) -> Image.Image | None:
    """`image` (opened from `source`, not yet loaded) decoded by libjpeg-turbo at eighths/8 of each side, carrying its
    `info` (the ICC profile); None when it will not read the stream, or reads its header otherwise than Pillow did."""
    colorspace, spaces = _TURBO_MODES[image.mode]
    width, height = scaled_size(image.size, eighths)
    simplejpeg = turbo()
    try:
        header_height, header_width, space, _ = simplejpeg.decode_jpeg_header(source)
        if (header_width, header_height) != image.size or space not in spaces:
            return None
        pixels = simplejpeg.decode_jpeg(source, colorspace=colorspace, min_width=width, min_height=height)
    except ValueError:  # strict: a corrupt or truncated stream, or a warning libjpeg would have let pass
        return None
    if pixels.shape[:2] != (height, width):
        return None
    decoded = Image.fromarray(pixels.reshape(height, width) if colorspace == "GRAY" else pixels)
    decoded.info = dict(image.info)
    return decoded
