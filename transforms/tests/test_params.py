"""Parameter types on their own: what each reads, how it writes it back, and what it refuses (as tables)."""

from __future__ import annotations

import time
from contextlib import suppress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from transforms.params import InvalidSpec, Limits, Tenths

from .test_spec import NO_DB

SIGMA = Tenths("s", None, low=0.1, high=50)
DENSITY = Tenths("d", 1.0, low=1, high=4, step=0.5)


@pytest.mark.parametrize(
    ("param", "value", "expected", "spelled"),
    [
        (SIGMA, "0.1", 0.1, "0.1"),
        (SIGMA, "2", 2.0, "2"),
        (SIGMA, "2.0", 2.0, "2"),
        (SIGMA, "02.5", 2.5, "2.5"),
        (SIGMA, "000000050", 50.0, "50"),
        (SIGMA, "49.9", 49.9, "49.9"),
        (SIGMA, "0.3", 0.3, "0.3"),
        (DENSITY, "1", 1.0, "1"),
        (DENSITY, "1.5", 1.5, "1.5"),
        (DENSITY, "4.0", 4.0, "4"),
        (DENSITY, "3.5", 3.5, "3.5"),
    ],
)
def test_tenths_read_and_written(param: Tenths, value: str, expected: float, spelled: str) -> None:
    assert param.parse(value, Limits()) == expected
    assert param.format(expected) == spelled


@pytest.mark.parametrize(
    ("param", "value", "code"),
    [
        (SIGMA, "0", "out_of_range"),
        (SIGMA, "0.0", "out_of_range"),
        (SIGMA, "50.1", "out_of_range"),
        (SIGMA, "1" * 10, "out_of_range"),
        (SIGMA, "0" * 10_000 + "1", "out_of_range"),
        (SIGMA, "2.55", "invalid_parameter"),
        (SIGMA, "2.50", "invalid_parameter"),
        (SIGMA, ".5", "invalid_parameter"),
        (SIGMA, "2.", "invalid_parameter"),
        (SIGMA, "2,5", "invalid_parameter"),
        (SIGMA, "+2", "invalid_parameter"),
        (SIGMA, "-2", "invalid_parameter"),
        (SIGMA, " 2", "invalid_parameter"),
        (SIGMA, "2 ", "invalid_parameter"),
        (SIGMA, "2\n", "invalid_parameter"),
        (SIGMA, "2e0", "invalid_parameter"),
        (SIGMA, "1_0", "invalid_parameter"),
        (SIGMA, "inf", "invalid_parameter"),
        (SIGMA, "nan", "invalid_parameter"),
        (SIGMA, "0x2", "invalid_parameter"),
        (SIGMA, "٢", "invalid_parameter"),
        (SIGMA, "2.\u0665", "invalid_parameter"),  # Arabic-Indic 5 after the dot
        (SIGMA, "\uff12", "invalid_parameter"),  # fullwidth 2
        (SIGMA, "½", "invalid_parameter"),
        (DENSITY, "1.2", "invalid_parameter"),
        (DENSITY, "0.5", "out_of_range"),
        (DENSITY, "4.5", "out_of_range"),
        (DENSITY, "1.25", "invalid_parameter"),
    ],
)
def test_tenths_refused(param: Tenths, value: str, code: str) -> None:
    with pytest.raises(InvalidSpec) as caught:
        param.parse(value, Limits())
    assert (caught.value.param, caught.value.code) == (param.name, code)


def test_tenths_say_what_they_take() -> None:
    with pytest.raises(InvalidSpec) as caught:
        DENSITY.parse("1.2", Limits())
    assert caught.value.message == (
        "d must be a number from 1 to 4 in steps of 0.5, with at most one digit after the dot; got '1.2'"
    )
    with pytest.raises(InvalidSpec) as caught:
        SIGMA.parse("x" * 100, Limits())
    assert caught.value.message.startswith("s must be a number from 0.1 to 50, with at most one digit after the dot")
    assert len(caught.value.message) < 200


def test_hostile_tenths_are_cheap() -> None:
    started = time.perf_counter()
    for value in ("9" * 100_000, "0" * 100_000 + ".5", "1." + "1" * 100_000):
        with suppress(InvalidSpec):
            SIGMA.parse(value, Limits())
    assert time.perf_counter() - started < 0.05


@NO_DB
@given(st.integers(min_value=1, max_value=500), st.text("0", max_size=3), st.booleans())
def test_every_tenth_in_range_reads_back_from_its_spelling(tenths: int, zeros: str, dotted: bool) -> None:
    value = tenths / 10
    spelled = SIGMA.format(value)
    assert SIGMA.parse(spelled, Limits()) == value
    if dotted and "." not in spelled:
        spelled += ".0"
    assert SIGMA.parse(zeros + spelled, Limits()) == value
