"""Render one variant: source bytes and a VariantSpec in, encoded bytes out (pure Pillow, no I/O)."""

from __future__ import annotations

import contextlib
import io
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, ClassVar

from PIL import Image, JpegImagePlugin

from transforms import jpeg, resample
from transforms.decoders import ALLOWED_DECODERS, exif_orientation
from transforms.formats import ALPHA_FORMATS
from transforms.operations import Plan, apply_all, plan_for, refine_all
from transforms.spec import DEFAULT_QUALITY, VariantSpec

PIPELINE_VERSION = "1"
MAX_FRAMES = 200  # the upload validator refuses more; this only bounds the work if one slips through
# APNG is a PNG with frames. MPO "frames" (phone depth maps, previews) and TIFF pages are not an animation.
ANIMATED_SOURCES = ("GIF", "WEBP", "PNG")


class RenderError(Exception):
    """The source bytes cannot be decoded: not an allowed image format, corrupt or truncated."""


class RenderTimeout(RenderError):
    """The render ran past its time budget; checked between stages and between frames."""


def _within(deadline: float | None) -> None:
    if deadline is not None and time.monotonic() > deadline:
        raise RenderTimeout("the render ran past its time budget")


@dataclass(frozen=True)
class Rendered:
    data: bytes
    content_type: str
    format: str  # jpeg|png|webp|avif|gif
    width: int
    height: int
    animation: str  # "none" | "kept" | "first-frame"
    timings: dict[str, float]  # seconds per stage: decode, transform, encode
    peak_bytes: int | None = None  # set by the render process: what the render added to its RSS at the peak


class Encoder:
    """One output format: what it can hold and how it is written."""

    name: ClassVar[str]
    content_type: ClassVar[str]
    lossy: ClassVar[bool] = False
    alpha: ClassVar[bool] = True
    animated: ClassVar[bool] = False
    modes: ClassVar[tuple[str, ...]] = ("RGB", "RGBA")

    def prepare(self, image: Image.Image) -> Image.Image:
        if image.mode in self.modes:
            return image
        return image.convert("RGBA" if "A" in image.mode else "RGB")

    def options(self, quality: int) -> dict[str, object]:
        return {}

    def save(self, image: Image.Image, buf: IO[bytes], quality: int) -> None:
        self.prepare(image).save(buf, self.name.upper(), **self.options(quality))

    def save_animation(
        self, frames: list[Image.Image], buf: IO[bytes], quality: int, durations: list[int], loop: int | None
    ) -> None:
        frames = [self.prepare(frame) for frame in frames]
        extra = {} if loop is None else {"loop": loop}
        frames[0].save(
            buf,
            self.name.upper(),
            save_all=True,
            append_images=frames[1:],
            duration=durations,
            **extra,
            **self.animation_options(),
            **self.options(quality),
        )

    def animation_options(self) -> dict[str, object]:
        return {}


class JpegEncoder(Encoder):
    name = "jpeg"
    content_type = "image/jpeg"
    lossy = True
    alpha = False
    modes = ("RGB", "L")

    def options(self, quality: int) -> dict[str, object]:
        # tests/images.photo() 1200x800, q=82: plain 165.3 KB 3.4 ms; optimize 146.7 KB 8.6 ms;
        # progressive 143.1 KB 18.7 ms. optimize saves 11% for +5 ms, progressive 2% more for +10 ms.
        return {"quality": quality, "optimize": True, "progressive": False}


class PngEncoder(Encoder):
    name = "png"
    content_type = "image/png"
    modes = ("RGB", "RGBA", "L", "LA")

    def options(self, quality: int) -> dict[str, object]:
        # 1200x800 graphic (flat areas, 16-colour inset): level 1 61.7 KB 24 ms, 3 58.3 KB 25 ms,
        # 6 42.5 KB 39 ms, 9 41.6 KB 127 ms. Variants are cached and PNG is for graphics: 6.
        return {"compress_level": 6}


class WebpEncoder(Encoder):
    name = "webp"
    content_type = "image/webp"
    lossy = True
    animated = True

    def options(self, quality: int) -> dict[str, object]:
        # photo() 1200x800 q=80: method 4 137.5 KB 148 ms, method 6 127.2 KB 407 ms
        return {"quality": quality, "method": 4}


class AvifEncoder(Encoder):
    name = "avif"
    content_type = "image/avif"
    lossy = True

    def options(self, quality: int) -> dict[str, object]:
        # photo() 1200x800 q=60: speed 6 95.3 KB 391 ms, 8 94.7 KB 85 ms, 10 94.8 KB 53 ms;
        # 10 turns off coding tools that cost quality on real pictures, 8 is the usual "fast" setting
        return {"quality": quality, "speed": 8}


class GifEncoder(Encoder):
    name = "gif"
    content_type = "image/gif"
    animated = True
    modes = ("RGB", "RGBA", "L", "P")

    def animation_options(self) -> dict[str, object]:
        # every frame is a full composited canvas: clear to transparent before drawing the next one
        return {"disposal": 2}


ENCODERS: dict[str, Encoder] = {
    e.name: e for e in (JpegEncoder(), PngEncoder(), WebpEncoder(), AvifEncoder(), GifEncoder())
}
assert {name for name, encoder in ENCODERS.items() if encoder.alpha} == ALPHA_FORMATS


@contextlib.contextmanager
def _decoding() -> Iterator[None]:
    """Turn what Pillow raises on hostile or broken bytes into one narrow error."""
    try:
        yield
    except RenderError:
        raise
    except Image.DecompressionBombError as exc:
        raise RenderError(f"image is too large to decode: {exc}") from exc
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError, struct.error) as exc:
        raise RenderError(f"cannot decode image: {exc or type(exc).__name__}") from exc


def _decode(source: bytes, spec: VariantSpec, encoder: Encoder) -> tuple[Image.Image, Plan]:
    with _decoding():
        opened = Image.open(io.BytesIO(source), formats=ALLOWED_DECODERS)
        plan = plan_for(opened.size, exif_orientation(opened), spec, encoder.alpha)
        image: Image.Image = opened
        if isinstance(opened, JpegImagePlugin.JpegImageFile):
            image, eighths = jpeg.decode(source, opened, plan, encoder.name)
            plan = plan.with_source(image.size, eighths / 8)
        image.load()
    return image, plan


def _frames(image: Image.Image, max_frames: int) -> Iterator[tuple[Image.Image, int]]:
    """Each frame as Pillow composites it (disposal and blending applied), with its duration in ms."""
    for index in range(min(getattr(image, "n_frames", 1), max_frames)):
        with _decoding():
            image.seek(index)
            frame = image.convert("RGBA")
        yield frame, int(image.info.get("duration") or 0)


def animation_for(source_format: str, frames: int, out_format: str) -> str:
    """What happens to an animation: "kept" (animated source, animated output), "first-frame", or "none"."""
    if source_format not in ANIMATED_SOURCES or frames <= 1:
        return "none"
    return "kept" if ENCODERS[out_format].animated else "first-frame"


def render(
    source: bytes,
    spec: VariantSpec,
    out_format: str,
    *,
    deadline: float | None = None,
    max_frames: int = MAX_FRAMES,
    threads: resample.Threads = 1,
) -> Rendered:
    """Decode `source`, apply `spec` and encode as `out_format`; RenderError if it cannot be decoded.

    `deadline` (time.monotonic()) bounds the work: RenderTimeout is raised at the first check past it.
    At most `max_frames` frames of an animation are kept. A resize runs in bands on up to `threads` threads at once
    (a number, or a function a resize asks; transforms/resample.py): the same bytes, sooner.
    """
    encoder = ENCODERS[out_format]
    quality = spec.q if spec.q is not None else DEFAULT_QUALITY.get(out_format, 0)
    timings = {"decode": 0.0, "transform": 0.0, "encode": 0.0}
    started = time.perf_counter()
    image, plan = _decode(source, spec, encoder)
    timings["decode"] = time.perf_counter() - started
    _within(deadline)
    started = time.perf_counter()
    plan = refine_all(image, plan)  # from the first frame, for every frame: one crop for the whole animation
    timings["transform"] = time.perf_counter() - started
    animation = animation_for(image.format or "", getattr(image, "n_frames", 1), out_format)
    buf = io.BytesIO()
    if animation == "kept":
        with resample.using_threads(threads):
            result, animation = _render_animation(image, plan, encoder, buf, quality, timings, deadline, max_frames)
    else:
        started = time.perf_counter()
        held = [image]
        del image  # the list holds the decoded source alone now, and apply_all lets go of it after the first copy
        with resample.using_threads(threads):
            result = apply_all(held, plan)
        timings["transform"] += time.perf_counter() - started
        _within(deadline)
        started = time.perf_counter()
        encoder.save(result, buf, quality)
        timings["encode"] = time.perf_counter() - started
    return Rendered(buf.getvalue(), encoder.content_type, encoder.name, result.width, result.height, animation, timings)


def _render_animation(
    image: Image.Image,
    plan: Plan,
    encoder: Encoder,
    buf: IO[bytes],
    quality: int,
    timings: dict[str, float],
    deadline: float | None,
    max_frames: int,
) -> tuple[Image.Image, str]:
    """Put every frame through the same plan and encode them as one animation."""
    loop = image.info.get("loop")
    frames, durations = [], []
    frame_iter = _frames(image, max_frames)
    while True:
        _within(deadline)
        started = time.perf_counter()
        decoded = next(frame_iter, None)
        timings["decode"] += time.perf_counter() - started
        if decoded is None:
            break
        started = time.perf_counter()
        frames.append(apply_all(decoded[0], plan))
        durations.append(decoded[1])
        timings["transform"] += time.perf_counter() - started
    started = time.perf_counter()
    encoder.save_animation(frames, buf, quality, durations, loop if isinstance(loop, int) else None)
    timings["encode"] = time.perf_counter() - started
    return frames[0], "kept"
