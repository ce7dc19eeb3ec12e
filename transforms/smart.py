"""`gravity=smart`: where a picture's subject is, by libvips' attention measure through pyvips (pure: no Django).

imgproxy's smart crop, not a home-made heuristic: libvips (`vips_smartcrop`, `interesting=attention`) scores
edges, skin tones and saturated colour on a shrunk copy, blurs the scores and takes the strongest place. Only
the point is used here: the kept box is centred on it as near as the picture allows, as for a focal point.
pyvips is imported on the first smart crop only, in the render process that does it (about 10 MB once).
"""

from __future__ import annotations

import logging
from typing import Any

from PIL import Image

from transforms.geometry import Box

logger = logging.getLogger(__name__)

# The attention measure shrinks its input to about 1/8 anyway; 400 px a side keeps small subjects visible to it
# (bench/smart.py: the same share of subjects held at 300, 400 and 600) and costs a few milliseconds.
ANALYSIS_SIDE = 400
NEIGHBOURHOOD = 0.5  # of the kept box's shorter side: how large an area the measure scores around a point


def _analysis_copy(image: Image.Image, region: Box) -> Image.Image:
    """The region, shrunk to at most ANALYSIS_SIDE a side, in 8-bit RGB (what the measure reads)."""
    width, height = region[2] - region[0], region[3] - region[1]
    scale = min(1.0, ANALYSIS_SIDE / max(width, height))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    if image.mode.startswith("I;16") or image.mode in ("I", "F"):
        image = image.convert("I").point(lambda v: v * (1 / 257)).convert("L")  # scaled, not clipped to white
    small = image.resize(size, Image.Resampling.BILINEAR, box=region, reducing_gap=2.0)
    return small if small.mode == "RGB" else small.convert("RGB")


def _vips() -> Any:
    import pyvips  # imported here: most render processes never make a smart crop

    return pyvips


def attention(image: Image.Image, region: Box, keep: tuple[float, float]) -> tuple[float, float] | None:
    """The centre of attention inside `region` of `image`, in the image's pixels, for a kept box of `keep`
    (region pixels); None when libvips cannot say (then the caller keeps the centre)."""
    small = _analysis_copy(image, region)
    scale = small.width / (region[2] - region[0])
    # libvips scores a neighbourhood as large as the crop it is asked for (its blur); asked for the whole kept box,
    # a large, mildly interesting area (a saturated or skin-toned wall) outweighed a small subject: bench/smart.py
    # held 79 % of its subjects so, 94-96 % with a square half as wide as the kept box's short side.
    side = max(1, min(small.width, small.height, round(min(keep) * scale * NEIGHBOURHOOD)))
    pyvips = _vips()
    try:
        picture = pyvips.Image.new_from_memory(small.tobytes(), small.width, small.height, 3, "uchar")
        _, found = picture.smartcrop(side, side, interesting="attention", attention_x=True, attention_y=True)
    except pyvips.Error as exc:
        logger.warning("smart crop fell back to the centre: %s", exc)
        return None
    x, y = found["attention_x"], found["attention_y"]
    return region[0] + (x + 0.5) / scale, region[1] + (y + 0.5) / (small.height / (region[3] - region[1]))
