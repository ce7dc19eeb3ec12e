"""render(): geometry, colour, alpha, bit depth, animation, privacy and errors on tiny generated images."""

from __future__ import annotations

import io
import itertools
from collections.abc import Mapping

import pytest
from PIL import Image, ImageCms, ImageOps

from transforms import operations
from transforms.pipeline import ALLOWED_DECODERS, ENCODERS, Rendered, RenderError, render
from transforms.spec import VariantSpec
from transforms.tests import images

T = Image.Transpose
WHITE = (255, 255, 255)


def opened(rendered: Rendered) -> Image.Image:
    image = Image.open(io.BytesIO(rendered.data))
    assert (image.format or "").lower() == rendered.format
    assert image.size == (rendered.width, rendered.height)
    return image


def pixel(image: Image.Image, xy: tuple[int, int], mode: str = "RGB") -> tuple[int, ...]:
    value = image.convert(mode).getpixel(xy)
    assert isinstance(value, tuple)
    return value


def corners(image: Image.Image, inset: int = 4) -> dict[str, tuple[int, ...]]:
    w, h = image.size
    points = {"tl": (inset, inset), "tr": (w - 1 - inset, inset), "bl": (inset, h - 1 - inset)}
    points["br"] = (w - 1 - inset, h - 1 - inset)
    return {name: pixel(image, xy) for name, xy in points.items()}


def near(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


def assert_corners(image: Image.Image, expected: Mapping[str, tuple[int, ...]], tolerance: int = 40) -> None:
    actual = corners(image)
    assert all(near(actual[k], expected[k], tolerance) for k in expected), (actual, expected)


def reference(rotate: int, flip: str, size: tuple[int, int] = (64, 48)) -> Image.Image:
    """The upright marker rotated clockwise and flipped with Pillow's plain APIs."""
    image = images.marker(size).rotate(-rotate, expand=True)
    if "h" in flip:
        image = ImageOps.mirror(image)
    if "v" in flip:
        image = ImageOps.flip(image)
    return image


# --- geometry ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("orientation", range(1, 9))
def test_generator_stores_marker_under_each_orientation(orientation: int) -> None:
    image = ImageOps.exif_transpose(Image.open(io.BytesIO(images.oriented_jpeg(orientation))))
    assert image.size == (160, 120)
    assert_corners(image, images.MARKER)


@pytest.mark.parametrize(
    ("orientation", "rotate", "flip"),
    list(itertools.product(range(1, 9), (0, 90, 180, 270), ("", "h", "v", "hv"))),
)
def test_orientation_rotate_flip_table(orientation: int, rotate: int, flip: str) -> None:
    source = images.oriented_jpeg(orientation, size=(64, 48))
    result = opened(render(source, VariantSpec(rotate=rotate, flip=flip), "png"))
    expected = reference(rotate, flip)
    assert result.size == expected.size
    assert_corners(result, corners(expected))


@pytest.mark.parametrize(("orientation", "rotate"), [(1, 90), (6, 0), (6, 90), (8, 270), (5, 180)])
def test_box_constrains_the_rotated_upright_picture(orientation: int, rotate: int) -> None:
    result = opened(render(images.oriented_jpeg(orientation), VariantSpec(w=40, rotate=rotate), "png"))
    expected = reference(rotate, "", size=(160, 120))
    assert result.width == 40
    assert result.height == round(40 * expected.height / expected.width)
    assert_corners(result, corners(expected), tolerance=50)


def test_acceptance_large_jpeg_rotated_to_png() -> None:
    source = images.encode(images.marker((1600, 1200)), "JPEG", quality=90)
    rendered = render(source, VariantSpec(w=300, rotate=90), "png")
    assert (rendered.width, rendered.height, rendered.format, rendered.content_type) == (
        300,
        400,
        "png",
        "image/png",
    )
    assert near(pixel(opened(rendered), (299, 0), "RGB"), images.RED, 30)


@pytest.mark.parametrize(
    ("size", "spec", "expected"),
    [
        ((160, 120), VariantSpec(w=80), (80, 60)),
        ((160, 120), VariantSpec(h=30), (40, 30)),
        ((160, 120), VariantSpec(w=80, h=80), (80, 60)),
        ((160, 120), VariantSpec(w=80, h=80, fit="cover"), (80, 80)),
        ((160, 120), VariantSpec(w=80, h=80, fit="fill"), (80, 80)),
        ((160, 120), VariantSpec(w=100, h=30, fit="fill"), (100, 30)),
        ((160, 120), VariantSpec(w=80, h=80, fit="pad"), (80, 80)),
        # never upscale: the picture's own size, or the box shrunk keeping its aspect
        ((160, 120), VariantSpec(w=1000), (160, 120)),
        ((160, 120), VariantSpec(w=1000, h=1000), (160, 120)),
        ((160, 120), VariantSpec(w=400, h=400, fit="cover"), (120, 120)),
        ((160, 120), VariantSpec(w=400, h=200, fit="fill"), (160, 80)),
        ((160, 120), VariantSpec(w=400, h=400, fit="pad"), (160, 160)),
        ((160, 120), VariantSpec(w=100, h=8000, fit="cover"), (2, 120)),
        # never below one pixel
        ((2000, 10), VariantSpec(w=100), (100, 1)),
        ((10, 2000), VariantSpec(h=100, fit="cover"), (1, 100)),
    ],
)
def test_fit_sizes(size: tuple[int, int], spec: VariantSpec, expected: tuple[int, int]) -> None:
    rendered = render(images.encode(images.marker(size), "PNG"), spec, "png")
    assert (rendered.width, rendered.height) == expected


def test_cover_crops_the_centre() -> None:
    source = images.encode(images.marker((160, 120)), "PNG")
    result = opened(render(source, VariantSpec(w=30, h=60, fit="cover"), "png"))
    assert result.size == (30, 60)
    # a 60x120 strip from the middle: left half red/blue, right half green/yellow
    assert_corners(result, images.MARKER, tolerance=10)


@pytest.mark.parametrize(("fmt", "fill"), [("png", (0, 0, 0, 0)), ("webp", (0, 0, 0, 0)), ("jpeg", WHITE)])
def test_pad_centres_on_transparent_or_white(fmt: str, fill: tuple[int, ...]) -> None:
    source = images.encode(images.marker((160, 120)), "PNG")
    result = opened(render(source, VariantSpec(w=100, h=100, fit="pad"), fmt))
    assert result.size == (100, 100)
    mode = "RGBA" if len(fill) == 4 else "RGB"
    assert near(pixel(result, (50, 3), mode), fill, 12)  # JPEG chroma bleeds a little
    assert near(pixel(result, (10, 20), "RGB"), images.RED, 30)
    assert near(pixel(result, (90, 80), "RGB"), images.YELLOW, 30)


def test_jpeg_draft_decode_keeps_geometry_and_colour() -> None:
    source = images.encode(images.marker((1600, 1200)), "JPEG", quality=90)
    for spec in (
        VariantSpec(w=100),
        VariantSpec(w=50, h=100, fit="cover"),
        VariantSpec(w=70, h=20, fit="fill"),
    ):
        result = opened(render(source, spec, "png"))
        assert result.size == (spec.w, spec.h or 75)
        assert_corners(result, images.MARKER, tolerance=40)


@pytest.mark.parametrize(("first", "second"), list(itertools.product(operations.EXIF_UPRIGHT.values(), repeat=2)))
def test_compose_equals_applying_in_sequence(first: T | None, second: T | None) -> None:
    marker = images.marker((6, 4))
    stepwise = marker
    for step in (first, second):
        stepwise = stepwise if step is None else stepwise.transpose(step)
    single = operations.compose(first, second)
    composed = marker if single is None else marker.transpose(single)
    assert composed.tobytes() == stepwise.tobytes() and composed.size == stepwise.size


# --- colour, alpha, bit depth -----------------------------------------------------------------------


def test_cmyk_jpeg_becomes_rgb() -> None:
    result = opened(render(images.cmyk_jpeg(), VariantSpec(), "png"))
    assert result.mode == "RGB"
    assert near(pixel(result, (5, 5)), images.RED, 25)
    assert near(pixel(result, (5, 40)), (0, 255, 255), 25)


def _p3_to_srgb(colour: tuple[int, int, int]) -> tuple[int, ...]:
    """Independent maths: decode gamma 2.2, linear Display P3 -> linear sRGB, sRGB encode."""
    m = ((1.2249, -0.2247, 0.0), (-0.0420, 1.0419, 0.0), (-0.0197, -0.0786, 1.0979))
    linear = [(c / 255) ** images.P3_GAMMA for c in colour]
    out = [min(1.0, max(0.0, sum(a * b for a, b in zip(row, linear, strict=True)))) for row in m]
    encoded = [12.92 * v if v <= 0.0031308 else 1.055 * v ** (1 / 2.4) - 0.055 for v in out]
    return tuple(round(v * 255) for v in encoded)


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp", "avif"])
def test_wide_gamut_profile_is_converted_to_srgb_and_dropped(fmt: str) -> None:
    colour = (200, 80, 60)
    expected = _p3_to_srgb(colour)
    assert not near(colour, expected, 10)  # ignoring the profile would fail this test
    result = opened(render(images.p3_png(colour), VariantSpec(), fmt))
    assert near(pixel(result, (16, 16), "RGB"), expected, 3 if fmt == "png" else 8)
    assert not result.info.get("icc_profile")


def test_generated_profile_is_valid() -> None:
    profile = ImageCms.ImageCmsProfile(io.BytesIO(images.rgb_profile(images.P3_PRIMARIES, 2.2, "P3 test")))
    assert ImageCms.getProfileDescription(profile).strip() == "P3 test"


@pytest.mark.parametrize(("fmt", "alpha"), [("png", True), ("webp", True), ("avif", True), ("jpeg", False)])
def test_alpha_kept_or_flattened_on_white(fmt: str, alpha: bool) -> None:
    for source in (images.rgba_png(), images.palette_trns_png()):
        result = opened(render(source, VariantSpec(), fmt))
        left, right = pixel(result, (5, 20), "RGBA"), pixel(result, (35, 20), "RGBA")
        assert left[3] == 255 and max(left[:3]) > 200
        if alpha:
            assert right[3] == 0
        else:
            assert near(right, (*WHITE, 255), 3)


def test_16_bit_grey_is_scaled_not_clipped() -> None:
    assert Image.open(io.BytesIO(images.gray16_png())).mode == "I;16"
    result = opened(render(images.gray16_png(), VariantSpec(), "png"))
    assert result.mode == "L"
    row = [pixel(result, (x, 4))[0] for x in (0, 128, 255)]
    assert row[0] == 0 and abs(row[1] - 128) <= 1 and row[2] == 255


def test_16_bit_rgb_is_scaled() -> None:
    result = opened(render(images.rgb16_png((65535, 32896, 0)), VariantSpec(), "png"))
    assert near(pixel(result, (4, 4), "RGB"), (255, 128, 0), 1)


@pytest.mark.parametrize("mode", ["1", "L", "LA", "P", "RGBA"])
def test_other_modes_render(mode: str) -> None:
    source = images.encode(images.marker((32, 24), mode=mode), "PNG")
    for fmt in ENCODERS:
        assert render(source, VariantSpec(w=16), fmt).width == 16


# --- animation --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("source_fmt", "out_fmt"), list(itertools.product(["GIF", "WEBP"], ["gif", "webp"])))
def test_animation_is_kept(source_fmt: str, out_fmt: str) -> None:
    rendered = render(images.animation(source_fmt), VariantSpec(w=20, flip="h"), out_fmt)
    assert rendered.animation == "kept"
    result = opened(rendered)
    assert getattr(result, "n_frames", 1) == 3 and result.info.get("loop") == 0
    for index, colour in enumerate(images.ANIMATION_COLOURS):
        result.seek(index)
        frame = result.convert("RGB")
        assert result.size == (20, 15)
        assert result.info.get("duration") == images.ANIMATION_DURATIONS[index]
        assert near(pixel(frame, (2, 12)), colour, 40)
        assert near(pixel(frame, (18, 1)), WHITE, 40)  # marker moved by flip


@pytest.mark.parametrize(("source_fmt", "out_fmt"), list(itertools.product(["GIF", "WEBP"], ["jpeg", "png", "avif"])))
def test_animation_first_frame_for_still_formats(source_fmt: str, out_fmt: str) -> None:
    rendered = render(images.animation(source_fmt), VariantSpec(), out_fmt)
    assert rendered.animation == "first-frame"
    result = opened(rendered)
    assert getattr(result, "n_frames", 1) == 1
    assert near(pixel(result, (30, 20), "RGB"), images.RED, 30)


def test_still_image_reports_no_animation() -> None:
    assert render(images.encode(images.marker(), "GIF"), VariantSpec(), "gif").animation == "none"


# --- output format, privacy, timings ----------------------------------------------------------------


@pytest.mark.parametrize("fmt", list(ENCODERS))
def test_output_format_content_type_and_no_metadata(fmt: str) -> None:
    rendered = render(images.oriented_jpeg(6), VariantSpec(w=60), fmt)
    assert rendered.format == fmt and rendered.content_type == f"image/{fmt}"
    assert set(rendered.timings) == {"decode", "transform", "encode"}
    assert all(t >= 0 for t in rendered.timings.values())
    result = opened(rendered)
    assert (result.width, result.height) == (60, 45)
    for key in ("exif", "icc_profile", "xmp", "XML:com.adobe.xmp", "comment"):
        assert not result.info.get(key), key
    assert not dict(result.getexif())
    assert b"private description" not in rendered.data and b"secret comment" not in rendered.data


def test_quality_is_used_for_lossy_formats() -> None:
    source = images.encode(images.photo((600, 400)), "PNG")
    for fmt in ("jpeg", "webp", "avif"):
        low = render(source, VariantSpec(q=30), fmt).data
        high = render(source, VariantSpec(q=90), fmt).data
        assert len(low) < len(high), fmt


def test_photographic_jpeg_size_is_reasonable() -> None:
    source = images.encode(images.photo(), "JPEG", quality=95)
    rendered = render(source, VariantSpec(w=600), "jpeg")
    assert (rendered.width, rendered.height) == (600, 400)
    assert 10_000 < len(rendered.data) < 80_000


# --- broken input -----------------------------------------------------------------------------------

_JPEG = images.oriented_jpeg(1)
_PNG = images.encode(images.photo((64, 64)), "PNG")


@pytest.mark.parametrize(
    "source",
    [
        b"",
        b"not an image at all",
        _JPEG[: len(_JPEG) // 2],
        _PNG[: len(_PNG) // 2],
        _PNG[:40] + bytes(len(_PNG) - 40),
        images.animation("GIF")[:90],
        images.encode(images.marker(), "PPM"),  # a real image, but not an allowed decoder
    ],
    ids=["empty", "garbage", "truncated-jpeg", "truncated-png", "zeroed-png", "truncated-gif", "ppm"],
)
def test_undecodable_source_raises_render_error(source: bytes) -> None:
    for fmt in ("png", "gif"):
        with pytest.raises(RenderError):
            render(source, VariantSpec(w=10), fmt)


def test_allowed_decoders_are_registered_pillow_formats() -> None:
    Image.init()
    assert set(ALLOWED_DECODERS) <= set(Image.OPEN)
