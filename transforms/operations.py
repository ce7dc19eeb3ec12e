"""The operation registry: each operation owns its query parameters, its part of the plan and its pixels.

Adding a parameter is one class here (and its tests): the parser, the canonical query and so the cache key,
the URL builder's fields, the template tags' keyword arguments, signing's comparison and the README's table
all read the registry. Operations run in registry order, which is also the order parameters are checked in.
"""

from __future__ import annotations

import functools
import io
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar

from PIL import Image, ImageCms, ImageFilter

from transforms.formats import DEFAULT_QUALITY, OUTPUT_FORMATS, quality_for
from transforms.geometry import (
    CLOCKWISE,
    EXIF_UPRIGHT,
    FLIPS,
    Plan,
    T,
    compose,
    fit_into,
    swaps_axes,
)
from transforms.params import Choice, Integer, InvalidSpec, Limits, Param, QuarterTurn, Tenths
from transforms.registry import Registry

if TYPE_CHECKING:
    from transforms.spec import VariantSpec

__all__ = ["EXIF_UPRIGHT", "REGISTRY", "Operation", "Plan", "apply_all", "compose", "plan_for", "swaps_axes"]

WHITE = (255, 255, 255)
# Pillow's own filter choice for thumbnails; with reducing_gap the bulk of a big shrink is a cheap
# box reduce and LANCZOS only does the last <=3x, so its cost hardly matters.
RESAMPLE = Image.Resampling.LANCZOS
REDUCING_GAP = 3.0


class Operation:
    """One step of a variant. Each hook has a do-nothing default, so an operation writes only what it does."""

    params: ClassVar[tuple[Param[Any], ...]] = ()

    def canonicalize(self, values: dict[str, Any], limits: Limits) -> None:
        """Rewrite parsed `values` (by parameter name) so that every spelling of one variant is one spec; raise
        InvalidSpec, naming a parameter, for values that are well-formed alone but not together."""

    def transpose(self, spec: VariantSpec) -> T | None:
        """The transpose this operation adds to the picture's orientation (after EXIF's, in registry order)."""
        return None

    def plan(self, plan: Plan) -> Plan:
        """This operation's part of the plan, from the recorded or decoded size alone: no pixels."""
        return plan

    def apply(self, image: Image.Image, plan: Plan) -> Image.Image:
        """This operation's part of the pixels; returns the image unchanged when the plan does not need it."""
        return image

    def frame_pixels(self, spec: VariantSpec) -> int | None:
        """The most pixels a frame may have for this operation to work on it within a render's memory budget, for an
        operation that holds more copies of a frame at once than a resize does; None when it sets no bound."""
        return None


class ToWorkingMode(Operation):
    """Bring any decoded mode to L, LA, RGB, RGBA or CMYK; 16-bit is scaled to 8 bits, not clipped."""

    def apply(self, image: Image.Image, plan: Plan) -> Image.Image:
        mode = image.mode
        if mode.startswith("I;16") or mode == "I":
            # convert("L") would clip everything above 255 to white
            return image.convert("I").point(lambda v: v * (1 / 257) + 0.5).convert("L")
        if mode in ("RGBA", "LA", "CMYK"):
            return image
        if mode in ("RGB", "L") and not image.has_transparency_data:
            return image
        if mode in ("1", "F"):
            return image.convert("L")
        if image.has_transparency_data:
            return image.convert("LA" if mode in ("L", "La") else "RGBA")
        return image.convert("RGB")


class Fit(Operation):
    """`w`, `h` and `fit`: the box the upright picture meets, never enlarged; the resize that gets it there."""

    params = (
        Integer("w", None, label="Width", placeholder="any", doc="target box width, in pixels of the upright picture"),
        Integer("h", None, label="Height", placeholder="any", doc="target box height"),
        Choice(
            "fit",
            "contain",
            label="Fit",
            spellings={name: name for name in ("contain", "cover", "fill", "pad")},
            offered={name: name for name in ("contain", "cover", "fill", "pad")},
            doc="inside the box; fill it and crop the centre; stretch to it; inside it and pad to it",
        ),
    )

    def canonicalize(self, values: dict[str, Any], limits: Limits) -> None:
        if values.get("w") is None or values.get("h") is None:
            values.pop("fit", None)  # how a picture meets a box only matters when the box has two sides

    def plan(self, plan: Plan) -> Plan:
        spec = plan.spec
        assert spec is not None
        size, upright = plan.source, plan.upright
        (tw, th), crop = fit_into(upright, spec.w, spec.h, spec.fit)
        pad = None
        if spec.fit == "pad" and spec.w and spec.h:
            s = min(tw / upright[0], th / upright[1], 1.0)
            pad, (tw, th) = (tw, th), (max(1, round(upright[0] * s)), max(1, round(upright[1] * s)))
            pad = None if pad == (tw, th) else pad
        if swaps_axes(plan.transform):
            tw, th = th, tw
            crop = crop and (crop[1], crop[0])
        box = None
        if crop and crop != size:
            x0, y0 = (size[0] - crop[0]) / 2, (size[1] - crop[1]) / 2
            box = (x0, y0, x0 + crop[0], y0 + crop[1])
        resize = None if (tw, th) == size and box is None else (tw, th)
        return replace(plan, resize=resize, box=box, pad=pad)

    def apply(self, image: Image.Image, plan: Plan) -> Image.Image:
        if plan.resize is None:
            return image
        return image.resize(plan.resize, RESAMPLE, box=plan.box, reducing_gap=REDUCING_GAP)


class Density(Operation):
    """`dpr`: device pixels per CSS pixel. It multiplies `w` and `h` (halves rounded up) and is then gone from the
    spec, so `w=300&dpr=2` is `w=600`: one variant, one cache entry, one signature, and the no-enlarging rule of
    `w` and `h` holds for it too. A side that would pass the largest allowed is refused, naming `dpr`."""

    params = (
        Tenths(
            "dpr",
            1.0,
            label="Density (dpr)",
            placeholder="1",
            low=1,
            high=4,
            step=0.5,
            doc="device pixels per CSS pixel: multiplies w and h",
        ),
    )

    def canonicalize(self, values: dict[str, Any], limits: Limits) -> None:
        tenths = round(values.pop("dpr", 1.0) * 10)
        for side in ("w", "h"):
            if values.get(side) is None or tenths == 10:
                continue
            scaled = (values[side] * tenths + 5) // 10
            if scaled > limits.max_side:
                raise InvalidSpec(
                    "dpr",
                    f"{side}={values[side]} at dpr={tenths / 10:g} is {scaled} pixels, more than the largest side "
                    f"allowed ({limits.max_side}); ask for a smaller {side} or dpr",
                    "out_of_range",
                )
            values[side] = scaled


class Rotate(Operation):
    """`rotate`: clockwise quarter turns after EXIF orientation; applied with the other transposes."""

    params = (QuarterTurn("rotate", 0, label="Rotate", doc="clockwise, after EXIF orientation"),)

    def transpose(self, spec: VariantSpec) -> T | None:
        return CLOCKWISE[spec.rotate]


class Flip(Operation):
    """`flip`: mirror left-right, top-bottom or both; applied with the other transposes."""

    params = (
        Choice(
            "flip",
            "",
            label="Flip",
            spellings={"h": "h", "v": "v", "hv": "hv", "vh": "hv"},
            offered={"": "none", "h": "h", "v": "v", "hv": "hv"},
            doc="mirror left-right, top-bottom, both",
        ),
    )

    def transpose(self, spec: VariantSpec) -> T | None:
        return FLIPS[spec.flip]


@functools.lru_cache(maxsize=16)
def _to_srgb(profile: bytes, in_mode: str, out_mode: str) -> ImageCms.ImageCmsTransform:
    source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
    srgb = ImageCms.createProfile("sRGB")
    # NOCACHE: transforms built with lcms' one-pixel cache are not safe to share between threads
    return ImageCms.buildTransform(source, srgb, in_mode, out_mode, flags=ImageCms.Flags.NOCACHE)


class ToSRGB(Operation):
    """Convert CMYK and ICC-tagged RGB to sRGB; the profile is dropped (untagged output means sRGB)."""

    def apply(self, image: Image.Image, plan: Plan) -> Image.Image:
        profile = image.info.get("icc_profile")
        if image.mode not in ("RGB", "RGBA", "CMYK"):
            return image  # grey profiles are close to sRGB's curve: not worth a transform
        out_mode = "RGB" if image.mode == "CMYK" else image.mode
        if not profile and out_mode == image.mode:
            return image
        if profile:
            try:
                return _to_srgb(profile, image.mode, out_mode).apply(image)
            except (ImageCms.PyCMSError, OSError, ValueError):
                pass  # a broken profile is treated as no profile
        return image.convert(out_mode)


class Gray(Operation):
    """`gray=1`: the picture in shades of grey (Pillow's ITU-R 601 luma), transparency kept. After the resize (fewer
    pixels) and the conversion to sRGB (the right ones); before flattening and padding, which it leaves alone."""

    params = (
        Choice(
            "gray",
            0,
            label="Grey",
            spellings={"0": 0, "1": 1},
            offered={"": "no", "1": "yes"},
            doc="the picture in shades of grey",
        ),
    )

    def apply(self, image: Image.Image, plan: Plan) -> Image.Image:
        if plan.spec is None or not plan.spec.value("gray") or image.mode in ("L", "LA"):
            return image
        return image.convert("LA" if image.mode == "RGBA" else "L")


def _filtered(image: Image.Image, kernel: ImageFilter.Filter) -> Image.Image:
    """`image` through `kernel`, with alpha premultiplied, so the colour of transparent pixels (often black, or
    anything) does not bleed into the edges of what is visible."""
    premultiplied = {"RGBA": "RGBa", "LA": "La"}.get(image.mode)
    if premultiplied is None:
        return image.filter(kernel)
    return image.convert(premultiplied).filter(kernel).convert(image.mode)


# Pillow's blur holds the frame it reads, the one it writes and a transposed copy at once: a 24 MP picture blurred
# at full size peaked at 281 MB over the render process's idle size, 16 MP at 235 MB (test_render_memory.py holds it).
FILTER_FRAME_PIXELS = 16_000_000


class Blur(Operation):
    """`blur=<sigma>`: a Gaussian blur, sigma in pixels of the output. After the resize: Pillow's blur (three
    box passes) costs the same for any sigma but grows with the pixels, so it blurs the fewest."""

    params = (
        Tenths(
            "blur",
            None,
            label="Blur",
            placeholder="none",
            low=0.1,
            high=50,
            doc="Gaussian blur: its sigma, in pixels of the output",
        ),
    )

    def apply(self, image: Image.Image, plan: Plan) -> Image.Image:
        sigma = plan.spec and plan.spec.value("blur")
        return image if not sigma else _filtered(image, ImageFilter.GaussianBlur(sigma))

    def frame_pixels(self, spec: VariantSpec) -> int | None:
        return FILTER_FRAME_PIXELS if spec.value("blur") else None


class Sharpen(Operation):
    """`sharpen=<sigma>`: an unsharp mask of that radius (sigma, in output pixels), with Pillow's and the photo
    editors' usual strength (150 %) and threshold (3 levels, so flat areas and their noise are left alone).
    After the resize, which softens, and after a blur when both are asked."""

    params = (
        Tenths(
            "sharpen",
            None,
            label="Sharpen",
            placeholder="none",
            low=0.1,
            high=10,
            doc="unsharp mask: its sigma, in pixels of the output",
        ),
    )
    PERCENT = 150
    THRESHOLD = 3

    def apply(self, image: Image.Image, plan: Plan) -> Image.Image:
        sigma = plan.spec and plan.spec.value("sharpen")
        if not sigma:
            return image
        return _filtered(image, ImageFilter.UnsharpMask(sigma, self.PERCENT, self.THRESHOLD))

    def frame_pixels(self, spec: VariantSpec) -> int | None:
        return FILTER_FRAME_PIXELS if spec.value("sharpen") else None


class Flatten(Operation):
    """Composite transparent pixels on white when the output format has no alpha."""

    def apply(self, image: Image.Image, plan: Plan) -> Image.Image:
        if plan.alpha or image.mode not in ("RGBA", "LA"):
            return image
        base = "L" if image.mode == "LA" else "RGB"
        background = Image.new(base, image.size, 255 if base == "L" else WHITE)
        background.paste(image.convert(base), mask=image.getchannel("A"))
        return background


class Transpose(Operation):
    """Apply orientation, rotate and flip as one transpose of the (already small) result."""

    def apply(self, image: Image.Image, plan: Plan) -> Image.Image:
        return image if plan.transform is None else image.transpose(plan.transform)


class Pad(Operation):
    """Centre the picture on the planned canvas: transparent where alpha survives, white otherwise."""

    def apply(self, image: Image.Image, plan: Plan) -> Image.Image:
        if plan.pad is None:
            return image
        if plan.alpha:
            image = image.convert("LA" if image.mode[0] == "L" else "RGBA")
            canvas = Image.new(image.mode, plan.pad)  # all zero: transparent
        else:
            canvas = Image.new(image.mode, plan.pad, 255 if image.mode == "L" else WHITE)
        canvas.paste(image, ((plan.pad[0] - image.width) // 2, (plan.pad[1] - image.height) // 2))
        return canvas


class Strip(Operation):
    """Drop all metadata (EXIF, GPS, XMP, comments, profiles) so encoders cannot copy it out."""

    def apply(self, image: Image.Image, plan: Plan) -> Image.Image:
        image.info = {}
        return image


class Output(Operation):
    """`fmt` and `q`: the encoding. `q` means nothing for lossless formats or at the format's default."""

    params = (
        Choice(
            "fmt",
            None,
            label="Format",
            spellings={**{name: name for name in OUTPUT_FORMATS}, "jpg": "jpeg", "auto": "auto"},
            offered={"": "as the original", **{name: name for name in OUTPUT_FORMATS}, "auto": "auto"},
            fold_case=True,
            doc="output format; `auto` negotiates from the `Accept` header",
        ),
        Integer("q", None, label="Quality", placeholder="default", low=1, high=100, doc="quality of lossy formats"),
    )

    def canonicalize(self, values: dict[str, Any], limits: Limits) -> None:
        fmt = values.get("fmt")
        if fmt is not None and fmt != "auto":  # with fmt absent or auto, q waits until the format is known
            values["q"] = quality_for(fmt, values.get("q"))


REGISTRY = Registry(
    (
        ToWorkingMode(),
        Fit(),
        Density(),
        Rotate(),
        Flip(),
        ToSRGB(),
        Gray(),
        Blur(),
        Sharpen(),
        Flatten(),
        Transpose(),
        Pad(),
        Strip(),
        Output(),
    )
)
assert set(DEFAULT_QUALITY) <= set(OUTPUT_FORMATS)


def plan_for(size: tuple[int, int], orientation: int, spec: VariantSpec, alpha: bool) -> Plan:
    """Turn a spec into a plan for a decoded picture of `size` with EXIF `orientation`."""
    operations = REGISTRY.operations
    transform = compose(EXIF_UPRIGHT.get(orientation), *(operation.transpose(spec) for operation in operations))
    plan = Plan(transform, size, resize=None, box=None, pad=None, alpha=alpha, spec=spec)
    for operation in operations:
        plan = operation.plan(plan)
    return plan


def output_geometry(upright: tuple[int, int], spec: VariantSpec) -> tuple[tuple[int, int], tuple[int, int]]:
    """(canvas, picture): the variant's size and the picture's size on it, from the upright size alone."""
    plan = plan_for(upright, 1, spec, alpha=True)
    width, height = plan.resize or plan.source
    picture = (height, width) if swaps_axes(plan.transform) else (width, height)
    return plan.pad or picture, picture


def apply_all(image: Image.Image | list[Image.Image], plan: Plan) -> Image.Image:
    """The picture through every operation, in order. Handed a list holding the only reference to it, it takes the
    picture out, so that each step's input is freed as soon as the next has its output: a 24 MP source is 72 MB,
    which a resize, a colour conversion or a filter need not keep beside their own."""
    if isinstance(image, list):
        image = image.pop()
    for operation in REGISTRY.operations:
        image = operation.apply(image, plan)
    return image
