"""The operation registry: each operation owns its query parameters, its part of the plan and its pixels.

Adding a parameter is one class here or in a module of operations (the filters are in transforms/filters.py), put
in REGISTRY's order, and its tests: the parser, the canonical query and so the cache key,
the URL builder's fields, the template tags' keyword arguments, signing's comparison and the README's table
all read the registry. Operations run in registry order, which is also the order parameters are checked in.
"""

from __future__ import annotations

import functools
import io
from typing import TYPE_CHECKING, Any

from PIL import Image, ImageCms

from transforms.canvas import Background, Pad
from transforms.filters import Blur, Gray, Sharpen
from transforms.formats import DEFAULT_QUALITY, OUTPUT_FORMATS, quality_for
from transforms.framing import Crop, Fit
from transforms.geometry import CLOCKWISE, EXIF_UPRIGHT, FLIPS, Plan, T, compose, swaps_axes
from transforms.params import Choice, Integer, InvalidSpec, Limits, QuarterTurn, Tenths
from transforms.registry import Operation, Registry

if TYPE_CHECKING:
    from transforms.spec import VariantSpec

__all__ = [
    "EXIF_UPRIGHT",
    "REGISTRY",
    "Operation",
    "Plan",
    "apply_all",
    "compose",
    "plan_for",
    "refine_all",
    "settle",
    "swaps_axes",
]


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


class Transpose(Operation):
    """Apply orientation, rotate and flip as one transpose of the (already small) result."""

    def apply(self, image: Image.Image, plan: Plan) -> Image.Image:
        return image if plan.transform is None else image.transpose(plan.transform)


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
        Crop(),
        Fit(),
        Density(),
        Rotate(),
        Flip(),
        ToSRGB(),
        Gray(),
        Blur(),
        Sharpen(),
        Transpose(),
        Pad(),
        Background(),
        Strip(),
        Output(),
    )
)
assert set(DEFAULT_QUALITY) <= set(OUTPUT_FORMATS)


def plan_for(size: tuple[int, int], orientation: int, spec: VariantSpec, alpha: bool) -> Plan:
    """Turn a spec into a plan for a decoded picture of `size` with EXIF `orientation`."""
    operations = REGISTRY.operations
    orient = EXIF_UPRIGHT.get(orientation)
    transform = compose(orient, *(operation.transpose(spec) for operation in operations))
    plan = Plan(transform, size, resize=None, box=None, pad=None, alpha=alpha, spec=spec, orient=orient)
    for operation in operations:
        plan = operation.plan(plan)
    return plan


def settle(spec: VariantSpec, *, padded: bool, has_alpha: bool) -> VariantSpec:
    """`spec` without the parameters that change no pixel of this variant of this original (so no cache entry)."""
    idle = [name for op in REGISTRY.operations for name in op.idle_params(spec, padded=padded, has_alpha=has_alpha)]
    return spec.replace(**{name: REGISTRY.params[name].default for name in idle}) if idle else spec


def output_geometry(upright: tuple[int, int], spec: VariantSpec) -> tuple[tuple[int, int], tuple[int, int]]:
    """(canvas, picture): the variant's size and the picture's size on it, from the upright size alone."""
    plan = plan_for(upright, 1, spec, alpha=True)
    width, height = plan.resize or plan.source
    picture = (height, width) if swaps_axes(plan.transform) else (width, height)
    return plan.pad or picture, picture


def resized_region(upright: tuple[int, int], spec: VariantSpec) -> tuple[tuple[float, float, float, float], bool]:
    """The region of the upright picture that becomes the variant, (left, top, right, bottom) in its pixels, and
    whether its place is still to be found in the pixels (`gravity=smart`, where it keeps less than the crop)."""
    plan = plan_for(upright, 1, spec, alpha=True)
    box = plan.box or (0, 0, *upright)
    region = plan.region or (0, 0, *upright)
    smart = spec.value("gravity") == "smart" and (box[2] - box[0], box[3] - box[1]) != (
        region[2] - region[0],
        region[3] - region[1],
    )
    return box, smart


def refine_all(image: Image.Image, plan: Plan) -> Plan:
    """The plan, completed by what the operations read off the decoded pixels."""
    for operation in REGISTRY.operations:
        plan = operation.refine(image, plan)
    return plan


def apply_all(image: Image.Image | list[Image.Image], plan: Plan) -> Image.Image:
    """The picture through every operation, in order. Handed a list holding the only reference to it, it takes the
    picture out, so that each step's input is freed as soon as the next has its output: a 24 MP source is 72 MB,
    which a resize, a colour conversion or a filter need not keep beside their own."""
    if isinstance(image, list):
        image = image.pop()
    for operation in REGISTRY.operations:
        image = operation.apply(image, plan)
    return image
