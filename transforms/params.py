"""Parameter types of variant URLs: how one query value is parsed strictly, spelled canonically and offered."""

# Strictness, the same for every parameter: integers are ASCII digits only (Python's int() would take ' 300',
# '+300', '3_00' and '٣٠٠'), at most nine of them (int() of a long digit string is slow, and above 4300 digits
# it raises); decimals are such digits and at most one more after a dot (never float(), which takes 'inf' and
# '1e1'); keywords are matched exactly, and only a parameter that says so folds ASCII case (str.lower()
# maps some non-ASCII letters onto ASCII ones). Nothing is clamped. Every refusal names its parameter.

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal
from typing import Any, Generic, TypeVar

T = TypeVar("T")

_DIGITS = re.compile(r"[0-9]+")
_TENTHS = re.compile(r"([0-9]+)(?:\.([0-9]))?")
_HEX_COLOUR = re.compile(r"[0-9A-Fa-f]{6}(?:[0-9A-Fa-f]{2})?")  # ASCII only: re's [0-9A-F] is not \d
_MAX_DIGITS = 9
# A fraction of a side: 0 to 1 with a dot and one to six digits after it (a millionth of 65,000 px is 0.07 px).
_FRACTION = re.compile(r"0\.[0-9]{1,6}|1\.0{1,6}")
_ECHO_CHARS = 40


class InvalidSpec(ValueError):
    """A variant query that cannot be served; `param` names the culprit, `code` is stable."""

    status = 400

    def __init__(self, param: str, message: str, code: str) -> None:
        super().__init__(message)
        self.param = param
        self.message = message
        self.code = code

    def __repr__(self) -> str:
        return f"InvalidSpec(param={self.param!r}, message={self.message!r}, code={self.code!r})"


@dataclass(frozen=True)
class Limits:
    """The settings' bounds that parsing needs, passed in as a value (the parser reads no settings)."""

    max_side: int = 8192
    # Also read the spellings only a resolved spec has (`gravity=focal:x,y`): a render process reads specs the
    # web worker resolved; a URL may not spell them.
    resolved: bool = False


@dataclass(frozen=True)
class Source:
    """What a spec is resolved against (`VariantSpec.resolved`): the original's recorded facts that a parameter
    may refer to, so that relative spellings become absolute ones before the cache key is made."""

    width: int  # upright, after EXIF orientation
    height: int
    focal: tuple[Decimal, Decimal] | None = None  # the focal point, fractions of width and height; None: unset


def echo(text: str) -> str:
    """`text` quoted with escapes, cut short so a hostile value is not reflected whole."""
    if len(text) > _ECHO_CHARS:
        return repr(text[:_ECHO_CHARS]) + "…"
    return repr(text)


@dataclass(frozen=True)
class Param(Generic[T]):
    """One query parameter: its name, its default, and (in subclasses) how a value is read and written.

    `label`, `placeholder` and `doc` describe it to people: the URL builder's field and the README's table.
    """

    name: str
    default: T
    label: str = ""
    placeholder: str = ""
    doc: str = ""

    def parse(self, value: str, limits: Limits) -> T:
        raise NotImplementedError(f"{type(self).__name__} must say how {self.name} is read")

    def format(self, value: T) -> str:
        """The canonical spelling of a value (the one `parse` maps every other spelling onto)."""
        return str(value)

    def offer(self) -> tuple[tuple[str, str], ...] | None:
        """(value, label) pairs a form can offer, canonical values only; None for free input."""
        return None

    def bounds(self, limits: Limits) -> tuple[float, float] | None:
        """(min, max) of a number input, or None."""
        return None

    def schema(self, limits: Limits) -> dict[str, Any]:
        """The OpenAPI schema of the values it accepts (transforms/openapi.py documents /image/ with it)."""
        return {"type": "string"}

    def increment(self) -> float:
        """The step of a number input: what one click of its arrows adds."""
        return 1


@dataclass(frozen=True)
class Integer(Param[int | None]):
    """A whole number from `low` to `high` (or to the configured MAX_OUTPUT_SIDE when `high` is None)."""

    low: int = 1
    high: int | None = None

    def bounds(self, limits: Limits) -> tuple[int, int]:
        return self.low, limits.max_side if self.high is None else self.high

    def schema(self, limits: Limits) -> dict[str, Any]:
        low, high = self.bounds(limits)
        return {"type": "integer", "minimum": low, "maximum": high}

    def parse(self, value: str, limits: Limits) -> int:
        low, high = self.bounds(limits)
        problem = f"{self.name} must be an integer from {low} to {high}, got {echo(value)}"
        if not _DIGITS.fullmatch(value):
            raise InvalidSpec(self.name, problem, "invalid_parameter")
        if len(value) > _MAX_DIGITS or not low <= int(value) <= high:
            raise InvalidSpec(self.name, problem, "out_of_range")
        return int(value)


@dataclass(frozen=True)
class Tenths(Param[float | None]):
    """A number from `low` to `high` in steps of `step`, with at most one digit after the dot: `2`, `2.0`, `02.5`.

    Read exactly, in tenths (never through float(), which takes ' 2', '2e0', 'inf' and '٢'); written without a
    trailing `.0`, so `2.0` and `2` are one spelling. Leading zeros are accepted, as integers accept them.
    """

    low: float = 0.1
    high: float = 1.0
    step: float = 0.1

    def bounds(self, limits: Limits) -> tuple[float, float]:
        return self.low, self.high

    def increment(self) -> float:
        return self.step

    def schema(self, limits: Limits) -> dict[str, Any]:
        return {"type": "number", "minimum": self.low, "maximum": self.high, "multipleOf": self.step}

    def parse(self, value: str, limits: Limits) -> float:
        low, high, step = (round(bound * 10) for bound in (self.low, self.high, self.step))
        match = _TENTHS.fullmatch(value)
        if match is None:
            raise InvalidSpec(self.name, self._problem(value), "invalid_parameter")
        whole, tenth = match.groups()
        if len(whole) > _MAX_DIGITS or not low <= int(whole) * 10 + int(tenth or 0) <= high:
            raise InvalidSpec(self.name, self._problem(value), "out_of_range")
        tenths = int(whole) * 10 + int(tenth or 0)
        if (tenths - low) % step:
            raise InvalidSpec(self.name, self._problem(value), "invalid_parameter")
        return tenths / 10

    def format(self, value: float | None) -> str:
        assert value is not None, f"{self.name} has no spelling for its default"
        whole, tenth = divmod(round(value * 10), 10)
        return f"{whole}.{tenth}" if tenth else str(whole)

    def _problem(self, value: str) -> str:
        steps = "" if round(self.step * 10) == 1 else f" in steps of {self.format(self.step)}"
        return (
            f"{self.name} must be a number from {self.format(self.low)} to {self.format(self.high)}{steps}, with "
            f"at most one digit after the dot; got {echo(value)}"
        )


Colour = tuple[int, int, int, int]  # sRGB red, green, blue and alpha, 0..255 each


@dataclass(frozen=True)
class HexColour(Param[Colour | None]):
    """A colour as RRGGBB or RRGGBBAA hex digits in any case; written lowercase, and without an alpha of ff, so
    `FF8800`, `ff8800` and `ff8800ff` are one spelling."""

    def schema(self, limits: Limits) -> dict[str, Any]:
        return {"type": "string", "pattern": "^([0-9A-Fa-f]{6}|[0-9A-Fa-f]{8})$"}

    def parse(self, value: str, limits: Limits) -> Colour:
        if not _HEX_COLOUR.fullmatch(value):
            hint = " (without the #)" if value.startswith("#") else ""
            raise InvalidSpec(
                self.name,
                f"{self.name} must be a colour as RRGGBB or RRGGBBAA hex digits{hint}, e.g. ff8800 or ff880080; "
                f"got {echo(value)}",
                "invalid_parameter",
            )
        red, green, blue, *alpha = bytes.fromhex(value)
        return red, green, blue, alpha[0] if alpha else 255

    def format(self, value: Colour | None) -> str:
        assert value is not None, f"{self.name} has no spelling for its default"
        return bytes(value if value[3] != 255 else value[:3]).hex()


@dataclass(frozen=True)
class Choice(Param[Any]):
    """One of a fixed set of spellings, each mapped to its value (aliases map to the same value).

    `offered` are the spellings a form shows, with their labels ("" is the default, shown by its label).
    """

    spellings: Mapping[str, Any] = field(default_factory=dict)
    offered: Mapping[str, str] = field(default_factory=dict)
    fold_case: bool = False
    hint: str = ""  # said after the choices in a refusal, e.g. "(degrees clockwise)"

    def parse(self, value: str, limits: Limits) -> Any:
        key = value.lower() if self.fold_case and value.isascii() else value
        if key in self.spellings:
            return self.spellings[key]
        hint = f" {self.hint}" if self.hint else ""
        problem = f"{self.name} must be one of {', '.join(self.spellings)}{hint}, got {echo(value)}"
        raise InvalidSpec(self.name, problem, "invalid_parameter")

    def offer(self) -> tuple[tuple[str, str], ...]:
        return tuple(self.offered.items())

    def schema(self, limits: Limits) -> dict[str, Any]:
        spellings = list(self.spellings)
        if self.fold_case:  # any ASCII letter case: a pattern says it, an enum cannot
            return {"type": "string", "pattern": "^(?i:" + "|".join(spellings) + ")$", "example": spellings[0]}
        return {"type": "string", "enum": spellings}


@dataclass(frozen=True)
class QuarterTurn(Param[int]):
    """Degrees clockwise, a quarter turn at a time: digits only, leading zeros allowed."""

    turns: tuple[int, ...] = (0, 90, 180, 270)

    def parse(self, value: str, limits: Limits) -> int:
        choices = ", ".join(map(str, self.turns))
        problem = f"{self.name} must be one of {choices} (degrees clockwise), got {echo(value)}"
        if not _DIGITS.fullmatch(value) or len(value) > _MAX_DIGITS or int(value) not in self.turns:
            raise InvalidSpec(self.name, problem, "invalid_parameter")
        return int(value)

    def offer(self) -> tuple[tuple[str, str], ...]:
        return tuple((str(turn), f"{turn}°") for turn in self.turns)

    def schema(self, limits: Limits) -> dict[str, Any]:
        return {"type": "integer", "enum": list(self.turns)}


@dataclass(frozen=True)
class Rect:
    """A rectangle of the upright picture: whole pixels, or (`fractions`) exact fractions of its sides."""

    x: Decimal
    y: Decimal
    w: Decimal
    h: Decimal
    fractions: bool = False

    def in_pixels(self, size: tuple[int, int]) -> Rect:
        """The same rectangle in whole pixels of a picture of `size`: its edges rounded half up, so two
        fractions that touch still touch. Pixels are returned as they are."""
        if not self.fractions:
            return self
        width, height = size
        left, top = _half_up(self.x * width), _half_up(self.y * height)
        right, bottom = _half_up((self.x + self.w) * width), _half_up((self.y + self.h) * height)
        return Rect(Decimal(left), Decimal(top), Decimal(right - left), Decimal(bottom - top))

    def box(self) -> tuple[float, float, float, float]:
        """(left, top, right, bottom) as Pillow takes a box."""
        return float(self.x), float(self.y), float(self.x + self.w), float(self.y + self.h)


def _half_up(value: Decimal) -> int:
    return int((value + Decimal("0.5")).to_integral_value(rounding=ROUND_FLOOR))


def _fraction_text(value: Decimal) -> str:
    text = f"{value.normalize():f}"
    return text if "." in text else text + ".0"


@dataclass(frozen=True)
class Rectangle(Param[Rect | None]):
    """`x,y,w,h`: four whole pixels (ASCII digits), or four fractions of the sides written with a dot
    (`0.25,0.1,0.5,0.5`); never a mix. A fraction rectangle must lie inside the picture here; a pixel one is
    checked against the original's size when the spec is resolved."""

    def parse(self, value: str, limits: Limits) -> Rect:
        parts = value.split(",")
        usage = f"{self.name} must be x,y,w,h in pixels (e.g. 10,20,300,200) or in fractions written with a dot"
        if len(parts) != 4:
            raise InvalidSpec(self.name, f"{usage} (e.g. 0.25,0.1,0.5,0.5); got {echo(value)}", "invalid_parameter")
        if all(_DIGITS.fullmatch(part) for part in parts):
            return self._pixels(parts, value)
        if all(_FRACTION.fullmatch(part) for part in parts):
            return self._fractions(parts, value)
        problem = f"{usage}, 0.0 to 1.0 with at most six digits after it, not a mix; got {echo(value)}"
        raise InvalidSpec(self.name, problem, "invalid_parameter")

    def _pixels(self, parts: list[str], value: str) -> Rect:
        if any(len(part) > _MAX_DIGITS for part in parts):
            raise InvalidSpec(self.name, f"{self.name} is out of range: got {echo(value)}", "out_of_range")
        x, y, w, h = (Decimal(int(part)) for part in parts)
        if not (w and h):
            problem = f"{self.name}'s width and height must be at least 1, got {echo(value)}"
            raise InvalidSpec(self.name, problem, "out_of_range")
        return Rect(x, y, w, h)

    def _fractions(self, parts: list[str], value: str) -> Rect:
        x, y, w, h = (Decimal(part) for part in parts)
        if not (w and h):
            problem = f"{self.name}'s width and height must be more than 0.0, got {echo(value)}"
            raise InvalidSpec(self.name, problem, "out_of_range")
        if x + w > 1 or y + h > 1:
            problem = f"{self.name} must lie inside the picture: x + w and y + h at most 1.0, got {echo(value)}"
            raise InvalidSpec(self.name, problem, "out_of_range")
        return Rect(x, y, w, h, fractions=True)

    def schema(self, limits: Limits) -> dict[str, Any]:
        pixels, fraction = "[0-9]{1,9}", "(0\\.[0-9]{1,6}|1\\.0{1,6})"
        return {"type": "string", "pattern": f"^({pixels}(,{pixels}){{3}}|{fraction}(,{fraction}){{3}})$"}

    def format(self, value: Rect | None) -> str:
        assert value is not None
        if value.fractions:
            return ",".join(_fraction_text(part) for part in (value.x, value.y, value.w, value.h))
        return ",".join(str(int(part)) for part in (value.x, value.y, value.w, value.h))
