"""W2's anchor: the floor of a cold render, in-process Pillow with nothing but the work itself; and the frontier of
draft decoding against quality that transforms/jpeg.py's DRAFT_GAPS were chosen from.

The anchor (issue 15): open, draft straight to the smallest JPEG DCT scale whose decode is at least the output
size, one `resize(LANCZOS)`, transpose the result upright, encode with the service's own encoder settings.
It loses quality where the reduced decode is close to the output (see `frontier`); the service may not. The guarded
anchor is the anchor's method stepped to the next finer DCT scale for as long as its own variant loses more than the
quality guard: the fastest Pillow draft render that holds the guard (an oracle: it measures the SSIM of each step).

`python -m bench.anchor [--widths 100,200,…] [--reps 3]` prints the frontier: per width and format, the SSIM lost
(on the encoded variant, against the full-quality render encoded with the same settings) and the in-process ms of
decoding at the anchor's scale, at one scale finer and at the guarded anchor's, and what `pipeline.render` chose.
"""

from __future__ import annotations

import argparse
import functools
import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from PIL import Image

from bench import images, quality
from transforms.decoders import exif_orientation
from transforms.geometry import EXIF_UPRIGHT, swaps_axes
from transforms.pipeline import ENCODERS, render
from transforms.spec import DEFAULT_QUALITY, VariantSpec

RESAMPLE = Image.Resampling.LANCZOS
WIDTHS = tuple(range(100, 2000, 100))  # W2's widths at concurrency 1


def _draft_render(source: bytes | Path, width: int, fmt: str, finer: int = 1) -> tuple[bytes, int]:
    """Decode at the smallest DCT scale at least the output (`finer` times that size: one scale finer at 2),
    one Lanczos resize, transpose, encode as the service does; the bytes and the decoded width."""
    image = Image.open(io.BytesIO(source) if isinstance(source, bytes) else source)
    orient = EXIF_UPRIGHT.get(exif_orientation(image))
    stored_w, stored_h = image.size
    upright_w, upright_h = (stored_h, stored_w) if swaps_axes(orient) else (stored_w, stored_h)
    scale = min(width / upright_w, 1.0)
    target = (max(1, round(upright_w * scale)), max(1, round(upright_h * scale)))
    stored_target = (target[1], target[0]) if swaps_axes(orient) else target
    image.draft(None, (stored_target[0] * finer, stored_target[1] * finer))
    decoded = image.size[0]
    result = image.resize(stored_target, RESAMPLE) if image.size != stored_target else image
    if orient is not None:
        result = result.transpose(orient)
    buf = io.BytesIO()
    ENCODERS[fmt].save(result, buf, DEFAULT_QUALITY[fmt])
    return buf.getvalue(), decoded


def anchor(source: bytes | Path, width: int, fmt: str) -> bytes:
    """The anchor render of `?w=<width>&fmt=<fmt>` (W2's in-process reference row)."""
    return _draft_render(source, width, fmt)[0]


def guarded(finer: dict[int, int]) -> Any:
    """The guarded anchor as a W2 renderer, `finer` (guarded_finer per width) found beforehand, untimed; a width
    not in it (the warm-up's) renders as the anchor."""

    def render_guarded(source: bytes | Path, width: int, fmt: str) -> bytes:
        return _draft_render(source, width, fmt, finer.get(width, 1))[0]

    return render_guarded


def guarded_finer(source: bytes, width: int, fmt: str, reference: Image.Image | None = None) -> int:
    """How many times the output size the guarded anchor decodes at least (1: the anchor itself; 2, 4, 8: one, two,
    three DCT scales finer): the first whose variant loses at most the guard against the full-quality render."""
    reference = reference if reference is not None else quality.reference(source, width)
    base = quality.ssim(quality.encoded(reference, fmt), reference)
    for finer in (1, 2, 4):
        data, _ = _draft_render(source, width, fmt, finer)
        if base - quality.ssim(Image.open(io.BytesIO(data)), reference) <= quality.MAX_SSIM_LOSS:
            return finer
    return 8  # at least 8x the output: the full decode for any output over 1/8 of the source


def _best_ms(job: Any, reps: int) -> tuple[float, Any]:
    """The least CPU time of `reps` runs, in ms: steadier than the wall clock on a shared machine."""
    best, out = float("inf"), None
    for _ in range(reps):
        started = time.process_time()
        out = job()
        best = min(best, time.process_time() - started)
    return best * 1000, out


def frontier(source: bytes, widths: tuple[int, ...] = WIDTHS, reps: int = 3) -> Iterator[dict[str, Any]]:
    """Per width and format: SSIM loss and best-of-`reps` ms at the anchor's decode scale, one scale finer, the guarded
    anchor's, and pipeline.render's own choice."""
    for width in widths:
        reference = quality.reference(source, width)
        for fmt in ("jpeg", "webp"):
            same_settings = quality.encoded(reference, fmt)
            base = quality.ssim(same_settings, reference)
            row: dict[str, Any] = {"width": width, "fmt": fmt}
            guarded = guarded_finer(source, width, fmt, reference)
            for name, finer in (("anchor", 1), ("finer", 2), ("guarded", guarded)):
                ms, (data, decoded) = _best_ms(functools.partial(_draft_render, source, width, fmt, finer), reps)
                loss = base - quality.ssim(Image.open(io.BytesIO(data)), reference)
                row[name] = {"decoded_width": decoded, "ms": ms, "ssim_loss": loss}
            ms, rendered = _best_ms(functools.partial(render, source, VariantSpec(w=width, fmt=fmt), fmt), reps)
            loss = base - quality.ssim(Image.open(io.BytesIO(rendered.data)), reference)
            row["darkroom"] = {"ms": ms, "ssim_loss": loss}
            yield row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--widths", default=",".join(map(str, WIDTHS)))
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    source = images.camera_jpeg((4000, 3000), orientation=6, nonce="frontier", seed=2)
    widths = tuple(int(w) for w in args.widths.split(","))
    print(
        "4000x3000 JPEG, EXIF 6 (3000x4000 upright); SSIM lost vs the full-quality render encoded alike; "
        f"CPU ms, best of {args.reps}"
    )
    print(
        "| w | fmt | anchor: decoded w, SSIM lost, ms | one scale finer: decoded w, SSIM lost, ms "
        "| guarded anchor: decoded w, SSIM lost, ms | darkroom: SSIM lost, ms |"
    )
    print("|---:|---|---|---|---|---|")
    totals: dict[str, dict[str, float]] = {}
    for row in frontier(source, widths, args.reps):
        a, f, g, d = row["anchor"], row["finer"], row["guarded"], row["darkroom"]
        sums = totals.setdefault(row["fmt"], {"anchor": 0.0, "guarded": 0.0, "darkroom": 0.0})
        for name in sums:
            sums[name] += row[name]["ms"]
        print(
            f"| {row['width']} | {row['fmt']} | {a['decoded_width']}, {a['ssim_loss']:.4f}, {a['ms']:.0f} "
            f"| {f['decoded_width']}, {f['ssim_loss']:.4f}, {f['ms']:.0f} "
            f"| {g['decoded_width']}, {g['ssim_loss']:.4f}, {g['ms']:.0f} | {d['ssim_loss']:.4f}, {d['ms']:.0f} |",
            flush=True,
        )
    for fmt, sums in totals.items():
        print(
            f"{fmt}, summed over the widths: darkroom / anchor {sums['darkroom'] / sums['anchor']:.2f}, "
            f"darkroom / guarded anchor {sums['darkroom'] / sums['guarded']:.2f}"
        )


if __name__ == "__main__":
    main()
