"""The canvas behind the picture: fit=pad's padding, and `bg`, the colour seen through it and through transparency."""

# What `bg` means: the colour behind the picture, in every format. It fills what fit=pad adds and shows through
# transparent pixels. Without it the canvas is transparent where the format keeps alpha (PNG, WebP, AVIF, GIF)
# and white where it does not (JPEG). A format without alpha shows everything on white, so there `bg=ff000080` is
# the opaque colour it makes over white (`ff8080`), and `bg=ffffff` is no `bg` at all; where alpha is kept, a
# fully transparent `bg` is none either. A variant that pads nothing of an original without alpha is the same
# picture whatever `bg` says, so `bg` is left out of its key (`idle_params`).

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PIL import Image

from transforms.formats import ALPHA_FORMATS
from transforms.geometry import Plan
from transforms.params import Colour, HexColour, Limits
from transforms.registry import Operation

if TYPE_CHECKING:
    from transforms.spec import VariantSpec

WHITE: Colour = (255, 255, 255, 255)
ALPHA_MODES = {"RGB": "RGBA", "L": "LA", "RGBA": "RGBA", "LA": "LA"}


def over_white(colour: Colour) -> Colour:
    """The opaque colour `colour` makes over white (what a format without alpha can show)."""
    red, green, blue, alpha = colour

    def over(channel: int) -> int:
        return (channel * alpha + 255 * (255 - alpha) + 127) // 255

    return over(red), over(green), over(blue), 255


def backdrop(plan: Plan) -> Colour | None:
    """The colour behind the picture in this plan's output; None for transparency."""
    bg: Colour | None = plan.spec.value("bg") if plan.spec is not None else None
    return bg if plan.alpha else over_white(bg or WHITE)


def _fill(mode: str, colour: Colour) -> tuple[str, int | tuple[int, ...]]:
    """The opaque mode ("L" when both the picture and the colour are grey, else "RGB") and its fill value."""
    if mode[0] == "L" and colour[0] == colour[1] == colour[2]:
        return "L", colour[0]
    return "RGB", colour[:3]


class Pad(Operation):
    """Centre the picture on the planned canvas of fit=pad, in the backdrop's colour (transparent until
    Background composites it, when the picture or the backdrop is not opaque)."""

    def apply(self, image: Image.Image, plan: Plan) -> Image.Image:
        if plan.pad is None:
            return image
        colour = backdrop(plan)
        if colour is None or colour[3] < 255 or image.mode in ("RGBA", "LA"):
            image = image.convert(ALPHA_MODES[image.mode])
            canvas = Image.new(image.mode, plan.pad)  # all zero: transparent
        else:
            mode, fill = _fill(image.mode, colour)
            image = image.convert(mode)
            canvas = Image.new(mode, plan.pad, fill)
        canvas.paste(image, ((plan.pad[0] - image.width) // 2, (plan.pad[1] - image.height) // 2))
        return canvas


class Background(Operation):
    """`bg`: the picture's transparent pixels (and the padding) over the backdrop; flattened when it is opaque."""

    params = (
        HexColour(
            "bg",
            None,
            label="Background",
            placeholder="none, e.g. ff8800",
            doc="the colour behind the picture: fit=pad's padding and what shows through transparency",
        ),
    )

    def canonicalize(self, values: dict[str, Any], limits: Limits) -> None:
        bg, fmt = values.get("bg"), values.get("fmt")
        if bg is None or fmt is None or fmt == "auto":
            return  # which format it is drawn for is not known yet: VariantSpec.for_output comes back here
        if fmt not in ALPHA_FORMATS:
            bg = values["bg"] = over_white(bg)
        if (bg == WHITE and fmt not in ALPHA_FORMATS) or (bg[3] == 0 and fmt in ALPHA_FORMATS):
            del values["bg"]

    def idle_params(self, spec: VariantSpec, *, padded: bool, has_alpha: bool) -> tuple[str, ...]:
        return () if padded or has_alpha else ("bg",)

    def apply(self, image: Image.Image, plan: Plan) -> Image.Image:
        colour = backdrop(plan)
        if colour is None or image.mode not in ("RGBA", "LA"):
            return image
        if colour[3] < 255:  # a translucent backdrop, in a format that keeps alpha
            return Image.alpha_composite(Image.new("RGBA", image.size, colour), image.convert("RGBA"))
        mode, fill = _fill(image.mode, colour)
        flat = Image.new(mode, image.size, fill)
        flat.paste(image.convert(mode), mask=image.getchannel("A"))
        return flat
