"""The quality guard of draft decoding (issue 15): a variant loses at most 0.003 SSIM against the full-quality render
(full decode, upright, one Lanczos resize) encoded with the same settings. Quality is deterministic: no timings."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageOps
from skimage.metrics import structural_similarity

from transforms.operations import plan_for
from transforms.pipeline import ENCODERS, draft_scale, render
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


# One width per branch of DRAFT_GAPS: decoded at 1/8, at 1/4, at 1/2 with enough of the target left (1.5x for JPEG,
# 1.1x for WebP), and in full where 1/2 would leave less (700: 1/2 would be 1.07x the output, the draft's worst).
@pytest.mark.parametrize(
    ("fmt", "width", "scale"),
    [
        *[("jpeg", width, scale) for width, scale in [(150, 8), (300, 4), (450, 2), (600, 1), (700, 1)]],
        *[("webp", width, scale) for width, scale in [(150, 8), (300, 4), (450, 2), (600, 2), (700, 1)]],
    ],
)
def test_the_draft_loses_at_most_the_guard(source: bytes, fmt: str, width: int, scale: int) -> None:
    spec = VariantSpec(w=width, fmt=fmt)
    assert draft_scale(plan_for(STORED, 6, spec, alpha=False), fmt) == scale
    assert loss(source, width, fmt, render(source, spec, fmt).data) <= MAX_SSIM_LOSS


def test_lossless_outputs_keep_twice_the_target() -> None:
    """PNG shows every detail a draft loses: a 400x300 output decodes at 1/2 (1000x750), not 1/4 (500x375)."""
    assert draft_scale(plan_for(STORED, 6, VariantSpec(w=300, fmt="png"), alpha=True), "png") == 2


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
    assert draft_scale(plan, "png") == 4
    assert plan.with_source((401, 301), 1 / 4).box == (0, 0, 400.25, 300.25)
    variant = Image.open(io.BytesIO(render(source, VariantSpec(w=200, fmt="png"), "png").data))
    reference = Image.open(io.BytesIO(source)).convert("RGB").resize((200, 150), Image.Resampling.LANCZOS)
    assert ssim(variant, reference) > 0.995
