"""Output budgets: what one variant may cost, decided from the original's recorded facts before any decode."""

# Why: a source limit alone does not bound a render. A 58 KB GIF of 60 frames, padded to 1500x8192 and encoded
# as WebP, held 60 canvases of 12 MP at once and took 3.3 GB; a 205-byte 1x65000 PNG padded to 8192x8192 took
# 1.8 GB as AVIF. Every bound below is checked on the planned output (its canvas, its frames, its format) from
# the width, height and frame count recorded at upload, so a refusal costs microseconds and no render starts.

from __future__ import annotations

from dataclasses import dataclass

from transforms.operations import REGISTRY
from transforms.spec import InvalidSpec, VariantSpec

FORMAT_NAMES = {"jpeg": "JPEG", "png": "PNG", "webp": "WebP", "avif": "AVIF", "gif": "GIF"}


@dataclass(frozen=True)
class FormatLimits:
    """What an encoder can hold (max_side) and what one frame of it may cost here (max_frame_pixels)."""

    max_side: int
    max_frame_pixels: int


# Peak memory of one render process (its VmHWM over its idle size), encoding from a 24 MP JPEG, measured on the
# development machine with Pillow 13 (transforms/tests/test_render_memory.py checks these): JPEG 182-199 MB and
# PNG 170 MB at 24 MP (full size); WebP 210 MB at 12 MP, 242 at 16 MP, 289 at 24 MP; AVIF 156-187 MB at 4.2 MP,
# 659 at 24 MP; GIF (median-cut quantising) 149-187 MB at 3 MP, 452 at 10.7 MP. A resize holds the decoded
# source, Pillow's one-pass intermediate and the result at once (24 MP to 16.7 MP JPEG: 242 MB). The frame
# budgets keep each format under about 256 MB; RENDER_MEMORY_LIMIT kills whatever grows beyond them.
# Sides: WebP's own limit is 16383; libjpeg's 65500; GIF stores 16 bits; AV1 allows 65536.
FORMAT_LIMITS: dict[str, FormatLimits] = {
    "jpeg": FormatLimits(max_side=65_500, max_frame_pixels=25_000_000),
    "png": FormatLimits(max_side=2**31 - 1, max_frame_pixels=25_000_000),
    "webp": FormatLimits(max_side=16_383, max_frame_pixels=12_000_000),
    "avif": FormatLimits(max_side=65_536, max_frame_pixels=4_200_000),
    "gif": FormatLimits(max_side=65_535, max_frame_pixels=3_000_000),
}


@dataclass(frozen=True)
class OutputBudget:
    """The settings' bounds on one variant: pixels x frames, and how far fit=pad may grow a picture."""

    max_output_pixels: int = 25_000_000
    max_pad_ratio: int = 16
    pad_free_pixels: int = 1_000_000  # a canvas this small is always allowed (an icon padded into a tile)


class OverBudget(InvalidSpec):
    """A well-formed variant that would cost more than a render may; `status` is 400 or 422."""

    def __init__(self, param: str, message: str, code: str, status: int) -> None:
        super().__init__(param, message, code)
        self.status = status


def _size(size: tuple[int, int]) -> str:
    return f"{size[0]}x{size[1]}"


def fits_format(canvas: tuple[int, int], out_format: str) -> bool:
    """Whether one frame of this size is within what `out_format` may hold here."""
    limits = FORMAT_LIMITS[out_format]
    return max(canvas) <= limits.max_side and canvas[0] * canvas[1] <= limits.max_frame_pixels


def check_output(
    spec: VariantSpec,
    *,
    canvas: tuple[int, int],
    picture: tuple[int, int],
    frames: int,
    out_format: str,
    budget: OutputBudget,
) -> None:
    """Raise OverBudget unless a variant with this canvas (the picture on it), frames and format is allowed."""
    pixels = canvas[0] * canvas[1]
    if canvas != picture and pixels > budget.pad_free_pixels:
        ratio = pixels / (picture[0] * picture[1])
        if ratio > budget.max_pad_ratio:
            raise OverBudget(
                "fit",
                f"fit=pad would put the {_size(picture)} picture on a {_size(canvas)} canvas, {ratio:,.0f} times its "
                f"area; a padded canvas may be at most {budget.max_pad_ratio} times the picture (or "
                f"{budget.pad_free_pixels:,} pixels). Ask for a box closer to the picture's shape.",
                "pad_too_large",
                400,
            )
    if pixels * frames > budget.max_output_pixels:
        of_frames = f" x {frames} frames = {pixels * frames:,}" if frames > 1 else ""
        param = "h" if spec.h is not None and spec.w is None else "w"
        raise OverBudget(
            param,
            f"The variant would be {_size(canvas)} = {pixels:,} pixels{of_frames}; the limit is "
            f"{budget.max_output_pixels:,}. Ask for a smaller w or h"
            + (", or a still format (jpeg, png, avif)." if frames > 1 else "."),
            "output_too_large",
            400,
        )
    _check_operations(spec, picture)
    _check_format(canvas, out_format)


def _check_operations(spec: VariantSpec, picture: tuple[int, int]) -> None:
    """An operation that holds more copies of a frame than a resize (a blur) bounds the frames it works on."""
    for operation in REGISTRY.operations:
        bound = operation.frame_pixels(spec)
        if bound is not None and picture[0] * picture[1] > bound:
            name = operation.params[0].name
            raise OverBudget(
                name,
                f"{name} works on at most {bound:,} pixels a frame here; this variant would be {_size(picture)} = "
                f"{picture[0] * picture[1]:,}. Ask for a smaller w or h.",
                "output_too_large",
                400,
            )


def _check_format(canvas: tuple[int, int], out_format: str) -> None:
    limits, name = FORMAT_LIMITS[out_format], FORMAT_NAMES[out_format]
    if max(canvas) > limits.max_side:
        raise OverBudget(
            "fmt",
            f"{name} holds at most {limits.max_side:,} pixels a side; this variant would be {_size(canvas)}. "
            "Ask for a smaller w or h, or another fmt.",
            "format_limit",
            422,
        )
    if canvas[0] * canvas[1] > limits.max_frame_pixels:
        raise OverBudget(
            "fmt",
            f"{name} output is limited to {limits.max_frame_pixels:,} pixels a frame here; this variant would be "
            f"{_size(canvas)} = {canvas[0] * canvas[1]:,}. Ask for a smaller w or h, or another fmt.",
            "format_limit",
            422,
        )
