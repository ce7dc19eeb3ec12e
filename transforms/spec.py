"""Parse, validate and canonicalise a variant URL's query (DESIGN.md §4) into an immutable VariantSpec.

Which parameters exist, how each value is read and written, and how spellings collapse into one variant is
declared by the operations (transforms/operations.py); this module only walks the registry.
"""

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
#   then values are checked in the registry's order.

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import FrozenInstanceError
from typing import Any, Literal, cast
from urllib.parse import urlencode

from transforms.formats import AUTO_FORMATS, DEFAULT_QUALITY, LOSSY_FORMATS, OUTPUT_FORMATS, default_format
from transforms.operations import REGISTRY
from transforms.params import InvalidSpec, Limits, Source, echo

__all__ = [
    "DEFAULT_QUALITY",
    "LOSSY_FORMATS",
    "MAX_OUTPUT_SIDE",
    "OUTPUT_FORMATS",
    "PRESET",
    "Fit",
    "InvalidSpec",
    "Limits",
    "Source",
    "VariantSpec",
    "accepts",
    "default_format",
    "output_format",
    "parse",
]

Fit = Literal["contain", "cover", "fill", "pad"]

MAX_OUTPUT_SIDE = Limits().max_side
PRESET = "preset"
# A preset fixes the geometry and quality; only these may be given beside it.
PRESET_COMPANIONS = frozenset({PRESET, "fmt"})
_QVALUE = re.compile(r"0(\.[0-9]{0,3})?|1(\.0{0,3})?")


class VariantSpec:
    """One variant of an original: the value of each registered parameter that differs from its default.

    Immutable and hashable; two specs are equal when they name the same variant. It is canonical when it comes
    from `parse` (or `canonical`); code may build others, e.g. `VariantSpec(w=300, fmt="webp")`.
    """

    __slots__ = ("_items",)
    _items: tuple[tuple[str, Any], ...]

    def __init__(self, **values: Any) -> None:
        params = REGISTRY.params
        items = []
        for name, value in values.items():
            param = params.get(name)
            if param is None:
                raise TypeError(f"VariantSpec has no parameter {name!r}; the registry has {', '.join(params)}")
            if value != param.default:
                items.append((name, value))
        object.__setattr__(self, "_items", tuple(sorted(items)))

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def value(self, name: str) -> Any:
        """The value of parameter `name`: as given, or its default."""
        for item_name, value in self._items:
            if item_name == name:
                return value
        return REGISTRY.params[name].default

    def items(self) -> tuple[tuple[str, Any], ...]:
        """(name, value) of every parameter that is not at its default, by name."""
        return self._items

    def replace(self, **changes: Any) -> VariantSpec:
        return VariantSpec(**{**dict(self._items), **changes})

    def __eq__(self, other: object) -> bool:
        return isinstance(other, VariantSpec) and self._items == other._items

    def __hash__(self) -> int:
        return hash(self._items)

    def __repr__(self) -> str:
        given = dict(self._items)
        shown = ", ".join(f"{name}={given[name]!r}" for name in REGISTRY.params if name in given)
        return f"VariantSpec({shown})"

    # Typed views of the parameters the rest of the service reads; every other one is `value(name)`.
    @property
    def w(self) -> int | None:
        return cast(int | None, self.value("w"))

    @property
    def h(self) -> int | None:
        return cast(int | None, self.value("h"))

    @property
    def fit(self) -> Fit:
        return cast(Fit, self.value("fit"))

    @property
    def rotate(self) -> int:
        return cast(int, self.value("rotate"))

    @property
    def flip(self) -> str:
        return cast(str, self.value("flip"))

    @property
    def fmt(self) -> str | None:
        return cast(str | None, self.value("fmt"))

    @property
    def q(self) -> int | None:
        return cast(int | None, self.value("q"))

    @property
    def canonical_query(self) -> str:
        """The one spelling of this spec: names sorted, defaults left out; "" for the identity."""
        params = REGISTRY.params
        # Commas separate the numbers of a rectangle or a point, a colon a resolved focal point from its numbers;
        # neither needs escaping in a query (RFC 3986).
        return urlencode([(name, params[name].format(value)) for name, value in self._items], safe=",:")

    def resolved(self, source: Source) -> VariantSpec:
        """This spec made absolute against its original's facts (a crop in fractions becomes the pixels it stands
        for): what the cache key and the render are made from. InvalidSpec, naming the parameter, when it does
        not fit the original (a crop outside the picture)."""
        values = dict(self._items)
        for operation in REGISTRY.operations:
            operation.resolve(values, source)
        return canonical(values)

    def for_output(self, fmt: str) -> VariantSpec:
        """This spec as rendered to the concrete format `fmt`, canonical for it (`q`, `bg`): every operation that
        waits for the format (fmt absent or `auto`) canonicalises again."""
        if fmt not in OUTPUT_FORMATS:
            raise ValueError(f"for_output needs one of {', '.join(OUTPUT_FORMATS)}, got {fmt!r}")
        # the values were checked against the settings' limits when parsed: only the format is new here
        return canonical({**dict(self._items), "fmt": fmt}, Limits(max_side=2**31 - 1))


def canonical(values: Mapping[str, Any], limits: Limits | None = None) -> VariantSpec:
    """The spec of parsed `values`, after every operation has collapsed its spellings into one (InvalidSpec when
    they do not go together)."""
    collapsed = dict(values)
    for operation in REGISTRY.operations:
        operation.canonicalize(collapsed, limits or Limits())
    return VariantSpec(**collapsed)


def parse(
    pairs: Iterable[tuple[str, str]],
    *,
    max_side: int = MAX_OUTPUT_SIDE,
    ignore: frozenset[str] = frozenset(),
    presets: Mapping[str, VariantSpec] | None = None,
    limits: Limits | None = None,
) -> VariantSpec:
    """Turn raw query pairs into a canonical VariantSpec, or raise InvalidSpec naming the parameter."""
    limits = limits or Limits(max_side=max_side)
    raw = _collect(pairs, ignore)
    if PRESET in raw:
        return _from_preset(raw, presets or {}, limits)
    values = {name: param.parse(raw[name], limits) for name, param in REGISTRY.params.items() if name in raw}
    return canonical(values, limits)


def _from_preset(raw: Mapping[str, str], presets: Mapping[str, VariantSpec], limits: Limits) -> VariantSpec:
    """`preset=<name>` (optionally with `fmt`) is the preset's spec; it is one variant with its expansion."""
    name = raw[PRESET]
    if name not in presets:
        known = ", ".join(sorted(presets)) or "none are configured"
        raise InvalidSpec(PRESET, f"preset must be one of: {known}; got {echo(name)}", "invalid_parameter")
    extra = sorted(set(raw) - PRESET_COMPANIONS)
    if extra:
        raise InvalidSpec(
            extra[0],
            f"{extra[0]} cannot be combined with preset; a preset fixes it (only fmt may be added)",
            "conflicting_parameter",
        )
    spec = presets[name]
    if "fmt" not in raw:
        return spec
    return canonical({**dict(spec.items()), "fmt": REGISTRY.params["fmt"].parse(raw["fmt"], limits)}, limits)


def output_format(
    spec: VariantSpec,
    *,
    original_format: str,
    has_alpha: bool,
    accept: str,
    auto_formats: Sequence[str] = AUTO_FORMATS,
    holds: Callable[[str], bool] = lambda fmt: True,
) -> tuple[str, bool]:
    """The concrete format to encode `spec` in, and whether it was negotiated from `accept`.

    `fmt=auto` takes the first of `auto_formats` (most preferred first) that `accept` names and that `holds` the
    picture (its budget, its animation), else the default format.
    """
    if spec.fmt is None:
        return default_format(original_format, has_alpha), False
    if spec.fmt == "auto":
        for fmt in auto_formats:
            if accepts(accept, f"image/{fmt}") and holds(fmt):
                return fmt, True
        return default_format(original_format, has_alpha), True
    return spec.fmt, False


def accepts(accept: str, media_type: str) -> bool:
    """Whether an Accept header names `media_type` with a non-zero q; wildcards do not count."""
    qualities = [quality for named, quality in _media_ranges(accept) if named == media_type]
    return bool(qualities) and min(qualities) > 0


def _collect(pairs: Iterable[tuple[str, str]], ignore: frozenset[str]) -> dict[str, str]:
    names = REGISTRY.params
    raw: dict[str, str] = {}
    for name, value in pairs:
        if name in ignore:
            continue
        if name not in names and name != PRESET:
            raise InvalidSpec(
                name,
                f"{echo(name)} is not a parameter; use one of {', '.join((*names, PRESET))}",
                "unknown_parameter",
            )
        if name in raw:
            raise InvalidSpec(name, f"{name} is given more than once; give it once", "repeated_parameter")
        if value == "":
            raise InvalidSpec(name, f"{name} is empty; give it a value or leave it out", "empty_parameter")
        raw[name] = value
    return raw


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
