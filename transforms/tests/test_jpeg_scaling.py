"""JPEG decodes at the M/8 scales Pillow's draft lacks (transforms/jpeg.py): libjpeg-turbo where it reads the colour
space and the stream as Pillow does, Pillow everywhere else, with the same geometry, colours and errors."""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import simplejpeg
from PIL import Image

from transforms import jpeg
from transforms.operations import plan_for
from transforms.pipeline import RenderError, render
from transforms.spec import VariantSpec, parse
from transforms.tests import images

from .test_pipeline import assert_corners, near, opened, pixel

ROOT = Path(__file__).resolve().parents[2]
UPRIGHT = (1600, 1200)  # 3/8 is 600 px wide, 5/8 1000, 6/8 1200: w=800 decodes at 6/8


@pytest.fixture
def turbo_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The keyword arguments of every libjpeg-turbo decode the test makes."""
    calls: list[dict[str, Any]] = []
    decode: Callable[..., Any] = simplejpeg.decode_jpeg

    def spy(data: bytes, **kwargs: Any) -> Any:
        calls.append(kwargs)
        return decode(data, **kwargs)

    monkeypatch.setattr(simplejpeg, "decode_jpeg", spy)
    return calls


def eighths_for(source: bytes, width: int, fmt: str = "jpeg") -> int:
    with Image.open(io.BytesIO(source)) as image:
        exif = image.getexif().get(0x0112, 1)
        return jpeg.draft_eighths(plan_for(image.size, exif, VariantSpec(w=width, fmt=fmt), alpha=False), fmt)


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
@pytest.mark.parametrize(("width", "eighths"), [(500, 3), (750, 5), (900, 6), (1000, 8)])
def test_eighths_keep_geometry_and_orientation(turbo_calls: list, orientation: int, width: int, eighths: int) -> None:
    source = images.oriented_jpeg(orientation, UPRIGHT, quality=90)
    assert eighths_for(source, width) == eighths
    result = opened(render(source, VariantSpec(w=width, fmt="jpeg"), "jpeg"))
    assert result.size == (width, width * 3 // 4)
    assert_corners(result, images.MARKER, tolerance=40)
    assert len(turbo_calls) == (eighths not in jpeg.DRAFT_EIGHTHS)


def test_a_crop_is_taken_from_the_eighths_decode(turbo_calls: list) -> None:
    """The crop's rectangle, in the original's pixels, is scaled to the 6/8 decode with it."""
    source = images.oriented_jpeg(6, UPRIGHT, quality=90)
    spec = parse([("crop", "400,300,800,600"), ("w", "420"), ("fmt", "jpeg")])
    with Image.open(io.BytesIO(source)) as image:
        assert jpeg.draft_eighths(plan_for(image.size, 6, spec, alpha=False), "jpeg") == 6
    result = opened(render(source, spec, "jpeg"))
    assert len(turbo_calls) == 1 and result.size == (420, 315)
    assert_corners(result, images.MARKER, tolerance=40)


def test_progressive_jpeg_decodes_at_eighths(turbo_calls: list) -> None:
    source = images.encode(images.marker(UPRIGHT), "JPEG", quality=90, progressive=True)
    result = opened(render(source, VariantSpec(w=800, fmt="jpeg"), "jpeg"))
    assert len(turbo_calls) == 1 and result.size == (800, 600)
    assert_corners(result, images.MARKER, tolerance=40)


def test_grayscale_jpeg_decodes_as_grey(turbo_calls: list) -> None:
    source = images.encode(images.marker(UPRIGHT, "L"), "JPEG", quality=90)
    scaled = opened(render(source, VariantSpec(w=800, fmt="jpeg"), "jpeg"))
    assert [call["colorspace"] for call in turbo_calls] == ["GRAY"]
    assert scaled.mode == "L" and scaled.size == (800, 600)
    full = opened(render(source, VariantSpec(fmt="jpeg"), "jpeg")).resize((800, 600))
    for xy in ((20, 20), (780, 20), (20, 580), (780, 580)):
        assert abs(scaled.getpixel(xy) - full.getpixel(xy)) <= 4  # type: ignore[operator]


def test_cmyk_jpeg_stays_with_pillow(turbo_calls: list) -> None:
    """libjpeg-turbo would hand back CMYK's ink as if it were RGB, without Adobe's inversion: Pillow decodes it."""
    source = images.cmyk_jpeg(UPRIGHT)
    with Image.open(io.BytesIO(source)) as image:
        assert isinstance(image, Image.Image) and image.mode == "CMYK"
        assert jpeg.offered(image) == jpeg.DRAFT_EIGHTHS  # type: ignore[arg-type]
    result = opened(render(source, VariantSpec(w=800, fmt="png"), "png"))
    assert not turbo_calls and result.mode == "RGB"
    assert near(pixel(result, (10, 10)), images.RED, 25)
    assert near(pixel(result, (10, 590)), (0, 255, 255), 25)


def test_the_icc_profile_is_applied(turbo_calls: list) -> None:
    """The profile comes from Pillow's reading of the header; the scaled decode is converted as the full one is."""
    colour = (200, 80, 60)
    profile = images.rgb_profile(images.P3_PRIMARIES, images.P3_GAMMA, "P3 test")
    source = images.encode(Image.new("RGB", UPRIGHT, colour), "JPEG", quality=95, icc_profile=profile)
    scaled = pixel(opened(render(source, VariantSpec(w=800, fmt="jpeg"), "jpeg")), (400, 300))
    full = pixel(opened(render(source, VariantSpec(fmt="jpeg"), "jpeg")), (400, 300))
    assert len(turbo_calls) == 1
    assert near(scaled, full, 3) and not near(scaled, colour, 10)


def test_a_truncated_jpeg_is_refused_as_before(turbo_calls: list) -> None:
    source = images.encode(images.photo(UPRIGHT), "JPEG", quality=90)
    with pytest.raises(RenderError, match="truncated"):
        render(source[: len(source) // 2], VariantSpec(w=800, fmt="jpeg"), "jpeg")
    assert len(turbo_calls) == 1  # libjpeg-turbo refused it (strict), and Pillow said why, as it did before


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda good: good.replace(b"\xff\xda", b"\x00\x01\x02\xff\xda", 1),
        lambda good: good[: len(good) // 2] + b"\xff\xd3" + good[len(good) // 2 :],
    ],
    ids=["stray-bytes-before-the-scan", "stray-restart-marker"],
)
def test_what_libjpeg_only_warns_about_is_decoded_by_pillow(turbo_calls: list, corrupt: Callable) -> None:
    """Damage libjpeg warns about and decodes past, strict libjpeg-turbo refuses: Pillow renders it, as before, at
    the scale its own draft allows (here the full decode: 1/2 would keep less than 1.5x the output)."""
    source = corrupt(images.encode(images.marker(UPRIGHT), "JPEG", quality=90))
    with pytest.raises(ValueError, match="Corrupt JPEG data"):
        simplejpeg.decode_jpeg(source)
    result = opened(render(source, VariantSpec(w=800, fmt="jpeg"), "jpeg"))
    assert result.size == (800, 600)  # what the damage left of the picture, as Pillow decodes it


def test_a_header_read_otherwise_is_left_to_pillow(turbo_calls: list, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pillow's reading of the size is the one checked against the pixel limits: libjpeg-turbo decodes only the
    picture Pillow saw."""
    monkeypatch.setattr(simplejpeg, "decode_jpeg_header", lambda data: (12_000, 16_000, "YCbCr", "420"))
    source = images.encode(images.marker(UPRIGHT), "JPEG", quality=90)
    result = opened(render(source, VariantSpec(w=800, fmt="png"), "png"))
    assert not turbo_calls and result.size == (800, 600)


def test_the_pixel_limit_is_checked_before_any_decode(turbo_calls: list, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", UPRIGHT[0] * UPRIGHT[1] // 3)
    source = images.encode(images.marker(UPRIGHT), "JPEG", quality=90)
    with pytest.raises(RenderError, match="too large"):
        render(source, VariantSpec(w=800, fmt="jpeg"), "jpeg")
    assert not turbo_calls


def test_the_web_worker_does_not_load_numpy() -> None:
    """simplejpeg brings numpy (about 7 MB a process): the pipeline imports it when it first decodes at an M/8
    scale, which only render processes do."""
    probe = "import sys, transforms.pipeline, transforms.render_pool; print('numpy' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    assert done.stdout.strip() == "False"
