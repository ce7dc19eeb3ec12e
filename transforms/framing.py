"""Which part of the picture a variant shows and at what size: `crop`, then `w`, `h`, `fit` and `gravity` (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from PIL import Image

from transforms import resample
from transforms.geometry import Box, Plan, box_to_source, fit_into, swaps_axes, to_source
from transforms.params import Choice, Integer, InvalidSpec, Limits, Rect, Rectangle, Source
from transforms.registry import Operation
from transforms.smart import attention

# Where the kept box sits, as fractions of the room left around it: 0 at the left (top) edge, 1 at the right.
ANCHORS: dict[str, tuple[float, float]] = {
    "center": (0.5, 0.5),
    "n": (0.5, 0.0),
    "ne": (1.0, 0.0),
    "e": (1.0, 0.5),
    "se": (1.0, 1.0),
    "s": (0.5, 1.0),
    "sw": (0.0, 1.0),
    "w": (0.0, 0.5),
    "nw": (0.0, 0.0),
}
GRAVITIES = (*ANCHORS, "focal", "smart")
_POINT = re.compile(r"focal:([01]\.[0-9]{1,4}),([01]\.[0-9]{1,4})")


@dataclass(frozen=True)
class FocalPoint:
    """`gravity=focal` resolved: the original's focal point, fractions of its upright width and height."""

    x: Decimal
    y: Decimal


@dataclass(frozen=True)
class Gravity(Choice):
    """`gravity`: a compass point or `focal`; a resolved spec (a render process's) spells the point it stands for."""

    def parse(self, value: str, limits: Limits) -> Any:
        point = _POINT.fullmatch(value) if limits.resolved else None
        if point is not None:
            x, y = Decimal(point.group(1)), Decimal(point.group(2))
            if x <= 1 and y <= 1:
                return FocalPoint(x, y)
        return super().parse(value, limits)

    def format(self, value: Any) -> str:
        if isinstance(value, FocalPoint):
            return f"focal:{value.x:.4f},{value.y:.4f}"
        return str(value)


# With reducing_gap the bulk of a big shrink is a cheap box reduce, and the resize (transforms/resample.py: Pillow's
# LANCZOS, its own filter choice for thumbnails, in bands on the render's threads) only does the last <=3x.
REDUCING_GAP = 3.0


def crop_in_pixels(rect: Rect, size: tuple[int, int]) -> Rect:
    """`rect` in whole pixels of an upright picture of `size`; InvalidSpec naming crop when it is not inside it."""
    pixels = rect.in_pixels(size)
    width, height = size
    spelled = Rectangle("crop", None).format(rect)
    if not (pixels.w and pixels.h):
        problem = f"crop={spelled} is less than a pixel wide or high on this {width}x{height} picture; ask for more"
        raise InvalidSpec("crop", problem, "out_of_range")
    if pixels.x + pixels.w > width or pixels.y + pixels.h > height:
        problem = (
            f"crop={spelled} reaches outside the {width}x{height} picture: x + w must be at most {width} "
            f"and y + h at most {height}"
        )
        raise InvalidSpec("crop", problem, "out_of_range")
    return pixels


def around(point: tuple[float, float], size: tuple[float, float], region: Box) -> Box:
    """The box of `size` inside `region` whose centre is as close to `point` as the region allows."""
    x0 = min(max(point[0] - size[0] / 2, region[0]), region[2] - size[0])
    y0 = min(max(point[1] - size[1] / 2, region[1]), region[3] - size[1])
    return x0, y0, x0 + size[0], y0 + size[1]


class Crop(Operation):
    """`crop`: a rectangle of the upright original, taken before resizing and rotating (the resize reads only it)."""

    params = (
        Rectangle(
            "crop",
            None,
            label="Crop",
            placeholder="x,y,w,h",
            doc="a rectangle of the upright original, taken before resizing and rotating",
        ),
    )

    def resolve(self, values: dict[str, Any], source: Source) -> None:
        # Fractions become the pixels they stand for, so both spellings are one variant; all of it is no crop.
        rect = values.get("crop")
        if rect is None:
            return
        pixels = crop_in_pixels(rect, (source.width, source.height))
        whole = (pixels.x, pixels.y, pixels.w, pixels.h) == (0, 0, source.width, source.height)
        values["crop"] = None if whole else pixels

    def plan(self, plan: Plan) -> Plan:
        assert plan.spec is not None
        rect = plan.spec.value("crop")
        if rect is None:
            return plan
        pixels = crop_in_pixels(rect, plan.original)  # InvalidSpec is a ValueError: the render's decode error
        region = box_to_source(pixels.box(), plan.orient, plan.source)
        return plan if region == (0, 0, *plan.source) else replace(plan, region=region)


class Fit(Operation):
    """`w`, `h`, `fit` and `gravity`: the box the upright picture meets, never enlarged, what `cover` keeps of it,
    and the resize that gets it there."""

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
        Gravity(
            "gravity",
            "center",
            label="Gravity",
            spellings={name: name for name in GRAVITIES},
            offered={"": "center", **{name: name for name in GRAVITIES if name != "center"}},
            hint="(what fit=cover keeps; focal is the original's focal point, smart its subject)",
            doc="what `fit=cover` keeps: the centre, an edge or a corner of the output, the focal point, the subject",
        ),
    )

    def resolve(self, values: dict[str, Any], source: Source) -> None:
        # The point enters the spec, so the key, of just the variants that use it; none set is the centre.
        if values.get("gravity") == "focal":
            if source.focal is None:
                values.pop("gravity")
            else:
                values["gravity"] = FocalPoint(*source.focal)

    def canonicalize(self, values: dict[str, Any], limits: Limits) -> None:
        if values.get("w") is None or values.get("h") is None:
            values.pop("fit", None)  # how a picture meets a box only matters when the box has two sides
        if values.get("fit") != "cover":
            values.pop("gravity", None)  # and where it is cropped only when it is cropped

    def plan(self, plan: Plan) -> Plan:
        spec = plan.spec
        assert spec is not None
        region = plan.region or (0, 0, *plan.source)
        kept = (round(region[2] - region[0]), round(region[3] - region[1]))  # what is resized, source orientation
        swapped = swaps_axes(plan.transform)
        shown = (kept[1], kept[0]) if swapped else kept  # the same as the output shows it
        (tw, th), cover = fit_into(shown, spec.w, spec.h, spec.fit)
        pad = None
        if spec.fit == "pad" and spec.w and spec.h:
            s = min(tw / shown[0], th / shown[1], 1.0)
            pad, (tw, th) = (tw, th), (max(1, round(shown[0] * s)), max(1, round(shown[1] * s)))
            pad = None if pad == (tw, th) else pad
        if swapped:
            tw, th = th, tw
            cover = cover and (cover[1], cover[0])
        box = plan.region
        if cover and cover != kept:
            box = self.place(cover, region, plan)
        resize = None if (tw, th) == plan.source and box is None else (tw, th)
        return replace(plan, resize=resize, box=box, pad=pad)

    def place(self, size: tuple[int, int], region: Box, plan: Plan) -> Box:
        """Where the box of `size` (source orientation) that `fit=cover` keeps lies inside `region`, by `gravity`:
        the compass names the output's edges and corners, after rotate and flip, as `w` and `h` do."""
        assert plan.spec is not None
        gravity = plan.spec.value("gravity")
        if isinstance(gravity, FocalPoint):
            u, v = to_source((float(gravity.x), float(gravity.y)), plan.orient, (1, 1))
            return around((u * plan.source[0], v * plan.source[1]), size, region)
        u, v = to_source(ANCHORS.get(gravity, ANCHORS["center"]), plan.transform, (1, 1))  # unresolved focal: centre
        x0 = region[0] + u * (region[2] - region[0] - size[0])
        y0 = region[1] + v * (region[3] - region[1] - size[1])
        return x0, y0, x0 + size[0], y0 + size[1]

    def refine(self, image: Image.Image, plan: Plan) -> Plan:
        """`gravity=smart`: the kept box centred on the centre of attention of what may be kept (transforms/smart.py),
        read off the decoded (possibly draft-reduced) pixels; the centre's box when libvips cannot say."""
        if plan.box is None or plan.spec is None or plan.spec.value("gravity") != "smart":
            return plan
        region = plan.region or (0, 0, *image.size)
        keep = (plan.box[2] - plan.box[0], plan.box[3] - plan.box[1])
        if keep == (region[2] - region[0], region[3] - region[1]):
            return plan  # nothing is cropped but the crop itself
        point = attention(image, region, keep)
        return plan if point is None else replace(plan, box=around(point, (keep[0], keep[1]), region))

    def apply(self, image: Image.Image, plan: Plan) -> Image.Image:
        if plan.resize is None:
            return image
        box = plan.box
        if box is not None and plan.resize == (box[2] - box[0], box[3] - box[1]) and all(v == int(v) for v in box):
            return image.crop(box)  # a crop alone, on whole pixels: exact, no resampling
        return resample.resize(image, plan.resize, box, reducing_gap=REDUCING_GAP)
