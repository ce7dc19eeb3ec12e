"""thumbor's URL grammar (libthumbor's `Url.regex()`) read into a ThumborUrl, its signature, and its native parameters.

Pure: no Django, no settings. The door (transforms/thumbor.py) parses with `parse_thumbor`, checks `signature_matches`
and turns the result into the native VariantSpec with `native_pairs` (then `focal_point`), so a thumbor URL is the
same variant, cache entry and ETag as the native URL it stands for. What cannot be the same is refused with a 400
naming the part, never approximated.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass, field
from urllib.parse import unquote

from transforms.params import InvalidSpec, echo

# libthumbor 2.0.2's Url.regex() (MIT, thumbor/libthumbor url.py), with the signature (or unsafe) required and digits
# ASCII only; the image part is Darkroom's original id.
_GRAMMAR = re.compile(
    r"(?:(?P<unsafe>unsafe)|(?P<hash>[^/]+))/"
    r"(?:(?P<debug>debug)/)?"
    r"(?:(?P<meta>meta)/)?"
    r"(?:(?P<trim>trim(?::(?:top-left|bottom-right))?(?::[0-9]+)?)/)?"
    r"(?:(?P<crop_left>[0-9]+)x(?P<crop_top>[0-9]+):(?P<crop_right>[0-9]+)x(?P<crop_bottom>[0-9]+)/)?"
    r"(?:(?P<adaptive>adaptive-)?(?P<full>full-)?(?P<fit_in>fit-in)/)?"
    r"(?:(?P<horizontal_flip>-)?(?P<width>[0-9]+|orig)?x(?P<vertical_flip>-)?(?P<height>[0-9]+|orig)?/)?"
    r"(?:(?P<halign>left|right|center)/)?"
    r"(?:(?P<valign>top|bottom|middle)/)?"
    r"(?:(?P<smart>smart)/)?"
    r"(?:filters:(?P<filters>.+?\))/)?"
    r"(?P<image>.+)",
    re.DOTALL,
)
_FILTER = re.compile(r"([a-z_]+)\(([^()]*)\)")
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{11}")
NUMBER = re.compile(r"-?[0-9]{1,9}")
FOCAL = re.compile(r"([0-9]{1,9})x([0-9]{1,9}):([0-9]{1,9})x([0-9]{1,9})")
_DIGITS = 9  # as the native parser: more is out of range, never converted

# thumbor's filters that Darkroom has no exact equivalent for: named in the 400 apart from filters thumbor lacks.
THUMBOR_ONLY_FILTERS = frozenset(
    {
        "autojpg", "brightness", "colorize", "contrast", "convolution", "curve", "equalize", "extract_focal", "frame",
        "max_age", "max_bytes", "noise", "proportion", "redeye", "rgb", "round_corner", "saturation", "sharpen",
        "stretch", "upscale", "watermark",
    }
)  # fmt: skip
FILTERS = ("format", "quality", "blur", "grayscale", "fill", "background_color", "rotate", "focal", "no_upscale",
           "strip_exif", "strip_icc")  # fmt: skip


@dataclass(frozen=True)
class ThumborUrl:
    """One thumbor URL after `/thumbor/`, read by thumbor's grammar (parts Darkroom refuses are refused by then)."""

    signature: str | None  # None for unsafe/
    signed: str  # what the signature signs: the path after /<signature>/
    image: str
    meta: bool = False
    crop: tuple[int, int, int, int] | None = None  # left, top, right, bottom, pixels of the upright original
    fit_in: bool = False
    width: int = 0  # 0: proportional, or the original's when both are 0
    height: int = 0
    flip_h: bool = False
    flip_v: bool = False
    halign: str = "center"
    valign: str = "middle"
    smart: bool = False
    filters: tuple[tuple[str, tuple[str, ...]], ...] = field(default=())

    def filter_args(self, name: str) -> tuple[str, ...] | None:
        return next((args for named, args in self.filters if named == name), None)


def parse_thumbor(path: str) -> ThumborUrl:
    """`path` (after `/thumbor/`) as thumbor reads it; InvalidSpec naming the part Darkroom cannot serve."""
    found = _GRAMMAR.fullmatch(path)
    if found is None:
        raise InvalidSpec(
            "signature", "A thumbor URL starts with its signature or unsafe/, then the image.", "bad_request"
        )
    part = found.groupdict()
    for name in ("debug", "trim"):
        if part[name]:
            raise InvalidSpec(name, f"thumbor's {part[name]}/ is not supported here; leave it out.", "not_supported")
    if part["full"] or part["adaptive"]:
        spelled = f"{part['adaptive'] or ''}{part['full'] or ''}fit-in"
        message = f"{spelled}/ is not supported here: Darkroom fits inside the box (fit-in/) or covers it."
        raise InvalidSpec(spelled, message, "not_supported")
    for name in ("width", "height"):
        if part[name] == "orig":
            message = f"{name} orig is not supported here; give the number of pixels, or 0 for proportional."
            raise InvalidSpec(name, message, "not_supported")
    image = part["image"]
    if not _ID.fullmatch(image):
        segment = image.split("/", 1)[0] if "/" in image else image
        message = (
            f"{echo(segment)} is neither a part of thumbor's URL nor an original's id (12 letters, digits, - or _)."
        )
        raise InvalidSpec("image", message, "bad_request")
    signature = None if part["unsafe"] else unquote(part["hash"])
    return ThumborUrl(
        signature=signature,
        signed=path[len(part["unsafe"] or part["hash"]) + 1 :],
        image=image,
        meta=bool(part["meta"]),
        crop=_crop(part),
        fit_in=bool(part["fit_in"]),
        width=_size(part["width"], "width"),
        height=_size(part["height"], "height"),
        flip_h=bool(part["horizontal_flip"]),
        flip_v=bool(part["vertical_flip"]),
        halign=part["halign"] or "center",
        valign=part["valign"] or "middle",
        smart=bool(part["smart"]),
        filters=_filters(part["filters"] or ""),
    )


def signature_matches(key: str, signature: str, signed: str) -> bool:
    """thumbor's check: urlsafe base64 (with padding) of HMAC-SHA1 of the path after /<signature>/."""
    expected = base64.urlsafe_b64encode(hmac.new(key.encode(), signed.encode(), hashlib.sha1).digest())
    return hmac.compare_digest(expected, signature.encode("utf-8", "replace"))


def _size(value: str | None, name: str) -> int:
    if not value:
        return 0
    if len(value) > _DIGITS:
        raise InvalidSpec(name, f"{name} has more than {_DIGITS} digits.", "out_of_range")
    return int(value)


def _crop(part: dict[str, str | None]) -> tuple[int, int, int, int] | None:
    if part["crop_left"] is None:
        return None
    numbers = [part[f"crop_{side}"] or "" for side in ("left", "top", "right", "bottom")]
    if any(len(number) > _DIGITS for number in numbers):
        raise InvalidSpec("crop", f"crop has a number of more than {_DIGITS} digits.", "out_of_range")
    left, top, right, bottom = (int(number) for number in numbers)
    if (left, top, right, bottom) == (0, 0, 0, 0):
        return None  # libthumbor writes no crop then; thumbor reads it as none
    if right <= left or bottom <= top:
        message = f"crop {left}x{top}:{right}x{bottom} is empty: the right and bottom must pass the left and top."
        raise InvalidSpec("crop", message, "invalid_parameter")
    return left, top, right, bottom


def _filters(text: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """`name(args):name(args)` as (name, args); unknown, unsupported and repeated filters are refused by name."""
    found: list[tuple[str, tuple[str, ...]]] = []
    position = 0
    while position < len(text):
        match = _FILTER.match(text, position)
        if match is None:
            raise InvalidSpec("filters", f"filters:{echo(text)} is not name(arguments) joined by ':'.", "bad_request")
        name, args = match.group(1), match.group(2)
        param = f"filters:{name}"
        if name in THUMBOR_ONLY_FILTERS:
            raise InvalidSpec(param, f"thumbor's {name}() filter is not supported here.", "not_supported")
        if name not in FILTERS:
            message = f"{echo(name)} is not a filter; use one of {', '.join(FILTERS)}."
            raise InvalidSpec(param, message, "unknown_parameter")
        if name != "focal" and any(named == name for named, _ in found):
            raise InvalidSpec(param, f"{name}() is given more than once; give it once.", "repeated_parameter")
        found.append((name, tuple(arg.strip() for arg in args.split(",")) if args.strip() else ()))
        position = match.end()
        if position < len(text):
            if text[position] != ":":
                raise InvalidSpec("filters", f"filters are joined by ':'; got {echo(text[position:])}.", "bad_request")
            position += 1
            if position == len(text):
                raise InvalidSpec("filters", "filters end with a ':' and no filter after it.", "bad_request")
    return tuple(found)
