"""W6 smart crop: on generated pictures whose subject is known, does gravity=smart keep it, and at what cost?

Each picture is a softly graded, faintly noisy background with one subject, of one of three kinds, somewhere a
centre crop may miss it: a face (a skin-toned oval with eyes and a mouth), a bunch of saturated blobs, or a
striped object; half of the backgrounds also carry large, soft, low-contrast shapes to distract the measure.
The output is a box of the other orientation (a portrait of a landscape, a banner of a portrait), so a third to
a half of the picture is kept. A subject is held when its whole box lies inside what the crop keeps, read off
the render's own plan. The cost is pipeline.render to JPEG with gravity=smart beside the same render with the
centre, interleaved picture by picture, in this process: what a render process does.
"""

from __future__ import annotations

import io
import random
import statistics
import time
from typing import Any

from PIL import Image, ImageDraw, ImageFilter

from transforms.operations import plan_for, refine_all
from transforms.pipeline import render
from transforms.spec import VariantSpec

KINDS = ("face", "blobs", "stripes")
SIZES = ((1200, 800), (800, 1200), (1600, 900))
TARGET = 0.95  # the share of subjects a smart crop must keep


def _background(rng: random.Random, size: tuple[int, int], distractors: bool) -> Image.Image:
    w, h = size
    top = tuple(rng.randrange(70, 190) for _ in range(3))
    bottom = tuple(rng.randrange(70, 190) for _ in range(3))
    ramp = Image.linear_gradient("L").resize(size)
    image = Image.composite(Image.new("RGB", size, bottom), Image.new("RGB", size, top), ramp)
    if distractors:  # big soft shapes, a little lighter or darker than the ground: hills, clouds, a wall
        for _ in range(4):
            x, y, r = rng.randrange(w), rng.randrange(h), rng.randrange(min(size) // 6, min(size) // 2)
            shade = tuple(max(0, min(255, c + rng.randrange(-25, 26))) for c in top)
            mask = Image.new("L", size, 0)
            ImageDraw.Draw(mask).ellipse((x - r, y - r, x + r, y + r), fill=255)
            mask = mask.filter(ImageFilter.GaussianBlur(min(size) / 60))
            image = Image.composite(Image.new("RGB", size, shade), image, mask)
    noise = Image.frombytes("L", size, rng.randbytes(w * h)).convert("RGB")
    return Image.blend(image, noise, 0.05)


def _subject(rng: random.Random, kind: str, side: int) -> tuple[Image.Image, Image.Image]:
    """The subject's picture and its mask (what counts as the subject)."""
    picture = Image.new("RGB", (side, side))
    mask = Image.new("L", (side, side), 0)
    draw, outline = ImageDraw.Draw(picture), ImageDraw.Draw(mask)
    if kind == "face":
        skin = (rng.randrange(180, 235), rng.randrange(120, 170), rng.randrange(90, 130))
        oval = (side * 0.15, 0, side * 0.85, side - 1)
        draw.ellipse(oval, fill=skin)
        outline.ellipse(oval, fill=255)
        for cx in (0.38, 0.62):
            draw.ellipse((side * (cx - 0.06), side * 0.35, side * (cx + 0.06), side * 0.45), fill=(40, 30, 30))
        draw.ellipse((side * 0.4, side * 0.66, side * 0.6, side * 0.76), fill=(150, 40, 50))
    elif kind == "blobs":
        outline.ellipse((0, 0, side - 1, side - 1), fill=255)
        radius = max(3, side // 9)
        for _ in range(40):
            cx, cy = rng.randrange(side), rng.randrange(side)
            colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
            draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=colour)
    else:
        outline.rectangle((0, 0, side - 1, side - 1), fill=255)
        stripe = max(2, side // 14)
        for x in range(0, side, stripe * 2):
            draw.rectangle((x, 0, x + stripe - 1, side - 1), fill=(240, 240, 235))
            draw.rectangle((x + stripe, 0, x + 2 * stripe - 1, side - 1), fill=(25, 25, 40))
    return picture, mask


def scenes(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """`count` pictures, each with its subject's box and the output that cannot hold the whole picture."""
    rng = random.Random(seed)
    made = []
    for index in range(count):
        size = SIZES[index % len(SIZES)]
        kind = KINDS[(index // len(SIZES)) % len(KINDS)]
        image = _background(rng, size, distractors=index % 2 == 1)
        side = round(min(size) * rng.uniform(0.12, 0.2))
        picture, mask = _subject(rng, kind, side)
        x, y = rng.randrange(0, size[0] - side), rng.randrange(0, size[1] - side)
        image.paste(picture, (x, y), mask)
        output = (300, 600) if size[0] > size[1] else (600, 300)
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=88)
        made.append({"jpeg": buffer.getvalue(), "subject": (x, y, x + side, y + side), "output": output, "kind": kind})
    return made


def kept(source: bytes, spec: VariantSpec) -> tuple[float, float, float, float]:
    """The box of the picture a render keeps, from the pipeline's own plan (refined from the pixels)."""
    with Image.open(io.BytesIO(source)) as image:
        image.load()
        plan = refine_all(image, plan_for(image.size, 1, spec, alpha=False))
    return plan.box or (0, 0, *image.size)


def _holds(box: tuple[float, float, float, float], subject: tuple[int, int, int, int]) -> bool:
    return box[0] <= subject[0] and box[1] <= subject[1] and subject[2] <= box[2] and subject[3] <= box[3]


def _stats(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    return {
        "mean_ms": statistics.fmean(ordered) * 1000,
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))] * 1000,
    }


def run(quick: bool = False) -> dict[str, Any]:
    """Hold rates of the smart and the centre crop, and the render times of both, on the generated set."""
    cases = scenes(30 if quick else 90)
    held = {"smart": 0, "center": 0}
    by_kind: dict[str, list[int]] = {kind: [0, 0] for kind in KINDS}
    timings: dict[str, list[float]] = {"smart": [], "center": []}
    for case in cases:
        w, h = case["output"]
        for gravity in ("center", "smart"):
            spec = VariantSpec(w=w, h=h, fit="cover", gravity=gravity)
            hold = _holds(kept(case["jpeg"], spec), case["subject"])
            held[gravity] += hold
            if gravity == "smart":
                by_kind[case["kind"]][0] += hold
                by_kind[case["kind"]][1] += 1
            started = time.perf_counter()
            render(case["jpeg"], spec, "jpeg")
            timings[gravity].append(time.perf_counter() - started)
    return {
        "n": len(cases),
        "held": held,
        "by_kind": by_kind,
        "target": TARGET,
        "render": {gravity: _stats(seconds) for gravity, seconds in timings.items()},
        "pictures": "1200x800, 800x1200, 1600x900 JPEG; subjects 12-20 % of the short side; output 300x600 / 600x300",
    }
