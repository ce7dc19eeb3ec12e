"""Variant query → canonical spec or a named refusal, as tables; plus properties and format choice."""

from __future__ import annotations

import time
from contextlib import suppress
from typing import get_args
from urllib.parse import parse_qsl

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transforms.operations import REGISTRY
from transforms.spec import (
    DEFAULT_QUALITY,
    LOSSY_FORMATS,
    MAX_OUTPUT_SIDE,
    OUTPUT_FORMATS,
    Fit,
    InvalidSpec,
    VariantSpec,
    output_format,
    parse,
)

CHROME = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"
SAFARI_OLD = "image/png,image/svg+xml,image/*;q=0.8,video/*;q=0.8,*/*;q=0.5"
FIREFOX = "image/avif,image/webp,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5"
NO_DB = settings(database=None, deadline=None)


def pairs(query: str) -> list[tuple[str, str]]:
    """Split a query literally, without percent-decoding, so that trap values reach the parser unchanged."""
    if not query:
        return []
    return [(name, value) for name, _, value in (part.partition("=") for part in query.split("&"))]


ACCEPTED = [
    ("", ""),
    ("w=300", "w=300"),
    ("h=200", "h=200"),
    ("w=1", "w=1"),
    ("w=8192", "w=8192"),
    ("h=8192", "h=8192"),
    ("w=0300", "w=300"),
    ("w=000000001", "w=1"),
    ("w=300&h=200", "h=200&w=300"),
    ("h=200&w=300", "h=200&w=300"),
    ("w=300&h=200&fit=cover", "fit=cover&h=200&w=300"),
    ("fit=fill&w=300&h=200", "fit=fill&h=200&w=300"),
    ("w=300&fit=pad&h=200", "fit=pad&h=200&w=300"),
    ("w=300&h=200&fit=contain", "h=200&w=300"),
    ("w=300&fit=cover", "w=300"),
    ("h=300&fit=pad", "h=300"),
    ("fit=fill", ""),
    ("fit=contain", ""),
    ("rotate=0", ""),
    ("rotate=90", "rotate=90"),
    ("rotate=180", "rotate=180"),
    ("rotate=270", "rotate=270"),
    ("rotate=090", "rotate=90"),
    ("rotate=00", ""),
    ("flip=h", "flip=h"),
    ("flip=v", "flip=v"),
    ("flip=hv", "flip=hv"),
    ("flip=vh", "flip=hv"),
    ("fmt=jpeg", "fmt=jpeg"),
    ("fmt=jpg", "fmt=jpeg"),
    ("fmt=JPG", "fmt=jpeg"),
    ("fmt=JPEG", "fmt=jpeg"),
    ("fmt=Jpeg", "fmt=jpeg"),
    ("fmt=png", "fmt=png"),
    ("fmt=PNG", "fmt=png"),
    ("fmt=webp", "fmt=webp"),
    ("fmt=WebP", "fmt=webp"),
    ("fmt=avif", "fmt=avif"),
    ("fmt=gif", "fmt=gif"),
    ("fmt=auto", "fmt=auto"),
    ("fmt=AUTO", "fmt=auto"),
    ("q=1", "q=1"),
    ("q=100", "q=100"),
    ("q=050", "q=50"),
    ("q=82", "q=82"),
    ("fmt=auto&q=80", "fmt=auto&q=80"),
    ("fmt=jpeg&q=70", "fmt=jpeg&q=70"),
    ("fmt=jpeg&q=82", "fmt=jpeg"),
    ("fmt=jpg&q=82", "fmt=jpeg"),
    ("fmt=webp&q=80", "fmt=webp"),
    ("fmt=webp&q=82", "fmt=webp&q=82"),
    ("fmt=avif&q=60", "fmt=avif"),
    ("fmt=avif&q=100", "fmt=avif&q=100"),
    ("fmt=png&q=50", "fmt=png"),
    ("fmt=gif&q=50", "fmt=gif"),
    ("q=50&fmt=PNG", "fmt=png"),
    ("w=300&h=200&fit=cover&fmt=png&rotate=90", "fit=cover&fmt=png&h=200&rotate=90&w=300"),
    ("rotate=90&fmt=png&fit=cover&h=200&w=300", "fit=cover&fmt=png&h=200&rotate=90&w=300"),
    ("w=300&h=200&fit=cover&rotate=0&flip=h&fmt=JPG&q=82", "fit=cover&flip=h&fmt=jpeg&h=200&w=300"),
    (
        "q=75&flip=vh&rotate=270&fmt=webp&h=1&w=8192&fit=fill",
        "fit=fill&flip=hv&fmt=webp&h=1&q=75&rotate=270&w=8192",
    ),
    ("w=300&rotate=0&fit=contain", "w=300"),
    ("fmt=auto&w=640", "fmt=auto&w=640"),
]


@pytest.mark.parametrize(("query", "canonical"), ACCEPTED)
def test_accepted_queries_have_one_canonical_spelling(query: str, canonical: str) -> None:
    spec = parse(pairs(query))
    assert spec.canonical_query == canonical
    assert parse(pairs(canonical)) == spec


REFUSED = [
    # int() traps in w
    ("w= 300", "w", "invalid_parameter"),
    ("w=300 ", "w", "invalid_parameter"),
    ("w=+300", "w", "invalid_parameter"),
    ("w=3_00", "w", "invalid_parameter"),
    ("w=٣٠٠", "w", "invalid_parameter"),
    ("w=\uff13\uff10\uff10", "w", "invalid_parameter"),  # fullwidth 300
    ("w=300\n", "w", "invalid_parameter"),
    ("w=\t300", "w", "invalid_parameter"),
    ("w=0x10", "w", "invalid_parameter"),
    ("w=1e3", "w", "invalid_parameter"),
    ("w=3.0", "w", "invalid_parameter"),
    ("w=300.", "w", "invalid_parameter"),
    ("w=-1", "w", "invalid_parameter"),
    ("w=-0", "w", "invalid_parameter"),
    ("w=²", "w", "invalid_parameter"),
    ("w=300px", "w", "invalid_parameter"),
    ("w=inf", "w", "invalid_parameter"),
    ("w=NaN", "w", "invalid_parameter"),
    ("w=300\x00", "w", "invalid_parameter"),
    ("w=0", "w", "out_of_range"),
    ("w=000", "w", "out_of_range"),
    ("w=8193", "w", "out_of_range"),
    ("w=99999", "w", "out_of_range"),
    ("w=99999999999999999999", "w", "out_of_range"),
    ("w=" + "0" * 10_000 + "1", "w", "out_of_range"),
    ("w=" + "9" * 5000, "w", "out_of_range"),
    # the same traps in h
    ("h= 200", "h", "invalid_parameter"),
    ("h=+200", "h", "invalid_parameter"),
    ("h=2_00", "h", "invalid_parameter"),
    ("h=٢٠٠", "h", "invalid_parameter"),
    ("h=\uff12\uff10\uff10", "h", "invalid_parameter"),  # fullwidth 200
    ("h=0", "h", "out_of_range"),
    ("h=8193", "h", "out_of_range"),
    # look-alike and unknown names
    ("W=300", "W", "unknown_parameter"),
    ("H=300", "H", "unknown_parameter"),
    ("width=300", "width", "unknown_parameter"),
    ("height=300", "height", "unknown_parameter"),
    ("\uff57=300", "\uff57", "unknown_parameter"),  # fullwidth w
    ("w =300", "w ", "unknown_parameter"),
    (" w=300", " w", "unknown_parameter"),
    ("w\x00=300", "w\x00", "unknown_parameter"),
    ("Fmt=png", "Fmt", "unknown_parameter"),
    ("format=png", "format", "unknown_parameter"),
    ("quality=80", "quality", "unknown_parameter"),
    ("sig=abc", "sig", "unknown_parameter"),
    ("zoom=2", "zoom", "unknown_parameter"),
    ("=300", "", "unknown_parameter"),
    ("w=300&sepia=5", "sepia", "unknown_parameter"),
    # repeated names
    ("w=1&w=1", "w", "repeated_parameter"),
    ("w=1&w=2", "w", "repeated_parameter"),
    ("h=1&w=2&h=1", "h", "repeated_parameter"),
    ("fmt=png&fmt=PNG", "fmt", "repeated_parameter"),
    ("rotate=0&rotate=0", "rotate", "repeated_parameter"),
    ("q=80&q=81", "q", "repeated_parameter"),
    ("w=1&w=", "w", "repeated_parameter"),
    # empty values, including a name with no "="
    ("w=", "w", "empty_parameter"),
    ("w", "w", "empty_parameter"),
    ("h=", "h", "empty_parameter"),
    ("fit=", "fit", "empty_parameter"),
    ("rotate=", "rotate", "empty_parameter"),
    ("flip=", "flip", "empty_parameter"),
    ("fmt=", "fmt", "empty_parameter"),
    ("q=", "q", "empty_parameter"),
    # fit: lowercase words only
    ("fit=Cover", "fit", "invalid_parameter"),
    ("fit=COVER", "fit", "invalid_parameter"),
    ("fit=crop", "fit", "invalid_parameter"),
    ("fit=scale-down", "fit", "invalid_parameter"),
    ("fit=cover ", "fit", "invalid_parameter"),
    # rotate: exactly a quarter turn
    ("rotate=360", "rotate", "invalid_parameter"),
    ("rotate=-90", "rotate", "invalid_parameter"),
    ("rotate=45", "rotate", "invalid_parameter"),
    ("rotate=91", "rotate", "invalid_parameter"),
    ("rotate=+90", "rotate", "invalid_parameter"),
    ("rotate=90.0", "rotate", "invalid_parameter"),
    ("rotate=٩٠", "rotate", "invalid_parameter"),
    ("rotate=" + "9" * 1000, "rotate", "invalid_parameter"),
    # flip
    ("flip=x", "flip", "invalid_parameter"),
    ("flip=H", "flip", "invalid_parameter"),
    ("flip=hh", "flip", "invalid_parameter"),
    ("flip=hvh", "flip", "invalid_parameter"),
    ("flip=horizontal", "flip", "invalid_parameter"),
    ("flip=1", "flip", "invalid_parameter"),
    # fmt: traversal, NUL, unsupported and look-alike formats
    ("fmt=../png", "fmt", "invalid_parameter"),
    ("fmt=png/../../etc/passwd", "fmt", "invalid_parameter"),
    ("fmt=png\x00", "fmt", "invalid_parameter"),
    ("fmt=png ", "fmt", "invalid_parameter"),
    ("fmt=.png", "fmt", "invalid_parameter"),
    ("fmt=image/png", "fmt", "invalid_parameter"),
    ("fmt=tiff", "fmt", "invalid_parameter"),
    ("fmt=svg", "fmt", "invalid_parameter"),
    ("fmt=bmp", "fmt", "invalid_parameter"),
    ("fmt=heic", "fmt", "invalid_parameter"),
    ("fmt=jpe", "fmt", "invalid_parameter"),
    ("fmt=\uff50\uff4e\uff47", "fmt", "invalid_parameter"),  # fullwidth png
    ("fmt=Auto\u0130", "fmt", "invalid_parameter"),
    ("fmt=%2E%2E%2Fpng", "fmt", "invalid_parameter"),
    # q
    ("q=0", "q", "out_of_range"),
    ("q=101", "q", "out_of_range"),
    ("q=1000", "q", "out_of_range"),
    ("q=-1", "q", "invalid_parameter"),
    ("q=+80", "q", "invalid_parameter"),
    ("q=80.5", "q", "invalid_parameter"),
    ("q=high", "q", "invalid_parameter"),
    ("q=٨٠", "q", "invalid_parameter"),
    ("fmt=png&q=0", "q", "out_of_range"),
    ("fmt=png&q=x", "q", "invalid_parameter"),
    # the first structural problem in query order wins, before any value is read
    ("w=abc&W=1", "W", "unknown_parameter"),
    ("w=abc&w=1", "w", "repeated_parameter"),
    ("fmt=svg&q=", "q", "empty_parameter"),
]


@pytest.mark.parametrize(("query", "param", "code"), REFUSED)
def test_refused_queries_name_the_parameter(query: str, param: str, code: str) -> None:
    with pytest.raises(InvalidSpec) as caught:
        parse(pairs(query))
    assert (caught.value.param, caught.value.code) == (param, code)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("w=+300", "w must be an integer from 1 to 8192, got '+300'"),
        ("w=8193", "w must be an integer from 1 to 8192, got '8193'"),
        ("q=101", "q must be an integer from 1 to 100, got '101'"),
        ("rotate=45", "rotate must be one of 0, 90, 180, 270 (degrees clockwise), got '45'"),
        ("fmt=../png", "fmt must be one of jpeg, png, webp, avif, gif, jpg, auto, got '../png'"),
        ("width=300", f"'width' is not a parameter; use one of {', '.join(REGISTRY.params)}, preset"),
        ("w=1&w=2", "w is given more than once; give it once"),
        ("w=", "w is empty; give it a value or leave it out"),
    ],
)
def test_messages_say_how_to_fix_it(query: str, message: str) -> None:
    with pytest.raises(InvalidSpec) as caught:
        parse(pairs(query))
    assert caught.value.message == message == str(caught.value)


@pytest.mark.parametrize(
    "query",
    ["w=300\n", "fmt=png\r\nX-Evil: 1", "w=" + "9" * 10_000, "x" * 10_000 + "=1"],
)
def test_messages_are_one_short_line(query: str) -> None:
    with pytest.raises(InvalidSpec) as caught:
        parse(pairs(query))
    assert "\n" not in caught.value.message
    assert "\r" not in caught.value.message
    assert len(caught.value.message) < 200


def test_invalid_spec_is_a_value_error_with_attributes() -> None:
    error = InvalidSpec("w", "w must be an integer from 1 to 8192, got 'x'", "invalid_parameter")
    assert isinstance(error, ValueError)
    assert (error.param, error.code) == ("w", "invalid_parameter")


def test_max_side_overrides_the_default() -> None:
    assert parse(pairs("w=2000"), max_side=2000).w == 2000
    with pytest.raises(InvalidSpec) as caught:
        parse(pairs("w=2001"), max_side=2000)
    assert caught.value.code == "out_of_range"
    assert "from 1 to 2000" in caught.value.message
    assert parse(pairs("h=20000"), max_side=20000).h == 20000
    assert MAX_OUTPUT_SIDE == 8192


def test_ignored_names_are_skipped_even_when_repeated_or_empty() -> None:
    query = "sig=abc&w=300&sig=&sig=def"
    assert parse(pairs(query), ignore=frozenset({"sig"})) == VariantSpec(w=300)
    with pytest.raises(InvalidSpec) as caught:
        parse(pairs(query))
    assert caught.value.param == "sig"


def test_parse_accepts_percent_decoded_pairs() -> None:
    query = "w=300&fmt=JPG&flip=v%68&q=%38%32"
    assert parse(parse_qsl(query, keep_blank_values=True)) == VariantSpec(w=300, flip="hv", fmt="jpeg")
    with pytest.raises(InvalidSpec):
        parse(parse_qsl("w=%2B300", keep_blank_values=True))
    with pytest.raises(InvalidSpec):
        parse(parse_qsl("fmt=png%00", keep_blank_values=True))


def test_q_is_kept_until_the_format_is_known() -> None:
    assert parse(pairs("q=82")).q == 82
    assert parse(pairs("fmt=auto&q=60")).q == 60
    assert parse(pairs("fmt=png&q=60")).q is None


@pytest.mark.parametrize(
    "query",
    [
        "w=" + "0" * 10_000,
        "x" * 10_000 + "=1",
        "fmt=" + "a" * 10_000,
        "fit=" + "c" * 10_000,
        "&".join(["sig=1"] * 2_500),
        "&".join(["w=1"] * 2_500),
        "q=" + "٣" * 5_000,
    ],
)
def test_hostile_queries_are_cheap(query: str) -> None:
    many = pairs(query)
    started = time.perf_counter()
    for _ in range(10):
        with suppress(InvalidSpec):
            parse(many, ignore=frozenset({"sig"}))
    assert (time.perf_counter() - started) / 10 < 0.005


# --- properties ---------------------------------------------------------------------------------------

sides = st.integers(min_value=1, max_value=MAX_OUTPUT_SIDE)
fits = st.sampled_from(get_args(Fit))
formats = st.sampled_from([None, "auto", *OUTPUT_FORMATS])


@st.composite
def canonical_specs(draw: st.DrawFn) -> VariantSpec:
    """Specs as parse() produces them: the only ones that have a spelling."""
    w, h = draw(st.none() | sides), draw(st.none() | sides)
    fmt = draw(formats)
    q = draw(st.none() | st.integers(min_value=1, max_value=100))
    if fmt in OUTPUT_FORMATS and (fmt not in LOSSY_FORMATS or q == DEFAULT_QUALITY[fmt]):
        q = None
    return VariantSpec(
        w=w,
        h=h,
        fit=draw(fits) if w is not None and h is not None else "contain",
        rotate=draw(st.sampled_from([0, 90, 180, 270])),
        flip=draw(st.sampled_from(["", "h", "v", "hv"])),
        fmt=fmt,
        q=q,
        gray=draw(st.sampled_from([0, 1])),
        blur=draw(st.none() | st.integers(min_value=1, max_value=500).map(lambda tenths: tenths / 10)),
        sharpen=draw(st.none() | st.integers(min_value=1, max_value=100).map(lambda tenths: tenths / 10)),
        bg=draw(st.none() | colours(fmt)),
    )


def colours(fmt: str | None) -> st.SearchStrategy[tuple[int, ...]]:
    """The colours a canonical bg may have for `fmt`: opaque and not white for JPEG, not transparent with alpha."""
    channel = st.integers(0, 255)
    if fmt == "jpeg":
        return st.tuples(channel, channel, channel, st.just(255)).filter(lambda colour: colour != (255,) * 4)
    if fmt is None or fmt == "auto":
        return st.tuples(channel, channel, channel, channel)
    return st.tuples(channel, channel, channel, st.integers(1, 255))


def respell(draw: st.DrawFn, spec: VariantSpec) -> list[tuple[str, str]]:
    """Another accepted spelling of ``spec``: other order, defaults written out, aliases, case, zeros."""
    zeros = draw(st.text("0", max_size=3))
    sides = [(name, value) for name, value in (("w", spec.w), ("h", spec.h)) if value]
    dpr = draw(st.sampled_from([1, 2, 4]))
    spelled = [(name, zeros + str(value)) for name, value in sides]
    if dpr > 1 and all(value % dpr == 0 for _, value in sides):  # the same box, at a density
        spelled = [(name, zeros + str(value // dpr)) for name, value in sides] + [("dpr", str(dpr))]
    elif draw(st.booleans()):
        spelled.append(("dpr", draw(st.sampled_from(["1", "1.0", "01"]))))
    if spec.q is not None:
        spelled.append(("q", zeros + str(spec.q)))
    if spec.fit != "contain" or draw(st.booleans()):
        spelled.append(("fit", spec.fit))
    if spec.rotate or draw(st.booleans()):
        spelled.append(("rotate", str(spec.rotate)))
    if spec.flip:
        spelled.append(("flip", "vh" if spec.flip == "hv" and draw(st.booleans()) else spec.flip))
    if spec.fmt is not None:
        spelled.append(("fmt", respell_format(draw, spec.fmt)))
    if spec.value("gray") or draw(st.booleans()):
        spelled.append(("gray", str(spec.value("gray"))))
    if spec.value("bg") is not None:
        red, green, blue, alpha = spec.value("bg")
        hexes = bytes((red, green, blue) if alpha == 255 and draw(st.booleans()) else (red, green, blue, alpha)).hex()
        spelled.append(("bg", "".join(digit.upper() if draw(st.booleans()) else digit for digit in hexes)))
    for name in ("blur", "sharpen"):
        sigma = spec.value(name)
        if sigma is not None:
            tenths = round(sigma * 10)
            dotted = tenths % 10 or draw(st.booleans())
            spelled.append((name, zeros + (f"{tenths // 10}.{tenths % 10}" if dotted else str(tenths // 10))))
    return draw(st.permutations(spelled))


def respell_format(draw: st.DrawFn, fmt: str) -> str:
    name = "jpg" if fmt == "jpeg" and draw(st.booleans()) else fmt
    return "".join(letter.upper() if draw(st.booleans()) else letter for letter in name)


@st.composite
def spellings(draw: st.DrawFn) -> tuple[VariantSpec, list[tuple[str, str]]]:
    spec = draw(canonical_specs())
    return spec, respell(draw, spec)


@NO_DB
@given(spellings())
def test_every_spelling_gives_the_same_spec(case: tuple[VariantSpec, list[tuple[str, str]]]) -> None:
    spec, spelled = case
    parsed = parse(spelled)
    assert parsed == spec
    assert parsed.canonical_query == spec.canonical_query


@NO_DB
@given(canonical_specs())
def test_canonical_query_parses_back_to_the_spec(spec: VariantSpec) -> None:
    assert parse(parse_qsl(spec.canonical_query, keep_blank_values=True)) == spec


names = st.sampled_from(list(REGISTRY.params)) | st.text()


@NO_DB
@given(st.lists(st.tuples(names, st.text())))
def test_parse_refuses_only_with_invalid_spec(raw: list[tuple[str, str]]) -> None:
    try:
        spec = parse(raw)
    except InvalidSpec as error:
        assert error.code in {
            "invalid_parameter",
            "unknown_parameter",
            "repeated_parameter",
            "empty_parameter",
            "out_of_range",
        }
        assert "\n" not in error.message
    else:
        assert parse(parse_qsl(spec.canonical_query, keep_blank_values=True)) == spec


@NO_DB
@given(st.text())
def test_output_format_never_raises_on_any_accept_header(accept: str) -> None:
    spec = VariantSpec(fmt="auto")
    fmt, negotiated = output_format(spec, original_format="PNG", has_alpha=False, accept=accept)
    assert (fmt in {"avif", "webp", "png"}, negotiated) == (True, True)


# --- output format ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("original_format", "has_alpha", "expected"),
    [
        ("JPEG", False, "jpeg"),
        ("MPO", False, "jpeg"),
        ("PNG", False, "png"),
        ("PNG", True, "png"),
        ("WEBP", False, "webp"),
        ("WEBP", True, "webp"),
        ("GIF", False, "gif"),
        ("GIF", True, "gif"),
        ("AVIF", False, "avif"),
        ("AVIF", True, "avif"),
        ("TIFF", False, "jpeg"),
        ("TIFF", True, "png"),
        ("BMP", False, "jpeg"),
        ("BMP", True, "png"),
        ("ICO", False, "jpeg"),
        ("ICO", True, "png"),
        ("HEIF", False, "jpeg"),
        ("HEIF", True, "png"),
        ("PPM", False, "jpeg"),
    ],
)
def test_default_format_follows_the_original(original_format: str, has_alpha: bool, expected: str) -> None:
    chosen = output_format(VariantSpec(), original_format=original_format, has_alpha=has_alpha, accept=CHROME)
    assert chosen == (expected, False)


@pytest.mark.parametrize(
    ("accept", "original_format", "has_alpha", "expected"),
    [
        (CHROME, "JPEG", False, "avif"),
        (CHROME, "TIFF", True, "avif"),
        (FIREFOX, "PNG", True, "avif"),
        (SAFARI_OLD, "JPEG", False, "jpeg"),
        (SAFARI_OLD, "PNG", True, "png"),
        (SAFARI_OLD, "TIFF", False, "jpeg"),
        ("image/webp,*/*", "JPEG", False, "webp"),  # a browser with WebP and without AVIF
        ("image/avif;q=0,image/webp", "JPEG", False, "webp"),
        ("image/webp,image/avif", "JPEG", False, "avif"),  # the server's order, not the header's
        ("image/avif;q=0.1,image/webp;q=1", "JPEG", False, "avif"),
        ("IMAGE/AVIF", "JPEG", False, "avif"),
        (" image/avif ; Q=0.5 ", "JPEG", False, "avif"),
        ("image/avif;q=abc,image/webp;q=0", "JPEG", False, "jpeg"),
        ("image/avifs,image/avif-sequence", "JPEG", False, "jpeg"),
        ("image/webp;q=0", "JPEG", False, "jpeg"),
        ("image/webp; q=0.000", "JPEG", False, "jpeg"),
        ("image/webp;q=0,*/*", "JPEG", False, "jpeg"),
        ("image/webp;q=0.1", "JPEG", False, "webp"),
        ("image/webp;q=1.000", "JPEG", False, "webp"),
        ("IMAGE/WEBP", "JPEG", False, "webp"),
        (" image/webp ; Q=0.5 ", "JPEG", False, "webp"),
        ("image/webp;q=abc", "JPEG", False, "jpeg"),
        ("image/webp;q=2", "JPEG", False, "jpeg"),
        ("image/webpx", "JPEG", False, "jpeg"),
        ("image/*", "JPEG", False, "jpeg"),
        ("*/*", "GIF", False, "gif"),
        ("", "JPEG", False, "jpeg"),
        ("", "WEBP", False, "webp"),
        ("", "BMP", True, "png"),
    ],
)
def test_auto_negotiates_avif_then_webp(accept: str, original_format: str, has_alpha: bool, expected: str) -> None:
    spec = VariantSpec(fmt="auto")
    chosen = output_format(spec, original_format=original_format, has_alpha=has_alpha, accept=accept)
    assert chosen == (expected, True)


@pytest.mark.parametrize(
    ("auto_formats", "accept", "holds", "expected"),
    [
        (("webp", "avif"), CHROME, (), "webp"),  # the order is a setting
        (("avif",), "image/webp,*/*", (), "jpeg"),
        ((), CHROME, (), "jpeg"),  # AUTO_FORMATS empty: auto is the default format
        (("avif", "webp"), CHROME, ("avif",), "webp"),  # AVIF cannot hold it (its budget, an animation)
        (("avif", "webp"), CHROME, ("avif", "webp"), "jpeg"),
    ],
)
def test_auto_follows_the_setting_and_what_a_format_holds(
    auto_formats: tuple[str, ...], accept: str, holds: tuple[str, ...], expected: str
) -> None:
    chosen = output_format(
        VariantSpec(fmt="auto"),
        original_format="JPEG",
        has_alpha=False,
        accept=accept,
        auto_formats=auto_formats,
        holds=lambda fmt: fmt not in holds,
    )
    assert chosen == (expected, True)


@pytest.mark.parametrize("fmt", OUTPUT_FORMATS)
def test_a_concrete_format_is_not_negotiated(fmt: str) -> None:
    chosen = output_format(VariantSpec(fmt=fmt), original_format="TIFF", has_alpha=True, accept=CHROME)
    assert chosen == (fmt, False)


# --- for_output ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "fmt", "expected"),
    [
        (VariantSpec(q=50), "png", VariantSpec(fmt="png")),
        (VariantSpec(q=50), "gif", VariantSpec(fmt="gif")),
        (VariantSpec(fmt="auto", q=50), "png", VariantSpec(fmt="png")),
        (VariantSpec(q=82), "jpeg", VariantSpec(fmt="jpeg")),
        (VariantSpec(q=80), "webp", VariantSpec(fmt="webp")),
        (VariantSpec(q=60), "avif", VariantSpec(fmt="avif")),
        (VariantSpec(q=82), "webp", VariantSpec(fmt="webp", q=82)),
        (VariantSpec(q=50), "jpeg", VariantSpec(fmt="jpeg", q=50)),
        (VariantSpec(fmt="auto", q=50), "webp", VariantSpec(fmt="webp", q=50)),
        (VariantSpec(w=300, rotate=90), "avif", VariantSpec(w=300, rotate=90, fmt="avif")),
        (VariantSpec(), "jpeg", VariantSpec(fmt="jpeg")),
    ],
)
def test_for_output_fixes_format_and_quality(spec: VariantSpec, fmt: str, expected: VariantSpec) -> None:
    assert spec.for_output(fmt) == expected


@pytest.mark.parametrize("fmt", ["auto", "jpg", "tiff", "PNG"])
def test_for_output_needs_a_concrete_format(fmt: str) -> None:
    with pytest.raises(ValueError, match="for_output needs one of jpeg, png, webp, avif, gif"):
        VariantSpec().for_output(fmt)


def test_spec_is_immutable_and_hashable() -> None:
    spec = parse(pairs("w=300&fmt=png"))
    assert {spec: 1}[parse(pairs("fmt=PNG&w=0300"))] == 1
    with pytest.raises(AttributeError):
        spec.w = 1  # type: ignore[misc]
