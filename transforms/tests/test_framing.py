"""crop and gravity: spellings, resolution against the original, the plan, and the pixels (no database)."""

from __future__ import annotations

import io
from collections.abc import Callable
from decimal import Decimal
from urllib.parse import parse_qsl

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from transforms.framing import ANCHORS
from transforms.geometry import EXIF_UPRIGHT, compose, swaps_axes, to_source
from transforms.jpeg import draft_eighths
from transforms.operations import output_geometry, plan_for
from transforms.params import Limits, Rect, Source
from transforms.pipeline import render
from transforms.spec import InvalidSpec, VariantSpec, parse

from . import images
from .test_pipeline import assert_corners, opened

NO_DB = settings(database=None, deadline=None)


def pairs(query: str) -> list[tuple[str, str]]:
    """Split a query literally, without percent-decoding."""
    return [(name, value) for name, _, value in (part.partition("=") for part in query.split("&"))] if query else []


def resolved(query: str, size: tuple[int, int] = (640, 480)) -> str:
    return parse(pairs(query)).resolved(Source(*size)).canonical_query


# --- crop: spellings ------------------------------------------------------------------------------------

CROP_ACCEPTED = [
    ("crop=10,20,300,200", "crop=10,20,300,200"),
    ("crop=0,0,1,1", "crop=0,0,1,1"),
    ("crop=010,020,0300,00200", "crop=10,20,300,200"),
    ("crop=0.25,0.1,0.5,0.5", "crop=0.25,0.1,0.5,0.5"),
    ("crop=0.250,0.100000,0.50,0.5", "crop=0.25,0.1,0.5,0.5"),
    ("crop=0.0,0.0,1.0,1.0", "crop=0.0,0.0,1.0,1.0"),
    ("crop=0.000000,0.5,1.000,0.5", "crop=0.0,0.5,1.0,0.5"),
    ("crop=0.123456,0.0,0.876544,1.0", "crop=0.123456,0.0,0.876544,1.0"),
    ("w=300&crop=0.5,0.5,0.5,0.5", "crop=0.5,0.5,0.5,0.5&w=300"),
    ("crop=1,2,3,4&w=100&h=100&fit=cover", "crop=1,2,3,4&fit=cover&h=100&w=100"),
]


@pytest.mark.parametrize(("query", "canonical"), CROP_ACCEPTED)
def test_crop_spellings_have_one_canonical_form(query: str, canonical: str) -> None:
    spec = parse(pairs(query))
    assert spec.canonical_query == canonical
    assert parse(pairs(canonical)) == spec


CROP_REFUSED = [
    ("crop=", "empty_parameter"),
    ("crop", "empty_parameter"),
    ("crop=1,2,3", "invalid_parameter"),
    ("crop=1,2,3,4,5", "invalid_parameter"),
    ("crop=1,2,3,", "invalid_parameter"),
    ("crop=,1,2,3", "invalid_parameter"),
    ("crop=1;2;3;4", "invalid_parameter"),
    ("crop=1 2 3 4", "invalid_parameter"),
    ("crop=1, 2,3,4", "invalid_parameter"),
    ("crop=+1,2,3,4", "invalid_parameter"),
    ("crop=-1,2,3,4", "invalid_parameter"),
    ("crop=1_0,2,3,4", "invalid_parameter"),
    ("crop=\u0661,\u0662,\u0663,\u0664", "invalid_parameter"),  # Arabic-Indic digits
    ("crop=\uff11,\uff12,\uff13,\uff14", "invalid_parameter"),  # fullwidth digits
    ("crop=0x1,2,3,4", "invalid_parameter"),
    ("crop=1e2,2,3,4", "invalid_parameter"),
    ("crop=10px,2,3,4", "invalid_parameter"),
    ("crop=0.5,0,0.5,1", "invalid_parameter"),  # a mix of fractions and pixels
    ("crop=0,0,1,1.0", "invalid_parameter"),
    ("crop=.5,.5,.25,.25", "invalid_parameter"),
    ("crop=0.5,0.5,0.25,0.", "invalid_parameter"),
    ("crop=0,5,0,5,0,25,0,25", "invalid_parameter"),  # a decimal comma
    ("crop=1.5,0.0,0.5,0.5", "invalid_parameter"),
    ("crop=1.1,0.0,0.5,0.5", "invalid_parameter"),
    ("crop=0.1234567,0.0,0.5,0.5", "invalid_parameter"),  # seven digits
    ("crop=0.5,0.5,NaN,0.5", "invalid_parameter"),
    ("crop=0.5,0.5,inf,0.5", "invalid_parameter"),
    ("crop=-0.0,0.0,0.5,0.5", "invalid_parameter"),
    ("crop=0.5e0,0.0,0.5,0.5", "invalid_parameter"),
    ("crop=10,20,0,200", "out_of_range"),
    ("crop=10,20,300,0", "out_of_range"),
    ("crop=10,20,300,0000", "out_of_range"),
    ("crop=9999999999,0,1,1", "out_of_range"),
    ("crop=0,0,1," + "9" * 5000, "out_of_range"),
    ("crop=0.0,0.0,0.0,1.0", "out_of_range"),
    ("crop=0.0,0.0,1.0,0.000000", "out_of_range"),
    ("crop=0.5,0.0,0.6,1.0", "out_of_range"),  # beyond the right edge
    ("crop=0.0,0.9,1.0,0.2", "out_of_range"),
    ("crop=1.0,0.0,0.5,0.5", "out_of_range"),
    ("crop=1,2,3,4&crop=1,2,3,4", "repeated_parameter"),
]


@pytest.mark.parametrize(("query", "code"), CROP_REFUSED)
def test_malformed_crops_are_refused_naming_crop(query: str, code: str) -> None:
    with pytest.raises(InvalidSpec) as caught:
        parse(pairs(query))
    assert (caught.value.param, caught.value.code) == ("crop", code)
    assert "\n" not in caught.value.message and len(caught.value.message) < 200


# --- crop: resolved against the original ------------------------------------------------------------------

CROP_RESOLVED = [
    # (original size, query, the canonical query of the variant that is keyed and rendered)
    ((640, 480), "crop=0.5,0.0,0.5,1.0", "crop=320,0,320,480"),
    ((640, 480), "crop=320,0,320,480", "crop=320,0,320,480"),
    ((640, 480), "crop=0.25,0.1,0.5,0.5&w=100", "crop=160,48,320,240&w=100"),
    ((640, 480), "crop=0.0,0.0,1.0,1.0", ""),  # all of it is no crop
    ((640, 480), "crop=0,0,640,480&w=10", "w=10"),
    ((640, 480), "crop=0.333333,0.0,0.333333,1.0", "crop=213,0,214,480"),  # edges rounded half up
    ((640, 480), "crop=0.0,0.0,0.5,1.0", "crop=0,0,320,480"),
    ((3, 3), "crop=0.5,0.5,0.5,0.5", "crop=2,2,1,1"),  # 1.5 rounds up to 2
    ((1, 65000), "crop=0.0,0.5,1.0,0.00001", "crop=0,32500,1,1"),
    ((640, 480), "crop=639,479,1,1", "crop=639,479,1,1"),
]


@pytest.mark.parametrize(("size", "query", "expected"), CROP_RESOLVED)
def test_crops_resolve_to_the_pixels_they_stand_for(size: tuple[int, int], query: str, expected: str) -> None:
    assert resolved(query, size) == expected


CROP_OUTSIDE = [
    ((640, 480), "crop=600,0,41,10"),
    ((640, 480), "crop=0,400,10,81"),
    ((640, 480), "crop=640,0,1,1"),
    ((640, 480), "crop=0,0,100000,1"),
    ((640, 480), "crop=0.0,0.0,0.0001,1.0"),  # less than a pixel wide here
    ((100, 100), "crop=0.0,0.0,1.0,0.004"),
]


@pytest.mark.parametrize(("size", "query"), CROP_OUTSIDE)
def test_a_crop_that_does_not_fit_the_original_is_refused_naming_crop(size: tuple[int, int], query: str) -> None:
    with pytest.raises(InvalidSpec) as caught:
        resolved(query, size)
    assert (caught.value.param, caught.value.code) == ("crop", "out_of_range")
    assert f"{size[0]}x{size[1]}" in caught.value.message


fractions = st.integers(min_value=0, max_value=1_000_000).map(lambda n: Decimal(n) / 1_000_000)
sizes = st.tuples(st.integers(1, 20_000), st.integers(1, 20_000))


@st.composite
def fraction_rects(draw: st.DrawFn) -> Rect:
    x, y = draw(fractions), draw(fractions)
    w = draw(st.integers(1, int((1 - x) * 1_000_000)).map(lambda n: Decimal(n) / 1_000_000)) if x < 1 else None
    h = draw(st.integers(1, int((1 - y) * 1_000_000)).map(lambda n: Decimal(n) / 1_000_000)) if y < 1 else None
    if w is None or h is None:
        return Rect(Decimal(0), Decimal(0), Decimal(1), Decimal(1), fractions=True)
    return Rect(x, y, w, h, fractions=True)


def respell_fraction(draw, value: Decimal) -> str:
    text = f"{value.normalize():f}"
    text = text if "." in text else text + ".0"
    return text + "0" * draw(st.integers(0, 6 - len(text.split(".")[1])))


@NO_DB
@given(fraction_rects(), st.data())
def test_every_spelling_of_a_fraction_crop_is_one_spec(rect: Rect, data: st.DataObject) -> None:
    spelled = ",".join(respell_fraction(data.draw, part) for part in (rect.x, rect.y, rect.w, rect.h))
    spec = parse([("crop", spelled)])
    assert spec == VariantSpec(crop=rect)
    assert parse(parse_qsl(spec.canonical_query)) == spec


@NO_DB
@given(fraction_rects(), sizes)
def test_a_resolved_fraction_crop_is_its_pixel_spelling_and_lies_inside(rect: Rect, size: tuple[int, int]) -> None:
    try:
        once = VariantSpec(crop=rect).resolved(Source(*size))
    except InvalidSpec as exc:
        assert exc.param == "crop" and exc.code == "out_of_range"
        return
    crop = once.value("crop")
    if crop is None:  # the whole picture
        assert rect.in_pixels(size) == Rect(Decimal(0), Decimal(0), Decimal(size[0]), Decimal(size[1]))
        return
    assert not crop.fractions and crop.x + crop.w <= size[0] and crop.y + crop.h <= size[1]
    assert once.resolved(Source(*size)) == once, "resolving is idempotent"
    assert parse(parse_qsl(once.canonical_query)) == once, "the pixel spelling parses back to the same variant"


@NO_DB
@given(st.integers(1, 10_000), fractions, fractions)
def test_fraction_crops_that_touch_still_touch_in_pixels(width: int, a: Decimal, b: Decimal) -> None:
    left, right = sorted((a, b))
    if right in (left, Decimal(1)):
        return
    first = Rect(Decimal(0), Decimal(0), right, Decimal(1), fractions=True).in_pixels((width, 10))
    second = Rect(right, Decimal(0), 1 - right, Decimal(1), fractions=True).in_pixels((width, 10))
    assert first.x + first.w == second.x and second.x + second.w == width


# --- crop: the plan and the pixels ----------------------------------------------------------------------


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize(
    ("crop", "colour"),
    [("0,0,80,60", "tl"), ("80,0,80,60", "tr"), ("0,60,80,60", "bl"), ("80,60,80,60", "br")],
)
def test_a_crop_is_of_the_upright_picture_whatever_its_exif_orientation(orientation: int, crop: str, colour: str):
    spec = parse([("crop", crop)])
    result = opened(render(images.oriented_jpeg(orientation), spec, "png"))
    assert result.size == (80, 60)
    assert_corners(result, dict.fromkeys(("tl", "tr", "bl", "br"), images.MARKER[colour]), tolerance=40)


@pytest.mark.parametrize(
    ("query", "size", "expected"),
    [
        # the top-right (green) quadrant, then turned: w and h bound the turned crop
        ("crop=80,0,80,60&rotate=90", (60, 80), {"tl": images.GREEN, "br": images.GREEN}),
        ("crop=80,0,80,60&rotate=90&w=30", (30, 40), {"tl": images.GREEN, "br": images.GREEN}),
        ("crop=0.5,0.0,0.5,0.5&w=40", (40, 30), {"tl": images.GREEN, "br": images.GREEN}),
        # the left half (red over blue), cover-cropped to a square from its centre
        ("crop=0,0,80,120&w=40&h=40&fit=cover", (40, 40), {"tl": images.RED, "br": images.BLUE}),
        # the middle 80x60, four quadrants again, flipped
        ("crop=40,30,80,60&flip=h", (80, 60), {"tl": images.GREEN, "tr": images.RED, "bl": images.YELLOW}),
        # padded: the crop is the picture on the canvas
        ("crop=0,0,80,60&w=80&h=80&fit=pad&fmt=png", (80, 80), {}),
        # never enlarged: a 80x60 crop asked for at 400 wide stays 80x60
        ("crop=0,0,80,60&w=400", (80, 60), {"tl": images.RED, "br": images.RED}),
    ],
)
def test_crop_comes_before_resizing_and_rotating(query: str, size: tuple[int, int], expected: dict) -> None:
    spec = parse(pairs(query))
    source = images.encode(images.marker((160, 120)), "PNG")
    result = opened(render(source, spec, "png"))
    assert result.size == size
    assert_corners(result, expected, tolerance=40)


def test_a_crop_keeps_jpeg_draft_decoding() -> None:
    big = images.encode(images.marker((1600, 1200)), "JPEG", quality=90)
    spec = parse(pairs("crop=800,600,800,600&w=100"))
    with Image.open(io.BytesIO(big)) as image:
        plan = plan_for(image.size, 1, spec, alpha=False)
    assert plan.region == (800, 600, 1600, 1200) and plan.box == plan.region
    assert draft_eighths(plan, "png") < 8, "a small output of a crop still decodes at a reduced size"
    result = opened(render(big, spec, "png"))
    assert result.size == (100, 75)
    assert_corners(result, dict.fromkeys(("tl", "tr", "bl", "br"), images.YELLOW), tolerance=40)


def test_a_crop_alone_is_exact_pixels() -> None:
    source = images.encode(images.photo((64, 48)), "PNG")
    result = opened(render(source, parse(pairs("crop=5,7,20,10")), "png"))
    assert result.tobytes() == images.photo((64, 48)).crop((5, 7, 25, 17)).tobytes()


@pytest.mark.parametrize(
    ("size", "query", "canvas"),
    [
        ((6000, 5000), "crop=0,0,1000,1000", (1000, 1000)),
        ((6000, 5000), "crop=0.5,0.5,0.5,0.5&w=100", (100, 83)),
        ((640, 480), "crop=0,0,320,480&w=100&h=100&fit=pad", (100, 100)),
        ((640, 480), "crop=0,0,320,480&w=100&h=100&fit=cover&rotate=90", (100, 100)),
        ((640, 480), "crop=0,0,320,480&h=100&rotate=90", (150, 100)),
    ],
)
def test_the_output_geometry_sees_the_crop(size: tuple[int, int], query: str, canvas: tuple[int, int]) -> None:
    spec = parse(pairs(query)).resolved(Source(*size))
    assert output_geometry(size, spec)[0] == canvas


def test_a_crop_outside_the_decoded_picture_is_a_decode_error_not_a_crash() -> None:
    from transforms.pipeline import RenderError

    source = images.encode(images.marker((160, 120)), "PNG")
    with pytest.raises(RenderError, match="crop"):
        render(source, parse(pairs("crop=100,0,100,10")), "png")


# --- gravity: the compass -------------------------------------------------------------------------------

COMPASS = ["center", "n", "ne", "e", "se", "s", "sw", "w", "nw"]

GRAVITY_ACCEPTED = [
    ("w=30&h=90&fit=cover&gravity=n", "fit=cover&gravity=n&h=90&w=30"),
    ("gravity=sw&fit=cover&h=90&w=30", "fit=cover&gravity=sw&h=90&w=30"),
    ("w=30&h=90&fit=cover&gravity=w", "fit=cover&gravity=w&h=90&w=30"),
    ("w=30&h=90&fit=cover&gravity=center", "fit=cover&h=90&w=30"),  # the default
    # only fit=cover crops, so gravity means nothing elsewhere: canonicalised away, as fit is without a box
    ("w=30&h=90&gravity=n", "h=90&w=30"),
    ("w=30&h=90&fit=pad&gravity=n", "fit=pad&h=90&w=30"),
    ("w=30&h=90&fit=fill&gravity=se", "fit=fill&h=90&w=30"),
    ("w=30&fit=cover&gravity=n", "w=30"),
    ("gravity=ne", ""),
    ("crop=0,0,10,10&gravity=ne", "crop=0,0,10,10"),
]


@pytest.mark.parametrize(("query", "canonical"), GRAVITY_ACCEPTED)
def test_gravity_spellings_have_one_canonical_form(query: str, canonical: str) -> None:
    spec = parse(pairs(query))
    assert spec.canonical_query == canonical
    assert parse(pairs(canonical)) == spec


@pytest.mark.parametrize(
    "value",
    ["N", "North", "north", "top", "ce", "centre", "middle", "c", "n ", " n", "nn", "en", "n,e", "ne\x00", "\uff11",
     "\uff4e", "0.5,0.5", "fp:0.5:0.5", "focal:0.5,0.5", "1", "auto", "attention"],
)  # fmt: skip
def test_malformed_gravities_are_refused_naming_gravity(value: str) -> None:
    with pytest.raises(InvalidSpec) as caught:
        parse([("w", "30"), ("h", "90"), ("fit", "cover"), ("gravity", value)])
    assert (caught.value.param, caught.value.code) == ("gravity", "invalid_parameter")
    assert "must be one of center, n, ne, e, se, s, sw, w, nw" in caught.value.message


def reference_cover(upright: Image.Image, rotate: int, flip: str, box: tuple[int, int], gravity: str) -> Image.Image:
    """What fit=cover with `gravity` must give, with Pillow's plain calls: turn, mirror, then crop and shrink."""
    shown = upright.rotate(-rotate, expand=True)
    if "h" in flip:
        shown = shown.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    if "v" in flip:
        shown = shown.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
    scale = max(box[0] / shown.width, box[1] / shown.height)
    kept = (round(box[0] / scale), round(box[1] / scale))
    u, v = {"center": (1, 1), "n": (1, 0), "ne": (2, 0), "e": (2, 1), "se": (2, 2), "s": (1, 2), "sw": (0, 2),
            "w": (0, 1), "nw": (0, 0)}[gravity]  # fmt: skip
    x0, y0 = (shown.width - kept[0]) * u / 2, (shown.height - kept[1]) * v / 2
    return shown.resize(box, Image.Resampling.LANCZOS, box=(x0, y0, x0 + kept[0], y0 + kept[1]))


def difference(a: Image.Image, b: Image.Image) -> float:
    assert a.size == b.size
    pa, pb = a.convert("RGB").tobytes(), b.convert("RGB").tobytes()
    return sum(abs(x - y) for x, y in zip(pa, pb, strict=True)) / len(pa)


@pytest.mark.parametrize("orientation", [1, 3, 6, 8, 5])
@pytest.mark.parametrize("gravity", COMPASS)
def test_gravity_names_the_outputs_edges_after_orientation_rotate_and_flip(orientation: int, gravity: str) -> None:
    source = images.oriented_jpeg(orientation, size=(160, 120), quality=98)
    upright = images.marker((160, 120))
    for rotate in (0, 90, 180, 270):
        for flip in ("", "hv", "h"):
            for box in ((30, 90), (90, 30)):
                spec = VariantSpec(w=box[0], h=box[1], fit="cover", gravity=gravity, rotate=rotate, flip=flip)
                result = opened(render(source, spec, "png"))
                expected = reference_cover(upright, rotate, flip, box, gravity)
                assert difference(result, expected) < 6, (rotate, flip, box)


R, G, B, Y = images.RED, images.GREEN, images.BLUE, images.YELLOW


@pytest.mark.parametrize(
    ("box", "gravity", "expected"),
    [
        # the middle 80x60 of the marker holds a quarter of each quadrant; gravity moves within it, not beyond
        ("w=10&h=30", "w", {"tl": R, "tr": R, "bl": B, "br": B}),
        ("w=10&h=30", "e", {"tl": G, "tr": G, "bl": Y, "br": Y}),
        ("w=10&h=30", "ne", {"tl": G, "tr": G, "bl": Y, "br": Y}),
        ("w=30&h=10", "n", {"tl": R, "tr": G, "bl": R, "br": G}),
        ("w=30&h=10", "s", {"tl": B, "tr": Y, "bl": B, "br": Y}),
        ("w=30&h=10", "sw", {"tl": B, "tr": Y, "bl": B, "br": Y}),
    ],
)
def test_gravity_works_inside_a_crop(box: str, gravity: str, expected: dict) -> None:
    source = images.encode(images.marker((160, 120)), "PNG")
    result = opened(render(source, parse(pairs(f"crop=40,30,80,60&{box}&fit=cover&gravity={gravity}")), "png"))
    assert_corners(result, expected, tolerance=40)


@NO_DB
@given(
    st.tuples(st.integers(1, 5000), st.integers(1, 5000)),
    st.integers(1, 8),
    st.sampled_from([0, 90, 180, 270]),
    st.sampled_from(["", "h", "v", "hv"]),
    st.tuples(st.integers(1, 800), st.integers(1, 800)),
    st.sampled_from(COMPASS),
)
def test_the_kept_box_lies_inside_and_touches_the_edges_gravity_names(size, orientation, rotate, flip, box, gravity):
    spec = VariantSpec(w=box[0], h=box[1], fit="cover", gravity=gravity, rotate=rotate, flip=flip)
    plan = plan_for(size, orientation, spec, alpha=True)
    if plan.box is None:
        return  # the box has the picture's own shape: nothing is cropped
    x0, y0, x1, y1 = plan.box
    assert -1e-9 <= x0 and -1e-9 <= y0 and x1 <= size[0] + 1e-9 and y1 <= size[1] + 1e-9
    # where the box's centre is, in the output's orientation, as a fraction of the room on each axis
    corners = [to_shown((x, y), plan.transform, size) for x in (x0, x1) for y in (y0, y1)]
    left, top = min(c[0] for c in corners), min(c[1] for c in corners)
    right, bottom = max(c[0] for c in corners), max(c[1] for c in corners)
    shown = (size[1], size[0]) if swaps_axes(plan.transform) else size
    u, v = ANCHORS[gravity]
    if right - left < shown[0] - 1e-6:
        assert abs(left - u * (shown[0] - (right - left))) < 1e-6
    if bottom - top < shown[1] - 1e-6:
        assert abs(top - v * (shown[1] - (bottom - top))) < 1e-6


def to_shown(point: tuple[float, float], transform, size: tuple[int, int]) -> tuple[float, float]:
    """Where a source point lands once `transform` is applied: the inverse of to_source, found by search."""
    inverse = next(t for t in EXIF_UPRIGHT.values() if compose(transform, t) is None)
    shown = (size[1], size[0]) if swaps_axes(transform) else size
    return to_source(point, inverse, shown)


# --- gravity=focal --------------------------------------------------------------------------------------


def focal(x: str, y: str) -> Source:
    return Source(160, 120, (Decimal(x), Decimal(y)))


@pytest.mark.parametrize(
    ("query", "source", "expected"),
    [
        ("w=30&h=90&fit=cover&gravity=focal", focal("0.9", "0.5"), "fit=cover&gravity=focal:0.9000,0.5000&h=90&w=30"),
        ("w=30&h=90&fit=cover&gravity=focal", Source(160, 120), "fit=cover&h=90&w=30"),  # none set: the centre
        ("w=30&h=90&gravity=focal", focal("0.9", "0.5"), "h=90&w=30"),  # no cover: no gravity at all
        ("gravity=focal", focal("0.9", "0.5"), ""),
        ("w=30&h=90&fit=cover&gravity=n", focal("0.9", "0.5"), "fit=cover&gravity=n&h=90&w=30"),  # not the point
    ],
)
def test_gravity_focal_resolves_to_the_point_it_stands_for(query: str, source: Source, expected: str) -> None:
    spec = parse(pairs(query)).resolved(source)
    assert spec.canonical_query == expected
    assert parse(pairs(expected), limits=Limits(resolved=True)) == spec, "a render process reads it back"


@pytest.mark.parametrize(
    "value", ["focal:0.5,0.5", "focal:0.5000,0.5000", "focal", "focal:1.5000,0.5000", "focal:0.5,0.5,0.5"]
)
def test_only_a_resolved_spec_spells_a_point(value: str) -> None:
    query = [("w", "3"), ("h", "9"), ("fit", "cover"), ("gravity", value)]
    if value != "focal":
        with pytest.raises(InvalidSpec) as caught:
            parse(query)
        assert caught.value.param == "gravity"
    if value in ("focal:1.5000,0.5000", "focal:0.5,0.5,0.5"):
        with pytest.raises(InvalidSpec):
            parse(query, limits=Limits(resolved=True))


def reference_focal(upright: Image.Image, rotate: int, box: tuple[int, int], point: tuple[float, float]):
    """What gravity=focal must give, with Pillow's plain calls: in the turned picture, the kept box centred on the
    point (turned with it), pushed back inside."""
    shown = upright.rotate(-rotate, expand=True)
    px, py = point[0] * upright.width, point[1] * upright.height
    height = upright.height
    for _ in range(rotate // 90):  # a quarter turn clockwise takes (x, y) to (height - y, x), width to height
        px, py, height = height - py, px, (upright.width if height == upright.height else upright.height)
    scale = max(box[0] / shown.width, box[1] / shown.height)
    kw, kh = box[0] / scale, box[1] / scale
    x0 = min(max(px - kw / 2, 0), shown.width - kw)
    y0 = min(max(py - kh / 2, 0), shown.height - kh)
    return shown.resize(box, Image.Resampling.LANCZOS, box=(x0, y0, x0 + kw, y0 + kh))


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("point", [("0.1", "0.1"), ("0.9", "0.2"), ("0.45", "0.95"), ("1.0", "1.0"), ("0.0", "0.6")])
def test_the_focal_point_is_a_point_of_the_upright_picture(orientation: int, point: tuple[str, str]) -> None:
    source = images.oriented_jpeg(orientation, size=(160, 120), quality=98)
    for rotate in (0, 90, 270):
        for box in ((10, 60), (60, 10)):
            query = f"w={box[0]}&h={box[1]}&fit=cover&gravity=focal&rotate={rotate}"
            result = opened(render(source, parse(pairs(query)).resolved(focal(*point)), "png"))
            expected = reference_focal(images.marker((160, 120)), rotate, box, (float(point[0]), float(point[1])))
            assert difference(result, expected) < 6, (rotate, box)


@pytest.mark.parametrize(
    ("point", "box"),
    [
        (("0.5", "0.5"), (60, 0, 100, 120)),  # the middle
        (("0.0", "0.0"), (0, 0, 40, 120)),  # as close as the picture allows: against the left edge
        (("0.9", "0.5"), (120, 0, 160, 120)),
        (("0.3", "0.5"), (28, 0, 68, 120)),
    ],
)
def test_the_box_is_centred_on_the_point_as_near_as_the_picture_allows(point, box) -> None:
    spec = parse(pairs("w=30&h=90&fit=cover&gravity=focal")).resolved(focal(*point))
    assert plan_for((160, 120), 1, spec, alpha=True).box == box


@NO_DB
@given(
    st.tuples(st.integers(2, 4000), st.integers(2, 4000)),
    st.integers(1, 8),
    st.tuples(st.integers(1, 500), st.integers(1, 500)),
    st.tuples(fractions, fractions),
    st.booleans(),
)
def test_the_kept_box_holds_the_focal_point_when_the_crop_does(size, orientation, box, point, cropped) -> None:
    upright = (size[1], size[0]) if orientation >= 5 else size
    values = {"w": box[0], "h": box[1], "fit": "cover", "gravity": "focal"}
    if cropped:
        values["crop"] = Rect(Decimal(0), Decimal(0), Decimal(upright[0] // 2 or 1), Decimal(upright[1]))
    spec = VariantSpec(**values).resolved(Source(upright[0], upright[1], focal=(point[0], point[1])))
    plan = plan_for(size, orientation, spec, alpha=True)
    if plan.box is None:
        return
    region = plan.region or (0, 0, *size)
    x0, y0, x1, y1 = plan.box
    assert region[0] - 1e-6 <= x0 and x1 <= region[2] + 1e-6 and region[1] - 1e-6 <= y0 and y1 <= region[3] + 1e-6
    px, py = to_source((float(point[0]) * upright[0], float(point[1]) * upright[1]), plan.orient, size)
    inside = region[0] <= px <= region[2] and region[1] <= py <= region[3]
    if inside:
        assert x0 - 1e-6 <= px <= x1 + 1e-6 and y0 - 1e-6 <= py <= y1 + 1e-6


# --- gravity=smart --------------------------------------------------------------------------------------

SUBJECTS = [
    # (picture size, the subject's box, the output box): the output cannot hold all of the picture
    ((1200, 800), (60, 300, 260, 500), (300, 600)),  # at the far left of a landscape, cropped to a portrait
    ((1200, 800), (900, 80, 1100, 280), (300, 600)),  # top right
    ((1200, 800), (500, 520, 700, 720), (600, 150)),  # low in the middle, cropped to a banner
    ((800, 1200), (300, 40, 500, 240), (400, 300)),  # the top of a portrait
    ((800, 1200), (560, 950, 760, 1150), (400, 300)),  # its bottom right
]


def kept_box(source: bytes, spec: VariantSpec) -> tuple[float, float, float, float]:
    """The box of the upright picture that a render keeps (orientation 1), through the pipeline's own steps."""
    from transforms.operations import refine_all

    with Image.open(io.BytesIO(source)) as image:
        image.load()
        plan = refine_all(image, plan_for(image.size, 1, spec, alpha=False))
    assert plan.box is not None
    return plan.box


def holds(box: tuple[float, float, float, float], subject: tuple[int, int, int, int]) -> bool:
    return box[0] <= subject[0] and box[1] <= subject[1] and subject[2] <= box[2] and subject[3] <= box[3]


@pytest.mark.parametrize(("size", "subject", "output"), SUBJECTS)
def test_a_smart_crop_keeps_the_subject_where_the_centre_would_lose_it(size, subject, output) -> None:
    source = images.encode(images.scene(size, subject), "JPEG", quality=90)
    query = f"w={output[0]}&h={output[1]}&fit=cover"
    assert not holds(kept_box(source, parse(pairs(query))), subject), "the centre misses it: the case is a real one"
    box = kept_box(source, parse(pairs(query + "&gravity=smart")))
    assert holds(box, subject), box
    rendered = opened(render(source, parse(pairs(query + "&gravity=smart")), "png"))
    assert rendered.size == output


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_a_smart_crop_reads_the_picture_whatever_its_exif_orientation(orientation: int) -> None:
    subject = (60, 300, 260, 500)
    upright = images.scene((1200, 800), subject)
    stored = upright.transpose(images.STORED_AS[orientation])  # type: ignore[arg-type]
    exif = Image.Exif()
    exif[0x0112] = orientation
    source = images.encode(stored, "JPEG", quality=90, exif=exif.tobytes())
    result = opened(render(source, parse(pairs("w=300&h=600&fit=cover&gravity=smart&fmt=png")), "png"))
    expected = upright.resize((300, 600), Image.Resampling.LANCZOS, box=(0, 0, 400, 800))
    assert difference(result, expected) < 12, "the left third, where the subject is"


def test_a_smart_crop_stays_inside_the_crop() -> None:
    subject = (60, 300, 260, 500)
    source = images.encode(images.scene((1200, 800), subject), "JPEG", quality=90)
    spec = parse(pairs("crop=600,0,600,800&w=100&h=400&fit=cover&gravity=smart"))
    box = kept_box(source, spec)
    assert 600 <= box[0] and box[2] <= 1200, "the subject is outside the crop: the box does not follow it out"


SMART_ODDITIES: dict[str, tuple[Callable[[], bytes], tuple[int, int]]] = {
    # a picture with nothing to find, an animation (one box for every frame), a 16-bit grey strip, alpha
    "flat": (lambda: images.encode(Image.new("RGB", (300, 200), (120, 120, 120)), "PNG"), (10, 20)),
    "animated": (lambda: images.animation("GIF"), (10, 20)),
    "grey 16-bit": (images.gray16_png, (4, 8)),  # 256x8 is never enlarged: the box shrinks to fit
    "rgba": (images.rgba_png, (10, 20)),
}


@pytest.mark.parametrize("picture", SMART_ODDITIES)
def test_a_smart_crop_of_pictures_with_no_subject_or_odd_modes_still_renders(picture: str) -> None:
    make, size = SMART_ODDITIES[picture]
    rendered = render(make(), parse(pairs("w=10&h=20&fit=cover&gravity=smart")), "gif")
    assert (rendered.width, rendered.height) == size


def test_smart_is_a_variant_of_its_own() -> None:
    centre, smart = parse(pairs("w=3&h=9&fit=cover")), parse(pairs("w=3&h=9&fit=cover&gravity=smart"))
    assert smart != centre and smart.canonical_query == "fit=cover&gravity=smart&h=9&w=3"
    assert parse(pairs("w=3&gravity=smart")) == parse(pairs("w=3")), "no cover, no gravity"
