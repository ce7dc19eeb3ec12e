"""Build and sign Darkroom variant URLs from any Python application: one module, the standard library only.

Copy this file into a project (it imports no Django and nothing of Darkroom) and write URLs as libthumbor does:

    from darkroom_url import DarkroomUrls

    urls = DarkroomUrls("https://img.example.com", key="the first of the service's URL_SIGNING_KEYS")
    urls.image("Xb3k9Q2mZr1a", w=300, h=200, fit="cover", fmt="webp")
    # 'https://img.example.com/image/Xb3k9Q2mZr1a/?fit=cover&fmt=webp&h=200&w=300&sig=…'
    urls.srcset("Xb3k9Q2mZr1a", [320, 640, 1280], fmt="webp")
    # '…/?fmt=webp&w=320&sig=… 320w, …/?fmt=webp&w=640&sig=… 640w, …'

Every URL is written in the service's canonical spelling (parameters sorted by name, defaults and `q` at its format's
default left out, `dpr` folded into `w` and `h`, ...), so each variant has one URL and one cache entry, and signed
as the README's signing recipe says: HMAC-SHA256 of `/image/<id>/?<canonical query>`, base64url without padding.
Values are checked as far as they can be without the service; the service judges the rest.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

__all__ = ["DarkroomUrls", "canonical_query", "sign"]

FORMATS = {"jpeg": "jpeg", "jpg": "jpeg", "png": "png", "webp": "webp", "avif": "avif", "gif": "gif", "auto": "auto"}
DEFAULT_QUALITY = {"jpeg": 82, "webp": 80, "avif": 60}
LOSSLESS = frozenset({"png", "gif"})
ALPHA_FORMATS = frozenset({"png", "webp", "avif", "gif"})
FITS = ("contain", "cover", "fill", "pad")
GRAVITIES = ("center", "n", "ne", "e", "se", "s", "sw", "w", "nw", "focal", "smart")
FLIPS = {"": "", "h": "h", "v": "v", "hv": "hv", "vh": "hv"}
PARAMS = ("w", "h", "fit", "gravity", "crop", "dpr", "rotate", "flip", "gray", "blur", "sharpen", "bg", "fmt", "q")
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{11}")
_HEX = re.compile(r"[0-9a-fA-F]{6}(?:[0-9a-fA-F]{2})?")
_DIGITS = re.compile(r"[0-9]{1,9}")


def sign(payload: str, key: str) -> str:
    """The service's signature of `payload`: HMAC-SHA256 keyed with the key's UTF-8 bytes, base64url, no padding."""
    digest = hmac.new(key.encode(), payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


class DarkroomUrls:
    """Writes the URLs of one Darkroom service: `base_url` ("" for paths), signed when `key` is given."""

    def __init__(self, base_url: str = "", key: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.key = key or None

    def image(self, original_id: str, **params: Any) -> str:
        """The variant `/image/<id>/?…` (keywords as the service's parameters: w, h, fit, fmt, q, ...)."""
        return self._url(original_id, "", params)

    def info(self, original_id: str, **params: Any) -> str:
        """What that variant will be, as JSON: `/image/<id>/info/?…`, signed with the image's signature."""
        return self._url(original_id, "info/", params)

    def srcset(self, original_id: str, widths: Iterable[int], **params: Any) -> str:
        """A `srcset` of the variant at each width (`w` candidates), for an <img> or a <source>."""
        return ", ".join(f"{self.image(original_id, **{**params, 'w': width})} {width}w" for width in widths)

    def _url(self, original_id: str, tail: str, params: dict[str, Any]) -> str:
        if not _ID.fullmatch(original_id):
            raise ValueError(f"{original_id!r} is not a Darkroom id (12 letters, digits, - or _)")
        path = f"/image/{original_id}/"
        query = canonical_query(**params)
        if self.key is not None and "preset" not in params:
            signature = sign(f"{path}?{query}", self.key)
            query = f"{query}&sig={signature}" if query else f"sig={signature}"
        return f"{self.base_url}{path}{tail}" + (f"?{query}" if query else "")


def canonical_query(**params: Any) -> str:
    """The one spelling of a variant's parameters that the service signs and caches under; ValueError naming a
    parameter it would refuse. `preset=<name>` (with `fmt` at most) is written as it is and never signed: the
    service serves presets unsigned in its default `presets` mode."""
    given = {name: value for name, value in params.items() if value is not None and value != "" and value is not False}
    if "preset" in given:
        extra = set(given) - {"preset", "fmt"}
        if extra:
            raise ValueError(f"{sorted(extra)[0]} cannot be combined with preset; only fmt can")
        return urlencode(sorted((name, str(value)) for name, value in given.items()))
    unknown = set(given) - set(PARAMS)
    if unknown:
        raise ValueError(f"{sorted(unknown)[0]!r} is not a parameter; use one of {', '.join(PARAMS)}")
    values = {name: _CANONICAL[name](given[name]) for name in PARAMS if name in given}
    _collapse(values)
    return urlencode(sorted((name, value) for name, value in values.items() if value is not None), safe=",:")


def _collapse(values: dict[str, Any]) -> None:
    """Spellings of one variant become one: dpr into the sizes, what a value means nothing beside, defaults."""
    tenths = values.pop("dpr", 10)
    for side in ("w", "h"):
        if side in values and tenths != 10:
            values[side] = str((int(values[side]) * tenths + 5) // 10)
    if "w" not in values or "h" not in values or values.get("fit") == "contain":
        values.pop("fit", None)
    if values.get("fit") != "cover" or values.get("gravity") == "center":
        values.pop("gravity", None)
    fmt = values.get("fmt")
    if fmt is None or fmt == "auto":  # q and bg wait for the format the service picks
        if "bg" in values:  # RRGGBBAA until here
            values["bg"] = _opaque_short(values["bg"])
        return
    if "q" in values and (fmt in LOSSLESS or int(values["q"]) == DEFAULT_QUALITY.get(fmt)):
        del values["q"]
    if "bg" in values:
        values["bg"] = _bg_for(values["bg"], fmt)


def _opaque_short(hex_colour: str) -> str:
    return hex_colour[:6] if hex_colour.endswith("ff") else hex_colour


def _bg_for(hex_colour: str, fmt: str) -> str | None:
    """`bg` as drawn in `fmt`: over white where the format has no alpha (and then nothing when white), nothing when
    clear where it has."""
    red, green, blue, alpha = (int(hex_colour[i : i + 2], 16) for i in range(0, 8, 2))
    if fmt in ALPHA_FORMATS:
        return None if alpha == 0 else _opaque_short(hex_colour)

    def over(channel: int) -> int:
        return (channel * alpha + 255 * (255 - alpha) + 127) // 255

    opaque = f"{over(red):02x}{over(green):02x}{over(blue):02x}"
    return None if opaque == "ffffff" else opaque


def _whole(name: str, low: int, high: int) -> Any:
    def read(value: Any) -> str:
        text = str(value)
        if isinstance(value, bool) or not _DIGITS.fullmatch(text) or not low <= int(text) <= high:
            raise ValueError(f"{name} must be a whole number from {low} to {high}, got {value!r}")
        return str(int(text))

    return read


def _tenths(name: str, low: Decimal, high: Decimal, step: Decimal = Decimal("0.1")) -> Any:
    def read(value: Any) -> str:
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            number = Decimal("NaN")
        if (
            isinstance(value, bool)
            or not number.is_finite()
            or not (low <= number <= high)
            or number % step
            or number != round(number, 1)
        ):
            raise ValueError(f"{name} must be a number from {low} to {high} in steps of {step}, got {value!r}")
        whole, tenth = divmod(int(number * 10), 10)
        return f"{whole}.{tenth}" if tenth else str(whole)

    return read


def _choice(name: str, spellings: dict[str, str] | Iterable[str], *, fold: bool = False) -> Any:
    table = dict(spellings) if isinstance(spellings, dict) else {value: value for value in spellings}

    def read(value: Any) -> str | None:
        text = str(value).lower() if fold else str(value)
        if text not in table:
            raise ValueError(f"{name} must be one of {', '.join(table)}, got {value!r}")
        return table[text] or None

    return read


def _crop(value: Any) -> str:
    parts = [str(part) for part in (value.split(",") if isinstance(value, str) else value)]
    if len(parts) == 4 and all(_DIGITS.fullmatch(part) for part in parts):
        return ",".join(str(int(part)) for part in parts)
    try:
        fractions = [Decimal(part) for part in parts]
    except InvalidOperation:
        fractions = []
    if len(fractions) != 4 or not all(part.is_finite() and 0 <= part <= 1 for part in fractions):
        raise ValueError(f"crop must be x,y,w,h in whole pixels or in fractions 0.0 to 1.0, got {value!r}")
    return ",".join(text if "." in (text := f"{part.normalize():f}") else text + ".0" for part in fractions)


def _bg(value: Any) -> str:
    text = str(value)
    if not _HEX.fullmatch(text):
        raise ValueError(f"bg must be RRGGBB or RRGGBBAA hex, got {value!r}")
    return text.lower() if len(text) == 8 else text.lower() + "ff"


def _rotate(value: Any) -> str | None:
    if isinstance(value, bool) or str(value) not in ("0", "90", "180", "270"):
        raise ValueError(f"rotate must be 0, 90, 180 or 270, got {value!r}")
    return None if str(value) == "0" else str(value)


_CANONICAL: dict[str, Any] = {
    "w": _whole("w", 1, 2**31 - 1),
    "h": _whole("h", 1, 2**31 - 1),
    "fit": _choice("fit", FITS),
    "gravity": _choice("gravity", GRAVITIES),
    "crop": _crop,
    "dpr": lambda value: int(Decimal(_tenths("dpr", Decimal(1), Decimal(4), Decimal("0.5"))(value)) * 10),
    "rotate": _rotate,
    "flip": _choice("flip", FLIPS),
    "gray": lambda value: _choice("gray", {"0": "", "1": "1", "True": "1"})(value),
    "blur": _tenths("blur", Decimal("0.1"), Decimal(50)),
    "sharpen": _tenths("sharpen", Decimal("0.1"), Decimal(10)),
    "bg": _bg,
    "fmt": _choice("fmt", FORMATS, fold=True),
    "q": _whole("q", 1, 100),
}
