"""A ThumborUrl as the native parameters it stands for: thumbor's order of work rewritten in Darkroom's (pure).

thumbor crops, resizes to fill the box (or fits in it), flips for negative sizes, then runs its filters, `rotate`
among them (counter-clockwise). Darkroom's `w`/`h` bound the picture after `rotate` (clockwise) and `flip`, and
`gravity` names an edge of the output; so a quarter turn swaps the sizes and the flips, and thumbor's alignment is
carried through the flips and the turn to the output edge it ends up on.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from PIL import ImageColor

from transforms.framing import ANCHORS
from transforms.params import InvalidSpec, echo
from transforms.thumbor_urls import FOCAL, NUMBER, ThumborUrl

_COMPASS = {anchor: name for name, anchor in ANCHORS.items()}
_HALIGN = {"left": 0.0, "center": 0.5, "right": 1.0}
_VALIGN = {"top": 0.0, "middle": 0.5, "bottom": 1.0}
_ARITY = {
    "format": (1, 1), "quality": (1, 1), "blur": (1, 2), "grayscale": (0, 0), "fill": (1, 2),
    "background_color": (1, 1), "rotate": (1, 1), "focal": (1, 1), "no_upscale": (0, 0), "strip_exif": (0, 0),
    "strip_icc": (0, 0),
}  # fmt: skip
_FORMATS = {"jpeg": "jpeg", "jpg": "jpeg", "png": "png", "gif": "gif", "webp": "webp", "avif": "avif"}
_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}


class NativeParams:
    """The native query pairs of a thumbor URL, and which part of the thumbor URL each came from (for refusals)."""

    def __init__(self) -> None:
        self.pairs: list[tuple[str, str]] = []
        self.parts: dict[str, str] = {}

    def put(self, name: str, value: str, part: str) -> None:
        self.pairs.append((name, value))
        self.parts[name] = part

    def refusal(self, exc: InvalidSpec) -> InvalidSpec:
        """The native parser's refusal, naming the thumbor part the parameter came from."""
        part = self.parts.get(exc.param, exc.param)
        return InvalidSpec(part, f"{part}: {exc.message} (Darkroom's {exc.param})", exc.code)


def native_params(url: ThumborUrl) -> NativeParams:
    """The native parameters `url` stands for; InvalidSpec naming the thumbor part that has none."""
    for name, args in url.filters:
        least, most = _ARITY[name]
        if not least <= len(args) <= most:
            count = f"{least}" if least == most else f"{least} or {most}"
            raise InvalidSpec(f"filters:{name}", f"{name}() takes {count} arguments, got {len(args)}.", "bad_request")
        if name == "focal" and not FOCAL.fullmatch(args[0]):  # checked even where no crop would use it
            message = f"focal takes LEFTxTOP:RIGHTxBOTTOM in pixels, got {echo(args[0])}."
            raise InvalidSpec("filters:focal", message, "bad_request")
    native = NativeParams()
    turn = _counter_clockwise(url)
    quarter = turn in (90, 270)
    if turn:
        native.put("rotate", str((360 - turn) % 360), "filters:rotate")
    flip_h, flip_v = (url.flip_v, url.flip_h) if quarter else (url.flip_h, url.flip_v)
    if flip_h or flip_v:
        native.put("flip", ("h" if flip_h else "") + ("v" if flip_v else ""), "width" if url.flip_h else "height")
    if url.crop:
        left, top, right, bottom = url.crop
        native.put("crop", f"{left},{top},{right - left},{bottom - top}", "crop")
    sizes = [("w", url.width, "width"), ("h", url.height, "height")]
    if quarter:
        sizes = [("w", url.height, "height"), ("h", url.width, "width")]
    for name, value, part in sizes:
        if value:
            native.put(name, str(value), part)
    _box(url, native, turn)
    _filters(url, native)
    return native


def focal_point(url: ThumborUrl, size: tuple[int, int]) -> tuple[Decimal, Decimal] | None:
    """thumbor's centre of mass of the `focal()` rectangles (each weighs its area), as fractions of the upright
    original of `size`, to a ten-thousandth; None without any."""
    rects = [args[0] for name, args in url.filters if name == "focal"]
    if not rects:
        return None
    width, height = size
    total = sum_x = sum_y = 0
    for text in rects:
        found = FOCAL.fullmatch(text)
        if found is None:
            raise InvalidSpec(
                "filters:focal", f"focal takes LEFTxTOP:RIGHTxBOTTOM in pixels, got {echo(text)}.", "bad_request"
            )
        left, top, right, bottom = (int(number) for number in found.groups())
        if not (left < right <= width and top < bottom <= height):
            message = f"focal {text} is not a rectangle inside the {width}x{height} picture."
            raise InvalidSpec("filters:focal", message, "out_of_range")
        weight = (right - left) * (bottom - top)
        total += weight
        sum_x += (left + right) * weight
        sum_y += (top + bottom) * weight
    step = Decimal("0.0001")
    x = (Decimal(sum_x) / (2 * total * width)).quantize(step, ROUND_HALF_EVEN)
    y = (Decimal(sum_y) / (2 * total * height)).quantize(step, ROUND_HALF_EVEN)
    return x, y


def _counter_clockwise(url: ThumborUrl) -> int:
    args = url.filter_args("rotate")
    if args is None:
        return 0
    if not NUMBER.fullmatch(args[0]) or int(args[0]) % 90:
        message = f"rotate takes a whole multiple of 90 degrees, got {echo(args[0])}."
        raise InvalidSpec("filters:rotate", message, "invalid_parameter")
    return int(args[0]) % 360


def _box(url: ThumborUrl, native: NativeParams, turn: int) -> None:
    """How the picture meets a box of both sides: fit-in (padded with fill), or cover it where aligned."""
    if not (url.width and url.height):
        return
    if url.fit_in:
        native.put("fit", "pad" if url.filter_args("fill") is not None else "contain", "fit-in")
        return
    native.put("fit", "cover", "width")
    if url.smart:
        if url.filter_args("focal") is not None:
            message = "focal() beside smart/ is not supported here: Darkroom centres on one or the other."
            raise InvalidSpec("filters:focal", message, "not_supported")
        native.put("gravity", "smart", "smart")
    elif url.filter_args("focal") is not None:
        native.put("gravity", "focal", "filters:focal")  # the door puts the URL's point in its place
    else:
        x, y = _HALIGN[url.halign], _VALIGN[url.valign]
        x, y = (1 - x if url.flip_h else x), (1 - y if url.flip_v else y)
        for _ in range(turn // 90):
            x, y = y, 1 - x  # a quarter turn counter-clockwise
        native.put("gravity", _COMPASS[(x, y)], "halign" if url.halign != "center" else "valign")


def _filters(url: ThumborUrl, native: NativeParams) -> None:
    args = url.filter_args("format")
    if args is not None:
        spelled = args[0].lower()
        if spelled not in _FORMATS:
            message = f"format takes one of {', '.join(_FORMATS)}; got {echo(args[0])}."
            if spelled in ("heic", "heif"):
                raise InvalidSpec("filters:format", message, "not_supported")
            raise InvalidSpec("filters:format", message, "invalid_parameter")
        native.put("fmt", _FORMATS[spelled], "filters:format")
    args = url.filter_args("quality")
    if args is not None:
        native.put("q", args[0], "filters:quality")
    args = url.filter_args("blur")
    if args is not None:
        sigma = args[1] if len(args) > 1 and args[1] not in ("0", "0.0") else args[0]
        native.put("blur", sigma, "filters:blur")
    if url.filter_args("grayscale") is not None:
        native.put("gray", "1", "filters:grayscale")
    colours = {name: _colour(name, args) for name in ("fill", "background_color") if (args := url.filter_args(name))}
    if len(set(colours.values())) > 1:
        message = "fill() and background_color() give two colours; Darkroom has one background: give one."
        raise InvalidSpec("filters:background_color", message, "conflicting_parameter")
    for name, colour in colours.items():
        if colour and "bg" not in native.parts:
            native.put("bg", colour, f"filters:{name}")


def _colour(name: str, args: tuple[str, ...]) -> str:
    """A thumbor colour (a name Pillow knows, or hex without #) as native `bg` hex; "" for transparent."""
    spelled = args[0]
    if name == "fill" and len(args) > 1 and args[1].lower() not in _BOOLEANS:
        raise InvalidSpec(
            "filters:fill", f"fill's second argument is true or false, got {echo(args[1])}.", "bad_request"
        )
    if spelled.lower() in ("auto", "blur"):
        message = f"fill({spelled}) is not supported here; give a colour or transparent."
        raise InvalidSpec(f"filters:{name}", message, "not_supported")
    if spelled.lower() == "transparent":
        return ""
    for candidate in (spelled, f"#{spelled}"):
        try:
            rgb = ImageColor.getrgb(candidate)
        except ValueError:
            continue
        return "".join(f"{channel:02x}" for channel in rgb)
    raise InvalidSpec(f"filters:{name}", f"{echo(spelled)} is not a colour name or hex.", "invalid_parameter")
