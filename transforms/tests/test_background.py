"""bg: its spellings as tables (canonical for the format, or a refusal naming bg), then the canvas and flattening."""

from __future__ import annotations

import io

import pytest
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from transforms.canvas import over_white
from transforms.params import Colour
from transforms.pipeline import render
from transforms.spec import InvalidSpec, VariantSpec, parse

from . import images
from .test_spec import NO_DB, pairs

RED: Colour = (255, 0, 0, 255)

ACCEPTED = [
    ("bg=ff8800", "bg=ff8800"),
    ("bg=FF8800", "bg=ff8800"),
    ("bg=Ff8800fF", "bg=ff8800"),  # an opaque alpha is no alpha
    ("bg=ff880080", "bg=ff880080"),
    ("bg=FF880080", "bg=ff880080"),
    ("bg=00000000", "bg=00000000"),  # the format is not known yet: fmt=auto or the original's
    ("bg=ffffff", "bg=ffffff"),
    ("bg=ff0000&fmt=auto", "bg=ff0000&fmt=auto"),
    ("bg=ff0000&fmt=jpeg", "bg=ff0000&fmt=jpeg"),
    ("bg=ff000080&fmt=jpeg", "bg=ff7f7f&fmt=jpeg"),  # JPEG shows it over white
    ("bg=ff000080&fmt=jpg", "bg=ff7f7f&fmt=jpeg"),
    ("bg=ffffff&fmt=jpeg", "fmt=jpeg"),  # white is what JPEG has anyway
    ("bg=12345600&fmt=jpeg", "fmt=jpeg"),  # fully transparent over white
    ("bg=ffffff&fmt=png", "bg=ffffff&fmt=png"),  # PNG would be transparent without it
    ("bg=12345600&fmt=png", "fmt=png"),  # transparent is what PNG has anyway
    ("bg=12345600&fmt=webp", "fmt=webp"),
    ("bg=ff000080&fmt=avif", "bg=ff000080&fmt=avif"),
    ("w=10&h=10&fit=pad&bg=000000", "bg=000000&fit=pad&h=10&w=10"),
]


@pytest.mark.parametrize(("query", "canonical"), ACCEPTED)
def test_bg_spellings(query: str, canonical: str) -> None:
    spec = parse(pairs(query))
    assert spec.canonical_query == canonical
    assert parse(pairs(canonical)) == spec


REFUSED = [
    "#ff8800", "ff880", "ff8800f", "ff8800f0f", "gg0000", "ff 800", "ff8800 ", " ff8800", "ff8800\n", "red",
    "rgb(255,0,0)", "0xff8800", "ff-800", "\uff46\uff46\uff10\uff10\uff10\uff10", "ff8800%00", "f80", "f80f",
]  # fmt: skip


@pytest.mark.parametrize("value", REFUSED)
def test_bg_refusals_name_it(value: str) -> None:
    with pytest.raises(InvalidSpec) as caught:
        parse([("bg", value)])
    assert (caught.value.param, caught.value.code) == ("bg", "invalid_parameter")


def test_bg_says_how_to_fix_it() -> None:
    with pytest.raises(InvalidSpec) as caught:
        parse([("bg", "#ff8800")])
    assert caught.value.message == (
        "bg must be a colour as RRGGBB or RRGGBBAA hex digits (without the #), e.g. ff8800 or ff880080; got '#ff8800'"
    )
    with pytest.raises(InvalidSpec) as caught:
        parse(pairs("bg=1&bg=2"))
    assert caught.value.code == "repeated_parameter"


@pytest.mark.parametrize(
    ("spec", "fmt", "expected"),
    [
        (VariantSpec(bg=(255, 0, 0, 128)), "jpeg", VariantSpec(fmt="jpeg", bg=(255, 127, 127, 255))),
        (VariantSpec(bg=(255, 0, 0, 128)), "png", VariantSpec(fmt="png", bg=(255, 0, 0, 128))),
        (VariantSpec(fmt="auto", bg=(9, 9, 9, 0)), "webp", VariantSpec(fmt="webp")),
        (VariantSpec(fmt="auto", bg=(9, 9, 9, 0)), "jpeg", VariantSpec(fmt="jpeg")),
        (VariantSpec(bg=(255, 255, 255, 255), q=82), "jpeg", VariantSpec(fmt="jpeg")),
    ],
)
def test_for_output_settles_bg_for_the_format(spec: VariantSpec, fmt: str, expected: VariantSpec) -> None:
    assert spec.for_output(fmt) == expected


@NO_DB
@given(st.tuples(*[st.integers(0, 255)] * 4), st.sampled_from(["jpeg", "png", "webp", "avif", "gif"]))
def test_every_bg_is_one_spelling_per_format(colour: tuple[int, int, int, int], fmt: str) -> None:
    spelled = bytes(colour).hex()
    shouted = "".join(letter.upper() if index % 2 else letter for index, letter in enumerate(spelled))
    spec = parse([("bg", shouted), ("fmt", fmt)])
    assert spec == parse([("bg", spelled), ("fmt", fmt)])
    if fmt == "jpeg":  # one opaque colour, as it looks over white
        assert spec == parse([("bg", bytes(over_white(colour)).hex()), ("fmt", fmt)])
        assert spec.value("bg") in (None, over_white(colour))
    assert parse(pairs(spec.canonical_query)) == spec


# --- pixels -------------------------------------------------------------------------------------------


def rendered(source: bytes, query: str, fmt: str) -> Image.Image:
    return Image.open(io.BytesIO(render(source, parse(pairs(query.strip("&"))), fmt).data))


def seen(pixel: object) -> tuple[int, ...]:
    """A pixel as it looks: a fully transparent one is (0, 0, 0, 0) whatever colour it hides."""
    assert isinstance(pixel, tuple)
    return (0, 0, 0, 0) if len(pixel) == 4 and pixel[3] == 0 else pixel


def near(actual: object, expected: tuple[int, ...], tolerance: int = 10) -> bool:
    assert isinstance(actual, tuple), actual
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


MARKER = images.encode(images.marker((160, 120)), "PNG")


@pytest.mark.parametrize(
    ("fmt", "query", "mode", "padding"),
    [
        ("jpeg", "", "RGB", (255, 255, 255)),
        ("jpeg", "bg=0000ff", "RGB", (0, 0, 255)),
        ("jpeg", "bg=0000ff80", "RGB", (127, 127, 255)),
        ("png", "", "RGBA", (0, 0, 0, 0)),
        ("png", "bg=0000ff", "RGB", (0, 0, 255)),
        ("png", "bg=0000ff80", "RGBA", (0, 0, 255, 128)),
        ("webp", "bg=00ff00", "RGB", (0, 255, 0)),
        ("avif", "bg=0000ff80", "RGBA", (0, 0, 255, 128)),
    ],
)
def test_bg_fills_the_padding(fmt: str, query: str, mode: str, padding: tuple[int, ...]) -> None:
    result = rendered(MARKER, f"w=100&h=100&fit=pad&{query}", fmt)
    assert result.size == (100, 100)
    assert near(seen(result.convert(mode).getpixel((50, 3))), padding)
    assert near(result.convert("RGB").getpixel((10, 20)), images.RED[:3], 30), "the picture is untouched"


@pytest.mark.parametrize(
    ("fmt", "query", "mode", "behind"),
    [
        ("jpeg", "", "RGB", (255, 255, 255)),
        ("jpeg", "bg=0000ff", "RGB", (0, 0, 255)),
        ("jpeg", "bg=0000ff80", "RGB", (127, 127, 255)),
        ("png", "", "RGBA", (0, 0, 0, 0)),
        ("png", "bg=0000ff", "RGB", (0, 0, 255)),  # flattened: an opaque PNG
        ("png", "bg=0000ff80", "RGBA", (0, 0, 255, 128)),
        ("webp", "bg=000000", "RGB", (0, 0, 0)),
    ],
)
def test_bg_shows_through_transparency(fmt: str, query: str, mode: str, behind: tuple[int, ...]) -> None:
    result = rendered(images.rgba_png(), query, fmt)  # left half opaque red, right half transparent
    if mode == "RGB":
        assert result.mode in ("RGB", "L"), "flattened"
    assert near(seen(result.convert(mode).getpixel((35, 20))), behind, 3 if fmt == "png" else 10)
    assert near(result.convert("RGB").getpixel((5, 20)), (255, 0, 0), 10)


def test_a_grey_picture_keeps_a_coloured_bg_and_a_grey_one_stays_one_channel() -> None:
    coloured = rendered(MARKER, "w=100&h=100&fit=pad&gray=1&bg=ff0000", "png")
    assert coloured.mode == "RGB" and coloured.getpixel((50, 3)) == (255, 0, 0)
    r, g, b = coloured.getpixel((10, 20))  # type: ignore[misc]
    assert r == g == b, "the picture is grey, the canvas red"
    grey = rendered(MARKER, "w=100&h=100&fit=pad&gray=1&bg=808080", "jpeg")
    assert grey.mode == "L" and abs(grey.getpixel((50, 3)) - 128) <= 2  # type: ignore[operator]


# --- through HTTP: the key ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_bg_is_in_the_key_only_where_it_shows(client: Client, upload_original) -> None:
    opaque = upload_original(images.encode(images.marker((160, 120)), "JPEG"), "m.jpg")["id"]
    clear = upload_original(images.rgba_png(), "a.png")["id"]
    etag = lambda oid, query: client.get(f"/image/{oid}/?{query}")["ETag"]  # noqa: E731

    assert etag(opaque, "w=80&bg=ff0000") == etag(opaque, "w=80"), "nothing padded, nothing transparent"
    assert etag(opaque, "w=80&h=80&fit=pad&bg=ff0000") != etag(opaque, "w=80&h=80&fit=pad")
    assert etag(opaque, "w=80&h=80&bg=ff0000") == etag(opaque, "w=80&h=80"), "contain pads nothing"
    assert etag(clear, "bg=ff0000") != etag(clear, "")
    assert etag(clear, "bg=ff000080&fmt=jpeg") == etag(clear, "bg=ff7f7f&fmt=jpeg")
    assert etag(clear, "bg=ffffff&fmt=jpeg") == etag(clear, "fmt=jpeg")

    padded = client.get(f"/image/{opaque}/?w=80&h=80&fit=pad&bg=0000FF")
    assert padded.status_code == 200
    assert near(Image.open(io.BytesIO(padded.content)).convert("RGB").getpixel((40, 2)), (0, 0, 255))
    refused = client.get(f"/image/{opaque}/?bg=%23ff0000").json()
    assert (refused["param"], refused["code"]) == ("bg", "invalid_parameter")


@pytest.mark.django_db
def test_the_builder_and_the_tags_take_bg(client: Client, upload_original) -> None:
    from django.template import Context, Template

    oid = upload_original(images.encode(images.marker((160, 120)), "JPEG"), "m.jpg")["id"]
    page = client.get(f"/originals/{oid}/?w=80&h=80&fit=pad&bg=FF0000").content.decode()
    assert '<input name="bg" data-param type="text" value="FF0000" placeholder="none, e.g. ff8800">' in page
    assert client.get(f"/originals/{oid}/url/?w=80&h=80&fit=pad&bg=FF0000").json()["url"] == (
        f"/image/{oid}/?bg=ff0000&fit=pad&h=80&w=80"
    )

    class Picture:
        id, width, height = oid, 160, 120

    html = Template('{% load variant_urls %}{% variant_url p w=80 h=80 fit="pad" bg="00FF00" %}').render(
        Context({"p": Picture()})
    )
    assert html == f"/image/{oid}/?bg=00ff00&amp;fit=pad&amp;h=80&amp;w=80"
