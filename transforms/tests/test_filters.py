"""The filters: each parameter's spellings (canonical or a named refusal) as tables, then its pixels."""

from __future__ import annotations

import io

import pytest
from django.test import Client
from PIL import Image, ImageChops

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
