"""The quality guard of draft decoding (issue 15): a variant loses at most 0.003 SSIM against the full-quality render
(full decode, upright, one Lanczos resize) encoded with the same settings. Quality is deterministic: no timings."""

from __future__ import annotations

import io

import numpy as np
import pytest
import simplejpeg
from PIL import Image, ImageOps
from skimage.metrics import structural_similarity

from transforms.jpeg import draft_eighths
from transforms.operations import plan_for
from transforms.pipeline import ENCODERS, render
from transforms.spec import DEFAULT_QUALITY, VariantSpec
from transforms.tests import images

MAX_SSIM_LOSS = 0.003
STORED = (2000, 1500)  # EXIF 6: 1500x2000 upright


@pytest.fixture(scope="module")
def source() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6
    return images.encode(images.photo(STORED), "JPEG", quality=90, exif=exif.tobytes())


def ssim(a: Image.Image, b: Image.Image) -> float:
    x, y = np.asarray(a.convert("L")), np.asarray(b.convert("L"))
    return float(
        structural_similarity(x, y, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255)
    )


def encoded(image: Image.Image, fmt: str) -> Image.Image:
    buf = io.BytesIO()
    ENCODERS[fmt].save(image, buf, DEFAULT_QUALITY[fmt])
    return Image.open(io.BytesIO(buf.getvalue()))


def full_quality(source: bytes, width: int) -> Image.Image:
    upright = ImageOps.exif_transpose(Image.open(io.BytesIO(source))).convert("RGB")
    return upright.resize((width, round(upright.height * width / upright.width)), Image.Resampling.LANCZOS)


def loss(source: bytes, width: int, fmt: str, variant: bytes) -> float:
    reference = full_quality(source, width)
    return ssim(encoded(reference, fmt), reference) - ssim(Image.open(io.BytesIO(variant)), reference)


# Every scale DRAFT_GAPS uses, at a width inside its range and at the edge of it, where the decode is closest to the
# output (the loss the guard allows is largest there). 1500 px upright: 1/8 is 188 px wide, 1/4 375, 3/8 563, 1/2 750,
# 5/8 938, 6/8 1125. JPEG: 3/8 up to 562 (so 1/2, which needs 1.5x, is never the smallest here), 5/8 at 1.3x up to
# 721, 6/8 at 1.3x up to 865, then the full decode; WebP: 1/2 at 1.1x up to 681. A regression to the full decode in
# that band, or to a scale nearer the output than its gap, fails the scale or the loss.
@pytest.mark.parametrize(
    ("fmt", "width", "eighths"),
    [
        *[("jpeg", width, eighths) for width, eighths in [(150, 1), (300, 2), (450, 3), (562, 3), (700, 5), (721, 5)]],
        *[("jpeg", width, eighths) for width, eighths in [(722, 6), (865, 6), (866, 8), (1000, 8)]],
        *[("webp", width, eighths) for width, eighths in [(150, 1), (300, 2), (562, 3), (600, 4), (681, 4), (781, 5)]],
        *[("webp", width, eighths) for width, eighths in [(865, 6), (866, 8)]],
    ],
)
def test_the_draft_loses_at_most_the_guard(source: bytes, fmt: str, width: int, eighths: int) -> None:
    spec = VariantSpec(w=width, fmt=fmt)
    assert draft_eighths(plan_for(STORED, 6, spec, alpha=False), fmt) == eighths
    assert loss(source, width, fmt, render(source, spec, fmt).data) <= MAX_SSIM_LOSS


def test_lossless_outputs_keep_twice_the_target() -> None:
    """PNG shows every detail a draft loses: a 400x300 output decodes at 1/2 (1000x750), not 1/4 (500x375), and
    never at the scales between."""
    assert draft_eighths(plan_for(STORED, 6, VariantSpec(w=300, fmt="png"), alpha=True), "png") == 4
    assert draft_eighths(plan_for(STORED, 6, VariantSpec(w=500, fmt="png"), alpha=True), "png") == 8


@pytest.mark.parametrize(("eighths", "width"), [(5, 893), (6, 1071)])
def test_the_guard_refuses_an_eighths_scale_too_close_to_the_output(source: bytes, eighths: int, width: int) -> None:
    """What the gaps of 5/8 and 6/8 are for: decoded at 1.05x the output, this picture loses more than the guard."""
    image = Image.open(io.BytesIO(source))
    decoded = Image.fromarray(simplejpeg.decode_jpeg(source, min_width=STORED[0] * eighths // 8))
    assert decoded.width == STORED[0] * eighths // 8
    height = round(STORED[0] * width / STORED[1])
    box = (0, 0, STORED[0] * eighths / 8, STORED[1] * eighths / 8)
    near = decoded.resize((height, width), Image.Resampling.LANCZOS, box=box).transpose(Image.Transpose.ROTATE_270)
    buf = io.BytesIO()
    ENCODERS["jpeg"].save(near, buf, DEFAULT_QUALITY["jpeg"])
    assert loss(source, width, "jpeg", buf.getvalue()) > MAX_SSIM_LOSS
    image.close()


def test_the_guard_refuses_a_draft_too_close_to_the_output(source: bytes) -> None:
    """What the full decode at w=700 is for: decoding at 1/2 (1000x750 for a 933x700 output) and one Lanczos
    resize, as the in-process anchor does, loses more than the guard allows on this picture."""
    image = Image.open(io.BytesIO(source))
    image.draft(None, (933, 700))
    assert image.size == (1000, 750)
    aggressive = image.resize((933, 700), Image.Resampling.LANCZOS).transpose(Image.Transpose.ROTATE_270)
    buf = io.BytesIO()
    ENCODERS["jpeg"].save(aggressive, buf, DEFAULT_QUALITY["jpeg"])
    assert loss(source, 700, "jpeg", buf.getvalue()) > MAX_SSIM_LOSS


def test_a_reduced_decode_is_read_at_its_exact_scale() -> None:
    """libjpeg rounds a scaled side up: 1/4 of a 1601x1201 picture is 400.25x300.25 px of it in 401x301, the rest
    edge padding. The resize reads the picture's part alone; read whole, the variant was shifted and stretched by
    most of a pixel (SSIM 0.989 against the full-quality render; 0.996 read exactly)."""
    source = images.encode(images.photo((1601, 1201)), "JPEG", quality=90)
    plan = plan_for((1601, 1201), 1, VariantSpec(w=200, fmt="png"), alpha=True)
    assert draft_eighths(plan, "png") == 2
    assert plan.with_source((401, 301), 1 / 4).box == (0, 0, 400.25, 300.25)
    variant = Image.open(io.BytesIO(render(source, VariantSpec(w=200, fmt="png"), "png").data))
    reference = Image.open(io.BytesIO(source)).convert("RGB").resize((200, 150), Image.Resampling.LANCZOS)
    assert ssim(variant, reference) > 0.995
