"""dpr: its spellings as tables (folded into w and h, or a refusal naming dpr), its sizes, signing, builder, tags."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest
from django.template import Context, Template
from django.test import Client, override_settings
from hypothesis import given
from hypothesis import strategies as st

from transforms.operations import output_geometry
from transforms.pipeline import render
from transforms.spec import InvalidSpec, VariantSpec, parse

from . import images
from .test_spec import NO_DB, pairs

ACCEPTED = [
    ("dpr=2&w=300", "w=600"),
    ("w=300&dpr=2.0", "w=600"),
    ("w=300&dpr=02", "w=600"),
    ("w=300&dpr=1.5", "w=450"),
    ("w=301&dpr=1.5", "w=452"),  # 451.5: halves round up
    ("w=1&dpr=1.5", "w=2"),
    ("h=3&dpr=2.5", "h=8"),  # 7.5
    ("w=300&h=200&fit=cover&dpr=2", "fit=cover&h=400&w=600"),
    ("w=100&h=100&fit=pad&dpr=3.5&fmt=png", "fit=pad&fmt=png&h=350&w=350"),
    ("w=10&fit=pad&dpr=3", "w=30"),
    ("h=2048&dpr=4", "h=8192"),
    ("w=8192&dpr=1", "w=8192"),
    ("w=10&dpr=1.0", "w=10"),
    ("dpr=2", ""),  # no box: the picture's own size, which dpr may not enlarge
    ("dpr=4&rotate=90", "rotate=90"),
]


@pytest.mark.parametrize(("query", "canonical"), ACCEPTED)
def test_dpr_is_folded_into_the_box(query: str, canonical: str) -> None:
    spec = parse(pairs(query))
    assert spec.canonical_query == canonical
    assert parse(pairs(canonical)) == spec


REFUSED = [
    ("dpr=0.5", "out_of_range"),
    ("dpr=0", "out_of_range"),
    ("dpr=4.5", "out_of_range"),
    ("dpr=5", "out_of_range"),
    ("dpr=99999999999", "out_of_range"),
    ("dpr=1.25", "invalid_parameter"),
    ("dpr=1.2", "invalid_parameter"),
    ("dpr=2.00", "invalid_parameter"),
    ("dpr=2.", "invalid_parameter"),
    ("dpr=.5", "invalid_parameter"),
    ("dpr=2x", "invalid_parameter"),
    ("dpr=+2", "invalid_parameter"),
    ("dpr=2e0", "invalid_parameter"),
    ("dpr=1,5", "invalid_parameter"),
    ("dpr=\u0662", "invalid_parameter"),  # Arabic-Indic 2
    ("dpr=", "empty_parameter"),
    ("dpr=2&dpr=2", "repeated_parameter"),
    ("w=4097&dpr=2", "out_of_range"),  # 8194 pixels: beyond the largest side
    ("h=8192&dpr=1.5", "out_of_range"),
    ("w=10&h=6000&dpr=1.5", "out_of_range"),
]


@pytest.mark.parametrize(("query", "code"), REFUSED)
def test_dpr_refusals_name_it(query: str, code: str) -> None:
    with pytest.raises(InvalidSpec) as caught:
        parse(pairs(query))
    assert (caught.value.param, caught.value.code) == ("dpr", code)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            "dpr=1.2",
            "dpr must be a number from 1 to 4 in steps of 0.5, with at most one digit after the dot; got '1.2'",
        ),
        (
            "w=5000&dpr=2",
            "w=5000 at dpr=2 is 10000 pixels, more than the largest side allowed (8192); ask for a smaller w or dpr",
        ),
    ],
)
def test_dpr_says_how_to_fix_it(query: str, message: str) -> None:
    with pytest.raises(InvalidSpec) as caught:
        parse(pairs(query))
    assert caught.value.message == message


def test_the_largest_side_is_the_configured_one() -> None:
    assert parse(pairs("w=500&dpr=2"), max_side=1000) == VariantSpec(w=1000)
    with pytest.raises(InvalidSpec, match=r"more than the largest side allowed \(1000\)"):
        parse(pairs("w=501&dpr=2"), max_side=1000)


def test_a_preset_fixes_the_density_too() -> None:
    with pytest.raises(InvalidSpec) as caught:
        parse(pairs("preset=small&dpr=2"), presets={"small": VariantSpec(w=480)})
    assert (caught.value.param, caught.value.code) == ("dpr", "conflicting_parameter")


@pytest.mark.parametrize(
    ("size", "query", "expected"),
    [
        ((400, 300), "w=100&dpr=2", (200, 150)),
        ((400, 300), "w=100&dpr=1.5", (150, 112)),
        ((400, 300), "w=300&dpr=2", (400, 300)),  # never beyond the original
        ((400, 300), "w=100&h=100&fit=cover&dpr=2", (200, 200)),
        ((400, 300), "w=200&h=200&fit=cover&dpr=2", (300, 300)),  # the box shrinks, keeping its aspect
        ((400, 300), "w=100&h=100&fit=pad&dpr=4", (400, 400)),
        ((400, 300), "dpr=4", (400, 300)),
    ],
)
def test_dpr_renders_the_multiplied_box(size: tuple[int, int], query: str, expected: tuple[int, int]) -> None:
    spec = parse(pairs(query))
    rendered = render(images.encode(images.marker(size), "PNG"), spec, "png")
    assert (rendered.width, rendered.height) == expected == output_geometry(size, spec)[0]


# --- properties ---------------------------------------------------------------------------------------

densities = st.integers(min_value=2, max_value=8).map(lambda halves: halves / 2)
sides = st.integers(min_value=1, max_value=2048)


@NO_DB
@given(st.none() | sides, st.none() | sides, st.sampled_from(["contain", "cover", "fill", "pad"]), densities)
def test_dpr_is_the_multiplied_box(w: int | None, h: int | None, fit: str, dpr: float) -> None:
    given_pairs = [(name, str(value)) for name, value in (("w", w), ("h", h)) if value is not None]
    spelled = parse([*given_pairs, ("fit", fit), ("dpr", f"{dpr:g}")])
    multiplied = [(name, str(int(int(value) * dpr + 0.5))) for name, value in given_pairs]
    assert spelled == parse([*multiplied, ("fit", fit)])
    assert parse(parse_qsl(spelled.canonical_query)) == spelled


@NO_DB
@given(sides, sides, st.integers(min_value=1, max_value=2048), st.sampled_from(["contain", "cover", "fill"]), densities)
def test_dpr_never_enlarges_and_never_shrinks(width: int, height: int, w: int, fit: str, dpr: float) -> None:
    one = output_geometry((width, height), parse([("w", str(w)), ("h", str(w)), ("fit", fit)]))[0]
    more = output_geometry((width, height), parse([("w", str(w)), ("h", str(w)), ("fit", fit), ("dpr", f"{dpr:g}")]))[0]
    assert more[0] <= width and more[1] <= height
    assert more[0] >= one[0] and more[1] >= one[1]


# --- signing, builder, tags ---------------------------------------------------------------------------


@pytest.mark.django_db
@override_settings(URL_SIGNING="presets", URL_SIGNING_KEYS=["k" * 32], WIDTH_LADDER=[160, 320, 640])
def test_a_ladder_width_at_a_density_is_that_width(client: Client, upload_original) -> None:
    oid = upload_original(images.encode(images.marker((800, 600)), "JPEG"), "m.jpg")["id"]
    doubled, plain = client.get(f"/image/{oid}/?w=320&dpr=2"), client.get(f"/image/{oid}/?w=640")
    assert doubled.status_code == plain.status_code == 200, "w=320&dpr=2 is w=640, a ladder width"
    assert doubled["ETag"] == plain["ETag"]
    assert client.get(f"/image/{oid}/?w=320&dpr=2.5").status_code == 403, "800 is neither a ladder width nor a preset"


@pytest.mark.django_db
def test_the_builder_offers_dpr_as_a_decimal(client: Client, upload_original) -> None:
    oid = upload_original(images.encode(images.marker((800, 600)), "JPEG"), "m.jpg")["id"]
    page = client.get(f"/originals/{oid}/?w=200&dpr=1.5").content.decode()
    assert (
        '<input name="dpr" data-param type="number" min="1" max="4" step="0.5" inputmode="decimal" value="1.5"'
    ) in page
    assert 'name="w" data-param type="number" min="1" max="8192" step="1" inputmode="numeric"' in page
    assert client.get(f"/originals/{oid}/url/?w=200&dpr=1.5").json()["url"] == f"/image/{oid}/?w=300"
    refused = client.get(f"/originals/{oid}/url/?w=200&dpr=1.3")
    assert refused.status_code == 400 and refused.json()["param"] == "dpr"


class Picture:
    id, width, height = "abc123", 1000, 800


def tag(text: str) -> str:
    return Template("{% load variant_urls %}" + text).render(Context({"p": Picture()}))


def test_the_tags_take_dpr_and_write_densities_with_it() -> None:
    assert tag("{% variant_url p w=100 dpr=2 %}") == "/image/abc123/?w=200"
    assert tag('{% variant_url p w=100 dpr="1.5" %}') == "/image/abc123/?w=150"
    assert tag("{% variant_srcset p w=300 dpr=2 %}") == "/image/abc123/?w=600 1x, /image/abc123/?w=1200 2x"
    assert tag("{% variant_srcset p w=600 %}") == "/image/abc123/?w=600 1x, /image/abc123/?w=1200 2x"
    assert tag("{% variant_srcset p w=1000 %}") == "/image/abc123/?w=1000 1x"
    with pytest.raises(InvalidSpec):
        tag("{% variant_url p w=100 dpr=3.3 %}")
