"""The filters: each parameter's spellings (canonical or a named refusal) as tables, then its pixels."""

from __future__ import annotations

import io

import pytest
from django.test import Client
from PIL import Image, ImageChops, ImageFilter

from transforms.budgets import OutputBudget, OverBudget, check_output
from transforms.pipeline import Rendered, render
from transforms.spec import InvalidSpec, VariantSpec, parse

from . import images
from .test_spec import pairs


def opened(rendered: Rendered) -> Image.Image:
    return Image.open(io.BytesIO(rendered.data))


def is_grey(image: Image.Image) -> bool:
    """Every pixel has r == g == b (within a JPEG's rounding)."""
    red, green, blue = image.convert("RGB").split()
    spreads = (ImageChops.difference(a, b).getextrema()[1] for a, b in ((red, green), (green, blue)))
    return all(isinstance(spread, int) and spread <= 2 for spread in spreads)


# --- gray ---------------------------------------------------------------------------------------------

GRAY_ACCEPTED = [
    ("gray=1", "gray=1"),
    ("gray=0", ""),
    ("w=30&gray=1", "gray=1&w=30"),
    ("gray=1&fmt=png&rotate=90", "fmt=png&gray=1&rotate=90"),
]


@pytest.mark.parametrize(("query", "canonical"), GRAY_ACCEPTED)
def test_gray_spellings(query: str, canonical: str) -> None:
    spec = parse(pairs(query))
    assert spec.canonical_query == canonical
    assert parse(pairs(canonical)) == spec


GRAY_REFUSED = [
    ("gray=2", "invalid_parameter"),
    ("gray=true", "invalid_parameter"),
    ("gray=yes", "invalid_parameter"),
    ("gray=01", "invalid_parameter"),
    ("gray=1.0", "invalid_parameter"),
    ("gray=-1", "invalid_parameter"),
    ("gray=+1", "invalid_parameter"),
    ("gray= 1", "invalid_parameter"),
    ("gray=\uff11", "invalid_parameter"),  # fullwidth 1
    ("gray=\u0661", "invalid_parameter"),  # Arabic-Indic 1
    ("gray=", "empty_parameter"),
    ("gray", "empty_parameter"),
    ("gray=1&gray=1", "repeated_parameter"),
]


@pytest.mark.parametrize(("query", "code"), GRAY_REFUSED)
def test_gray_refusals_name_it(query: str, code: str) -> None:
    with pytest.raises(InvalidSpec) as caught:
        parse(pairs(query))
    assert (caught.value.param, caught.value.code) == ("gray", code)


def test_gray_says_what_it_takes() -> None:
    with pytest.raises(InvalidSpec, match=r"^gray must be one of 0, 1, got 'yes'$"):
        parse(pairs("gray=yes"))


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp", "avif", "gif"])
def test_gray_greys_every_pixel(fmt: str) -> None:
    source = images.encode(images.marker((64, 48)), "PNG")
    assert not is_grey(opened(render(source, VariantSpec(w=32), fmt)))
    result = opened(render(source, VariantSpec(w=32, gray=1), fmt))
    assert result.size == (32, 24)
    assert is_grey(result)
    red = result.convert("L").getpixel((4, 4))
    assert isinstance(red, int) and abs(red - 76) <= 6  # 0.299 * 255: luma, not an average of the channels


def test_gray_writes_one_channel_jpeg_and_png() -> None:
    source = images.encode(images.photo((120, 80)), "PNG")
    for fmt in ("jpeg", "png"):
        grey, colour = render(source, VariantSpec(gray=1), fmt), render(source, VariantSpec(), fmt)
        assert opened(grey).mode == "L"
        assert len(grey.data) < len(colour.data)


@pytest.mark.parametrize("fmt", ["png", "webp"])
def test_gray_keeps_transparency(fmt: str) -> None:
    result = opened(render(images.rgba_png(), VariantSpec(gray=1), fmt)).convert("RGBA")
    left, right = result.getpixel((5, 20)), result.getpixel((35, 20))
    assert isinstance(left, tuple) and isinstance(right, tuple)
    assert left[3] == 255 and abs(left[0] - 76) <= 6 and left[0] == left[1] == left[2]
    assert right[3] == 0


def test_gray_flattens_on_white_for_jpeg() -> None:
    result = opened(render(images.rgba_png(), VariantSpec(gray=1), "jpeg"))
    assert result.mode == "L"
    assert result.getpixel((35, 20)) == 255


def test_gray_greys_every_frame_of_an_animation() -> None:
    rendered = render(images.animation("GIF"), VariantSpec(gray=1), "gif")
    assert rendered.animation == "kept"
    result = opened(rendered)
    for index in range(3):
        result.seek(index)
        assert is_grey(result)


@pytest.mark.django_db
def test_gray_through_http(client: Client, upload_original) -> None:
    oid = upload_original(images.encode(images.marker((64, 48)), "JPEG"), "m.jpg")["id"]
    grey = client.get(f"/image/{oid}/?gray=1&w=32")
    assert grey.status_code == 200 and grey["Content-Type"] == "image/jpeg"
    assert is_grey(Image.open(io.BytesIO(grey.content)))
    assert client.get(f"/image/{oid}/?gray=0&w=32")["ETag"] == client.get(f"/image/{oid}/?w=32")["ETag"]
    assert client.get(f"/image/{oid}/?gray=on").json() == {
        "error": "gray must be one of 0, 1, got 'on'",
        "code": "invalid_parameter",
        "param": "gray",
    }


# --- blur and sharpen -----------------------------------------------------------------------------------

SIGMA_ACCEPTED = [
    ("blur=2", "blur=2"),
    ("blur=2.0", "blur=2"),
    ("blur=02.5", "blur=2.5"),
    ("blur=0.1", "blur=0.1"),
    ("blur=50", "blur=50"),
    ("blur=50.0", "blur=50"),
    ("sharpen=1", "sharpen=1"),
    ("sharpen=0.5", "sharpen=0.5"),
    ("sharpen=10.0", "sharpen=10"),
    ("sharpen=0.1", "sharpen=0.1"),
    ("w=300&sharpen=1.0&blur=3.5", "blur=3.5&sharpen=1&w=300"),
    ("blur=1&gray=1&fmt=png", "blur=1&fmt=png&gray=1"),
]


@pytest.mark.parametrize(("query", "canonical"), SIGMA_ACCEPTED)
def test_blur_and_sharpen_spellings(query: str, canonical: str) -> None:
    spec = parse(pairs(query))
    assert spec.canonical_query == canonical
    assert parse(pairs(canonical)) == spec


SIGMA_REFUSED = [
    ("blur=0", "blur", "out_of_range"),
    ("blur=0.0", "blur", "out_of_range"),
    ("blur=50.1", "blur", "out_of_range"),
    ("blur=51", "blur", "out_of_range"),
    ("blur=9999999999", "blur", "out_of_range"),
    ("blur=2.25", "blur", "invalid_parameter"),
    ("blur=2.50", "blur", "invalid_parameter"),
    ("blur=.5", "blur", "invalid_parameter"),
    ("blur=5.", "blur", "invalid_parameter"),
    ("blur=-1", "blur", "invalid_parameter"),
    ("blur=+1", "blur", "invalid_parameter"),
    ("blur=1e1", "blur", "invalid_parameter"),
    ("blur=inf", "blur", "invalid_parameter"),
    ("blur=nan", "blur", "invalid_parameter"),
    ("blur=true", "blur", "invalid_parameter"),
    ("blur=2,5", "blur", "invalid_parameter"),
    ("blur=\u0662", "blur", "invalid_parameter"),  # Arabic-Indic 2
    ("blur=", "blur", "empty_parameter"),
    ("blur=1&blur=1", "blur", "repeated_parameter"),
    ("sharpen=0", "sharpen", "out_of_range"),
    ("sharpen=10.1", "sharpen", "out_of_range"),
    ("sharpen=11", "sharpen", "out_of_range"),
    ("sharpen=1.05", "sharpen", "invalid_parameter"),
    ("sharpen=-0.5", "sharpen", "invalid_parameter"),
    ("sharpen=0x1", "sharpen", "invalid_parameter"),
    ("sharpen=", "sharpen", "empty_parameter"),
    ("sharpen=1&sharpen=2", "sharpen", "repeated_parameter"),
]


@pytest.mark.parametrize(("query", "param", "code"), SIGMA_REFUSED)
def test_blur_and_sharpen_refusals_name_them(query: str, param: str, code: str) -> None:
    with pytest.raises(InvalidSpec) as caught:
        parse(pairs(query))
    assert (caught.value.param, caught.value.code) == (param, code)


def test_blur_and_sharpen_say_what_they_take() -> None:
    with pytest.raises(InvalidSpec) as caught:
        parse(pairs("blur=60"))
    assert caught.value.message == (
        "blur must be a number from 0.1 to 50, with at most one digit after the dot; got '60'"
    )
    with pytest.raises(InvalidSpec) as caught:
        parse(pairs("sharpen=1.25"))
    assert caught.value.message == (
        "sharpen must be a number from 0.1 to 10, with at most one digit after the dot; got '1.25'"
    )


def _resized(size: tuple[int, int]) -> Image.Image:
    """The marker at 160x120 resized as the pipeline resizes (Lanczos with a reducing gap)."""
    return images.marker((160, 120)).resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def _png(query: str) -> Image.Image:
    return opened(render(images.encode(images.marker((160, 120)), "PNG"), parse(pairs(query)), "png"))


def test_blur_is_a_gaussian_of_the_resized_picture() -> None:
    result = _png("w=40&blur=2")
    after = _resized((40, 30)).filter(ImageFilter.GaussianBlur(2))
    before = images.marker((160, 120)).filter(ImageFilter.GaussianBlur(2)).resize((40, 30), Image.Resampling.LANCZOS)
    assert result.tobytes() == after.tobytes()
    assert result.tobytes() != before.tobytes(), "sigma is in pixels of the output, not of the original"


def test_sharpen_is_an_unsharp_mask_of_the_resized_picture() -> None:
    source = images.photo((160, 120))
    spec = parse(pairs("w=80&sharpen=1.5"))
    result = opened(render(images.encode(source, "PNG"), spec, "png"))
    resized = source.resize((80, 60), Image.Resampling.LANCZOS, reducing_gap=3.0)
    assert result.tobytes() == resized.filter(ImageFilter.UnsharpMask(1.5, 150, 3)).tobytes()
    assert result.tobytes() != resized.tobytes()


def test_blur_comes_before_sharpen_and_gray_before_both() -> None:
    result = _png("w=40&sharpen=1&blur=2&gray=1")
    expected = _resized((40, 30)).convert("L").filter(ImageFilter.GaussianBlur(2))
    assert result.tobytes() == expected.filter(ImageFilter.UnsharpMask(1, 150, 3)).tobytes()


def test_blur_does_not_bleed_the_colour_of_transparent_pixels() -> None:
    # images.rgba_png(): opaque red beside fully transparent *blue*; the soft edge must stay red, not turn purple
    result = opened(render(images.rgba_png(), VariantSpec(blur=3.0), "png")).convert("RGBA")
    edge = [pixel for x in range(14, 26) if isinstance(pixel := result.getpixel((x, 20)), tuple)]
    assert len([pixel for pixel in edge if 32 <= pixel[3] < 224]) >= 3, edge
    assert all(pixel[2] <= 16 and pixel[0] >= 220 for pixel in edge if pixel[3] >= 32), edge


def test_blur_keeps_the_size_and_is_applied_to_every_frame() -> None:
    rendered = render(images.animation("GIF"), VariantSpec(w=20, blur=3.0), "gif")
    assert (rendered.width, rendered.height, rendered.animation) == (20, 15, "kept")
    plain = opened(render(images.animation("GIF"), VariantSpec(w=20), "gif"))
    blurred = opened(rendered)
    for index in range(3):
        plain.seek(index)
        blurred.seek(index)
        assert plain.convert("RGB").tobytes() != blurred.convert("RGB").tobytes()


@pytest.mark.django_db
def test_blur_and_sharpen_through_http_and_the_builder(client: Client, upload_original) -> None:
    oid = upload_original(images.encode(images.photo((200, 150)), "JPEG"), "p.jpg")["id"]
    blurred = client.get(f"/image/{oid}/?blur=4.0&w=100")
    assert blurred.status_code == 200
    assert blurred["ETag"] == client.get(f"/image/{oid}/?w=100&blur=04")["ETag"]
    assert blurred["ETag"] != client.get(f"/image/{oid}/?w=100")["ETag"]
    assert client.get(f"/image/{oid}/?sharpen=1&w=100").status_code == 200
    refused = client.get(f"/image/{oid}/?sharpen=12").json()
    assert (refused["code"], refused["param"]) == ("out_of_range", "sharpen")
    page = client.get(f"/originals/{oid}/?w=100&blur=2.5").content.decode()
    assert 'name="blur" data-param type="number" min="0.1" max="50" step="0.1" inputmode="decimal" value="2.5"' in page
    assert 'name="sharpen" data-param type="number" min="0.1" max="10" step="0.1"' in page


@pytest.mark.parametrize(
    ("spec", "picture", "refused"),
    [
        (VariantSpec(blur=2.0), (4000, 4000), None),
        (VariantSpec(blur=2.0), (4001, 4000), "blur"),
        (VariantSpec(blur=2.0), (6000, 4000), "blur"),
        (VariantSpec(sharpen=1.0), (6000, 4000), "sharpen"),
        (VariantSpec(blur=2.0, sharpen=1.0), (6000, 4000), "blur"),
        (VariantSpec(gray=1), (6000, 4000), None),
        (VariantSpec(), (6000, 4000), None),
    ],
)
def test_a_filter_bounds_the_frames_it_works_on(spec: VariantSpec, picture: tuple[int, int], refused: str | None):
    def check() -> None:
        check_output(spec, canvas=picture, picture=picture, frames=1, out_format="png", budget=OutputBudget())

    if refused is None:
        check()
        return
    with pytest.raises(OverBudget) as caught:
        check()
    assert (caught.value.param, caught.value.code, caught.value.status) == (refused, "output_too_large", 400)
    assert "at most 16,000,000 pixels a frame" in caught.value.message and "smaller w or h" in caught.value.message
