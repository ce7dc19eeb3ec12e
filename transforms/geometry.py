"""Geometry of a variant: the eight orientations as one group, the plan of one render, and fitting into a box."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from PIL import Image

if TYPE_CHECKING:
    from transforms.spec import VariantSpec

T = Image.Transpose

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


Box = tuple[float, float, float, float]  # left, top, right, bottom, as Pillow takes a box


def to_source(point: tuple[float, float], transform: T | None, size: tuple[int, int]) -> tuple[float, float]:
    """Where a point of the picture as `transform` shows it lies in the untransformed picture of `size`."""
    a, b, c, d = _MATRIX[transform]
    width, height = size
    shown = (height, width) if a == 0 else (width, height)
    x, y = point[0] - shown[0] / 2, point[1] - shown[1] / 2
    # the matrices are orthogonal: the inverse is the transpose
    return a * x + c * y + width / 2, b * x + d * y + height / 2


def box_to_source(box: Box, transform: T | None, size: tuple[int, int]) -> Box:
    """A box of the picture as `transform` shows it, as a box of the untransformed picture of `size`."""
    (x0, y0), (x1, y1) = to_source(box[:2], transform, size), to_source(box[2:], transform, size)
    return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)


@dataclass(frozen=True)
class Plan:
    """What the operations do to one picture; sizes are (width, height), boxes in source pixels."""

    transform: T | None  # orientation, rotate and flip as one transpose, applied after the resize
    source: tuple[int, int]  # size of the decoded (not upright) picture
    resize: tuple[int, int] | None  # target size in source orientation; None = keep
    box: Box | None  # the part of the source that is resized (crop, cover); None = all of it
    pad: tuple[int, int] | None  # final upright canvas; None = no padding
    alpha: bool  # the output format keeps alpha; otherwise flatten on white
    spec: VariantSpec | None = None  # what was asked, for operations that read their own parameters
    orient: T | None = None  # the EXIF orientation's part of `transform`: source to upright original
    region: Box | None = None  # the part of the source a `crop` keeps (the box lies inside it); None = all

    @property
    def original(self) -> tuple[int, int]:
        """The source's size upright (EXIF orientation applied), as the original's recorded size is."""
        return (self.source[1], self.source[0]) if swaps_axes(self.orient) else self.source

    @property
    def upright(self) -> tuple[int, int]:
        """The source's size once the transform is applied."""
        return (self.source[1], self.source[0]) if swaps_axes(self.transform) else self.source

    def draft_size(self, gap: float) -> tuple[int, int] | None:
        """The smallest whole-source decode size that still leaves `gap` times the target pixels."""
        if self.resize is None:
            return None
        x0, y0, x1, y1 = self.box or (0, 0, *self.source)
        fx, fy = self.resize[0] / (x1 - x0), self.resize[1] / (y1 - y0)
        return math.ceil(self.source[0] * fx * gap), math.ceil(self.source[1] * fy * gap)

    def with_source(self, size: tuple[int, int], scale: float | None = None) -> Plan:
        """The same plan for a source decoded at a reduced size (JPEG DCT scaling) of `scale` times each side.

        libjpeg rounds a scaled side up: its last row and column are partly edge padding (1/8 of a 4001-px side is
        500.125 px of picture in 501). The resize then reads exactly the picture's part of them, or a sharp
        picture's variant is shifted and stretched by up to a pixel of the decode. Without `scale`: size / source.
        """
        if size == self.source:
            return self
        fx, fy = (scale, scale) if scale else (size[0] / self.source[0], size[1] / self.source[1])

        def scaled(box: Box | None) -> Box | None:
            return box and (box[0] * fx, box[1] * fy, box[2] * fx, box[3] * fy)

        box, region = scaled(self.box), scaled(self.region)
        picture = (0.0, 0.0, self.source[0] * fx, self.source[1] * fy)
        if self.resize is not None and picture != (0, 0, *size):
            box, region = box or picture, region or picture
        return replace(self, source=size, box=box, region=region)


def fit_into(
    size: tuple[int, int], w: int | None, h: int | None, fit: str
) -> tuple[tuple[int, int], tuple[int, int] | None]:
    """(result size, centred crop size) in upright pixels, never enlarging: a box the picture would
    have to grow into shrinks proportionally until it does not (cover/fill keep their aspect, pad
    keeps its aspect around the picture at its own size)."""
    W, H = size
    if w is None or h is None or fit == "contain":
        sx = w / W if w else math.inf
        sy = h / H if h else math.inf
        s = min(sx, sy, 1.0)
        return (max(1, round(W * s)), max(1, round(H * s))), None
    enlarge = {"cover": max(w / W, h / H), "fill": max(w / W, h / H), "pad": min(w / W, h / H)}[fit]
    if enlarge > 1:
        w, h = max(1, round(w / enlarge)), max(1, round(h / enlarge))
    if fit == "cover":
        s = max(w / W, h / H)
        return (w, h), (max(1, min(W, round(w / s))), max(1, min(H, round(h / s))))
    return (w, h), None
