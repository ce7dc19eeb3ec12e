"""Parse, validate and canonicalise a variant URL's query (DESIGN.md §4) into an immutable VariantSpec."""

# Decisions beyond DESIGN.md, so that one variant has one spelling and hostile input costs microseconds:
# - Parameter names are case-sensitive (`W=300` is unknown). Keyword values are lowercase only
#   (`fit=Cover` is refused), except `fmt`, which DESIGN.md makes case-insensitive; non-ASCII is never
#   folded, so look-alikes such as the Kelvin sign cannot sneak in.
# - Integers are ASCII digits only; leading zeros are accepted (`w=0300` is `w=300`, the value is the
#   canonical form) but more than nine digits are refused as out of range without converting them.
# - `flip=vh` is an alias of `hv`. `fit` only matters when both `w` and `h` are given, so it
#   is canonicalised to `contain` otherwise. `q` is dropped for lossless formats and, for a concrete
#   lossy `fmt`, when it equals that format's default; with `fmt` absent or `auto` it is kept until
#   `VariantSpec.for_output` knows the format.
# - Structural errors (unknown, repeated, empty) are reported in query order, before any value is read;
#   then values are checked in the order of `PARAMETERS`.

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Literal, TypeVar
from urllib.parse import urlencode

Fit = Literal["contain", "cover", "fill", "pad"]

OUTPUT_FORMATS = ("jpeg", "png", "webp", "avif", "gif")
LOSSY_FORMATS = frozenset({"jpeg", "webp", "avif"})
DEFAULT_QUALITY: dict[str, int] = {"jpeg": 82, "webp": 80, "avif": 60}
MAX_OUTPUT_SIDE = 8192
PARAMETERS = ("w", "h", "fit", "rotate", "flip", "fmt", "q", "preset")
# A preset fixes the geometry and quality; only these may be given beside it.
PRESET_COMPANIONS = frozenset({"preset", "fmt"})

_T = TypeVar("_T")
_DIGITS = re.compile(r"[0-9]+")
_MAX_DIGITS = 9
_ECHO_CHARS = 40
_FITS: dict[str, Fit] = {"contain": "contain", "cover": "cover", "fill": "fill", "pad": "pad"}
_FLIPS = {"h": "h", "v": "v", "hv": "hv", "vh": "hv"}
_ROTATIONS = (0, 90, 180, 270)
_FORMATS = {**{name: name for name in OUTPUT_FORMATS}, "jpg": "jpeg", "auto": "auto"}
_WEB_FORMATS = {"JPEG": "jpeg", "MPO": "jpeg", "PNG": "png", "WEBP": "webp", "GIF": "gif", "AVIF": "avif"}
_QVALUE = re.compile(r"0(\.[0-9]{0,3})?|1(\.0{0,3})?")


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


@dataclass(frozen=True, slots=True)
class VariantSpec:
    """One variant of an original, in canonical form when it comes from `parse`."""

    w: int | None = None
    h: int | None = None
    fit: Fit = "contain"
    rotate: int = 0
    flip: str = ""
    fmt: str | None = None
    q: int | None = None

    @property
    def canonical_query(self) -> str:
        """The one spelling of this spec: names sorted, defaults left out; "" for the identity."""
        items = {
            "fit": None if self.fit == "contain" else self.fit,
            "flip": self.flip or None,
            "fmt": self.fmt,
            "h": self.h,
            "q": self.q,
            "rotate": self.rotate or None,
            "w": self.w,
        }
        return urlencode([(name, str(value)) for name, value in sorted(items.items()) if value is not None])

    def for_output(self, fmt: str) -> VariantSpec:
        """This spec as rendered to the concrete format `fmt`, with `q` canonicalised for it."""
        if fmt not in OUTPUT_FORMATS:
            raise ValueError(f"for_output needs one of {', '.join(OUTPUT_FORMATS)}, got {fmt!r}")
        return replace(self, fmt=fmt, q=_quality_for(fmt, self.q))


def parse(
    pairs: Iterable[tuple[str, str]],
    *,
    max_side: int = MAX_OUTPUT_SIDE,
    ignore: frozenset[str] = frozenset(),
    presets: Mapping[str, VariantSpec] | None = None,
) -> VariantSpec:
    """Turn raw query pairs into a canonical VariantSpec, or raise InvalidSpec naming the parameter."""
    raw = _collect(pairs, ignore)
    if "preset" in raw:
        return _from_preset(raw, presets or {})
    w = _optional(raw, "w", lambda v: _integer("w", v, 1, max_side))
    h = _optional(raw, "h", lambda v: _integer("h", v, 1, max_side))
    fit = _optional(raw, "fit", lambda v: _choice("fit", v, _FITS)) or "contain"
    rotate = _optional(raw, "rotate", _rotation) or 0
    flip = _optional(raw, "flip", lambda v: _choice("flip", v, _FLIPS)) or ""
    fmt = _optional(raw, "fmt", _format)
    q = _optional(raw, "q", lambda v: _integer("q", v, 1, 100))
    if w is None or h is None:
        fit = "contain"
    if fmt is not None and fmt != "auto":
        q = _quality_for(fmt, q)
    return VariantSpec(w=w, h=h, fit=fit, rotate=rotate, flip=flip, fmt=fmt, q=q)


def _from_preset(raw: Mapping[str, str], presets: Mapping[str, VariantSpec]) -> VariantSpec:
    """`preset=<name>` (optionally with `fmt`) is the preset's spec; it is one variant with its expansion."""
    name = raw["preset"]
    if name not in presets:
        known = ", ".join(sorted(presets)) or "none are configured"
        raise InvalidSpec("preset", f"preset must be one of: {known}; got {_echo(name)}", "invalid_parameter")
    extra = sorted(set(raw) - PRESET_COMPANIONS)
    if extra:
        raise InvalidSpec(
            extra[0],
            f"{extra[0]} cannot be combined with preset; a preset fixes it (only fmt may be added)",
            "conflicting_parameter",
        )
    spec = presets[name]
    fmt = _optional(raw, "fmt", _format)
    if fmt is None:
        return spec
    return replace(spec, fmt=fmt, q=spec.q if fmt == "auto" else _quality_for(fmt, spec.q))


def output_format(
    spec: VariantSpec,
    *,
    original_format: str,
    has_alpha: bool,
    accept: str,
) -> tuple[str, bool]:
    """The concrete format to encode `spec` in, and whether it was negotiated from `accept`."""
    if spec.fmt is None:
        return default_format(original_format, has_alpha), False
    if spec.fmt == "auto":
        if accepts_webp(accept):
            return "webp", True
        return default_format(original_format, has_alpha), True
    return spec.fmt, False


def accepts_webp(accept: str) -> bool:
    """Whether an Accept header names image/webp with a non-zero q; wildcards do not count."""
    qualities = [quality for media_type, quality in _media_ranges(accept) if media_type == "image/webp"]
    return bool(qualities) and min(qualities) > 0


def _collect(pairs: Iterable[tuple[str, str]], ignore: frozenset[str]) -> dict[str, str]:
    raw: dict[str, str] = {}
    for name, value in pairs:
        if name in ignore:
            continue
        if name not in PARAMETERS:
            raise InvalidSpec(
                name,
                f"{_echo(name)} is not a parameter; use one of {', '.join(PARAMETERS)}",
                "unknown_parameter",
            )
        if name in raw:
            raise InvalidSpec(name, f"{name} is given more than once; give it once", "repeated_parameter")
        if value == "":
            raise InvalidSpec(name, f"{name} is empty; give it a value or leave it out", "empty_parameter")
        raw[name] = value
    return raw


def _optional(raw: Mapping[str, str], name: str, convert: Callable[[str], _T]) -> _T | None:
    value = raw.get(name)
    return None if value is None else convert(value)


def _integer(name: str, value: str, low: int, high: int) -> int:
    problem = f"{name} must be an integer from {low} to {high}, got {_echo(value)}"
    if not _DIGITS.fullmatch(value):
        raise InvalidSpec(name, problem, "invalid_parameter")
    # Length first: int() of a huge digit string is slow, and above 4300 digits it raises.
    if len(value) > _MAX_DIGITS or not low <= int(value) <= high:
        raise InvalidSpec(name, problem, "out_of_range")
    return int(value)


def _rotation(value: str) -> int:
    choices = ", ".join(map(str, _ROTATIONS))
    problem = f"rotate must be one of {choices} (degrees clockwise), got {_echo(value)}"
    if not _DIGITS.fullmatch(value) or len(value) > _MAX_DIGITS or int(value) not in _ROTATIONS:
        raise InvalidSpec("rotate", problem, "invalid_parameter")
    return int(value)


def _format(value: str) -> str:
    # Fold case only for ASCII: str.lower() maps some non-ASCII letters onto ASCII ones.
    return _choice("fmt", value.lower() if value.isascii() else value, _FORMATS, shown=value)


def _choice(name: str, value: str, choices: Mapping[str, _T], shown: str | None = None) -> _T:
    if value in choices:
        return choices[value]
    problem = f"{name} must be one of {', '.join(choices)}, got {_echo(value if shown is None else shown)}"
    raise InvalidSpec(name, problem, "invalid_parameter")


def _quality_for(fmt: str, q: int | None) -> int | None:
    if fmt not in LOSSY_FORMATS or q == DEFAULT_QUALITY[fmt]:
        return None
    return q


def default_format(original_format: str, has_alpha: bool) -> str:
    """The format a variant gets when `fmt` is not given: the original's if browsers show it, else JPEG or PNG."""
    web_format = _WEB_FORMATS.get(original_format.upper())
    if web_format is not None:
        return web_format
    return "png" if has_alpha else "jpeg"


def _media_ranges(accept: str) -> Iterable[tuple[str, float]]:
    for media_range in accept.split(","):
        media_type, *params = media_range.split(";")
        yield media_type.strip().lower(), _qvalue(params)


def _qvalue(params: list[str]) -> float:
    for param in params:
        key, _, value = param.partition("=")
        if key.strip().lower() == "q":
            value = value.strip()
            # A malformed weight counts as a refusal: wrongly sending WebP breaks an image, not sending it
            # only costs bytes.
            return float(value) if _QVALUE.fullmatch(value) else 0.0
    return 1.0


def _echo(text: str) -> str:
    """`text` quoted with escapes, cut short so a hostile value is not reflected whole."""
    if len(text) > _ECHO_CHARS:
        return repr(text[:_ECHO_CHARS]) + "…"
    return repr(text)
