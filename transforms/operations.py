"""The operation registry: geometry planning and one small class per image operation, applied in order."""

from __future__ import annotations

import functools
import io
import math
from dataclasses import dataclass, replace
from typing import ClassVar

from PIL import Image, ImageCms

from transforms.spec import VariantSpec

T = Image.Transpose
WHITE = (255, 255, 255)
# Pillow's own filter choice for thumbnails; with reducing_gap the bulk of a big shrink is a cheap
# box reduce and LANCZOS only does the last <=3x, so its cost hardly matters.
RESAMPLE = Image.Resampling.LANCZOS
REDUCING_GAP = 3.0

# The dihedral group D4 as 2x2 integer matrices (a, b, c, d) acting on centred (x, y), y pointing down.
_MATRIX: dict[T | None, tuple[int, int, int, int]] = {
    None: (1, 0, 0, 1),
    T.FLIP_LEFT_RIGHT: (-1, 0, 0, 1),
    T.FLIP_TOP_BOTTOM: (1, 0, 0, -1),
    T.ROTATE_180: (-1, 0, 0, -1),
    T.ROTATE_90: (0, 1, -1, 0),  # Pillow's ROTATE_90 is counter-clockwise
    T.ROTATE_270: (0, -1, 1, 0),
    T.TRANSPOSE: (0, 1, 1, 0),
    T.TRANSVERSE: (0, -1, -1, 0),
}
_ELEMENT = {m: t for t, m in _MATRIX.items()}
# The transpose that makes a picture with this EXIF orientation upright (as ImageOps.exif_transpose).
EXIF_UPRIGHT: dict[int, T | None] = {
    1: None,
    2: T.FLIP_LEFT_RIGHT,
    3: T.ROTATE_180,
    4: T.FLIP_TOP_BOTTOM,
    5: T.TRANSPOSE,
    6: T.ROTATE_270,
    7: T.TRANSVERSE,
    8: T.ROTATE_90,
}
CLOCKWISE: dict[int, T | None] = {0: None, 90: T.ROTATE_270, 180: T.ROTATE_180, 270: T.ROTATE_90}
FLIPS: dict[str, T | None] = {"": None, "h": T.FLIP_LEFT_RIGHT, "v": T.FLIP_TOP_BOTTOM, "hv": T.ROTATE_180}


def compose(*steps: T | None) -> T | None:
    """The single transpose equal to applying `steps` left to right (None is the identity)."""
    a, b, c, d = 1, 0, 0, 1
    for step in steps:
        p, q, r, s = _MATRIX[step]
        a, b, c, d = p * a + q * c, p * b + q * d, r * a + s * c, r * b + s * d
    return _ELEMENT[(a, b, c, d)]


def swaps_axes(transform: T | None) -> bool:
    return _MATRIX[transform][0] == 0


@dataclass(frozen=True)
class Plan:
    """What the operations do to one picture; sizes are (width, height), boxes in source pixels."""

    transform: T | None  # orientation, rotate and flip as one transpose, applied after the resize
    source: tuple[int, int]  # size of the decoded (not upright) picture
    resize: tuple[int, int] | None  # target size in source orientation; None = keep
    box: tuple[float, float, float, float] | None  # centred region of the source to resize (cover)
    pad: tuple[int, int] | None  # final upright canvas; None = no padding
    alpha: bool  # the output format keeps alpha; otherwise flatten on white

    def draft_size(self, gap: float) -> tuple[int, int] | None:
        """The smallest whole-source decode size that still leaves `gap` times the target pixels."""
        if self.resize is None:
            return None
        x0, y0, x1, y1 = self.box or (0, 0, *self.source)
        fx, fy = self.resize[0] / (x1 - x0), self.resize[1] / (y1 - y0)
        return math.ceil(self.source[0] * fx * gap), math.ceil(self.source[1] * fy * gap)

    def with_source(self, size: tuple[int, int]) -> Plan:
        """The same plan for a source decoded at a reduced size (JPEG draft)."""
        if size == self.source:
            return self
        fx, fy = size[0] / self.source[0], size[1] / self.source[1]
        box = self.box and (self.box[0] * fx, self.box[1] * fy, self.box[2] * fx, self.box[3] * fy)
        return replace(self, source=size, box=box)


def _target(size: tuple[int, int], spec: VariantSpec) -> tuple[tuple[int, int], tuple[int, int] | None]:
    """(result size, centred crop size) in upright pixels, never enlarging: a box the picture would
    have to grow into shrinks proportionally until it does not (cover/fill keep their aspect, pad
    keeps its aspect around the picture at its own size)."""
    W, H = size
    if spec.w is None or spec.h is None or spec.fit == "contain":
        sx = spec.w / W if spec.w else math.inf
        sy = spec.h / H if spec.h else math.inf
        s = min(sx, sy, 1.0)
        return (max(1, round(W * s)), max(1, round(H * s))), None
    w, h = spec.w, spec.h
    enlarge = {"cover": max(w / W, h / H), "fill": max(w / W, h / H), "pad": min(w / W, h / H)}[spec.fit]
    if enlarge > 1:
        w, h = max(1, round(w / enlarge)), max(1, round(h / enlarge))
    if spec.fit == "cover":
        s = max(w / W, h / H)
        return (w, h), (max(1, min(W, round(w / s))), max(1, min(H, round(h / s))))
    return (w, h), None


def plan_for(size: tuple[int, int], orientation: int, spec: VariantSpec, alpha: bool) -> Plan:
    """Turn a spec into a plan for a decoded picture of `size` with EXIF `orientation`."""
    transform = compose(EXIF_UPRIGHT.get(orientation), CLOCKWISE[spec.rotate], FLIPS[spec.flip])
    swap = swaps_axes(transform)
    upright = (size[1], size[0]) if swap else size
    (tw, th), crop = _target(upright, spec)
    pad = None
    if spec.fit == "pad" and spec.w and spec.h:
        s = min(tw / upright[0], th / upright[1], 1.0)
        pad, (tw, th) = (tw, th), (max(1, round(upright[0] * s)), max(1, round(upright[1] * s)))
        pad = None if pad == (tw, th) else pad
    if swap:
        tw, th = th, tw
        crop = crop and (crop[1], crop[0])
    box = None
    if crop and crop != size:
        x0, y0 = (size[0] - crop[0]) / 2, (size[1] - crop[1]) / 2
        box = (x0, y0, x0 + crop[0], y0 + crop[1])
    resize = None if (tw, th) == size and box is None else (tw, th)
    return Plan(transform, size, resize, box, pad, alpha)


def output_geometry(upright: tuple[int, int], spec: VariantSpec) -> tuple[tuple[int, int], tuple[int, int]]:
    """(canvas, picture): the variant's size and the picture's size on it, from the upright size alone."""
    plan = plan_for(upright, 1, spec, alpha=True)
    width, height = plan.resize or plan.source
    picture = (height, width) if swaps_axes(plan.transform) else (width, height)
    return plan.pad or picture, picture


class Operation:
    """One step of the pipeline; returns the image unchanged when the plan does not need it."""

    name: ClassVar[str]

    def apply(self, image: Image.Image, plan: Plan) -> Image.Image:
        raise NotImplementedError


class ToWorkingMode(Operation):
    """Bring any decoded mode to L, LA, RGB, RGBA or CMYK; 16-bit is scaled to 8 bits, not clipped."""

    name = "mode"

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


class Resize(Operation):
    """Shrink to the planned size, cropping the centred box first for cover."""

    name = "resize"

    def apply(self, image: Image.Image, plan: Plan) -> Image.Image:
        if plan.resize is None:
            return image
        return image.resize(plan.resize, RESAMPLE, box=plan.box, reducing_gap=REDUCING_GAP)


@functools.lru_cache(maxsize=16)
def _to_srgb(profile: bytes, in_mode: str, out_mode: str) -> ImageCms.ImageCmsTransform:
    source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
    srgb = ImageCms.createProfile("sRGB")
    # NOCACHE: transforms built with lcms' one-pixel cache are not safe to share between threads
    return ImageCms.buildTransform(source, srgb, in_mode, out_mode, flags=ImageCms.Flags.NOCACHE)


class ToSRGB(Operation):
    """Convert CMYK and ICC-tagged RGB to sRGB; the profile is dropped (untagged output means sRGB)."""

    name = "srgb"

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


class Flatten(Operation):
    """Composite transparent pixels on white when the output format has no alpha."""

    name = "flatten"

    def apply(self, image: Image.Image, plan: Plan) -> Image.Image:
        if plan.alpha or image.mode not in ("RGBA", "LA"):
            return image
        base = "L" if image.mode == "LA" else "RGB"
        background = Image.new(base, image.size, 255 if base == "L" else WHITE)
        background.paste(image.convert(base), mask=image.getchannel("A"))
        return background


class Transpose(Operation):
    """Apply orientation, rotate and flip as one transpose of the (already small) result."""

    name = "transpose"

    def apply(self, image: Image.Image, plan: Plan) -> Image.Image:
        return image if plan.transform is None else image.transpose(plan.transform)


class Pad(Operation):
    """Centre the picture on the planned canvas: transparent where alpha survives, white otherwise."""

    name = "pad"

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

    name = "strip"

    def apply(self, image: Image.Image, plan: Plan) -> Image.Image:
        image.info = {}
        return image


OPERATIONS: tuple[Operation, ...] = (
    ToWorkingMode(),
    Resize(),
    ToSRGB(),
    Flatten(),
    Transpose(),
    Pad(),
    Strip(),
)


def apply_all(image: Image.Image, plan: Plan) -> Image.Image:
    for operation in OPERATIONS:
        image = operation.apply(image, plan)
    return image
