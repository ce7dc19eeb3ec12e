"""Quality, measured: SSIM against the full-quality render (full decode, EXIF transpose, Lanczos, lossless).

`python -m bench.quality` prints the encoder study the settings in transforms/pipeline.py were chosen
from, and what the fast paths cost: the service's variant against the same full-quality render
encoded with the same settings. The threshold: the fast paths (draft decode, transposing the small
result, reducing_gap) may lose at most MAX_SSIM_LOSS of SSIM; the encoder's own loss is the setting's.
"""

from __future__ import annotations

import io
import sys
import time
from typing import Any

import numpy as np
from PIL import Image, ImageOps
from skimage.metrics import structural_similarity

from bench import images
from transforms.pipeline import ENCODERS, render
from transforms.spec import DEFAULT_QUALITY, VariantSpec

MAX_SSIM_LOSS = 0.003  # what the fast paths may cost, beyond the encoder's own loss at the same settings (issue 15)
WIDTHS = (320, 800, 1600)
CANDIDATES: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "JPEG": [
        ("q=82", {"quality": 82}),
        ("q=82 optimize (chosen)", {"quality": 82, "optimize": True}),
        ("q=82 optimize progressive", {"quality": 82, "optimize": True, "progressive": True}),
        ("q=75 (Pillow's default)", {"quality": 75}),
    ],
    "WEBP": [
        ("q=80 method=4 (chosen)", {"quality": 80, "method": 4}),
        ("q=80 method=6", {"quality": 80, "method": 6}),
        ("q=80 method=2", {"quality": 80, "method": 2}),
    ],
    "AVIF": [
        ("q=60 speed=6", {"quality": 60, "speed": 6}),
        ("q=60 speed=8 (chosen)", {"quality": 60, "speed": 8}),
        ("q=60 speed=10", {"quality": 60, "speed": 10}),
    ],
}


def ssim(a: Image.Image, b: Image.Image) -> float:
    """Mean SSIM of the luma planes (Wang et al. 2004: Gaussian window, sigma 1.5, K1 .01, K2 .03), by scikit-image."""
    x, y = np.asarray(a.convert("L")), np.asarray(b.convert("L"))
    return float(
        structural_similarity(x, y, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255)
    )


def reference(source: bytes, width: int) -> Image.Image:
    """The full-quality render: no draft, the whole source transposed, then one Lanczos resize."""
    upright = ImageOps.exif_transpose(Image.open(io.BytesIO(source))).convert("RGB")
    height = max(1, round(upright.height * width / upright.width))
    return upright.resize((width, height), Image.Resampling.LANCZOS)


def encoded(image: Image.Image, fmt: str) -> Image.Image:
    """`image` through the service's own encoder settings for `fmt`, decoded again."""
    buf = io.BytesIO()
    ENCODERS[fmt].save(image, buf, DEFAULT_QUALITY[fmt])
    return Image.open(io.BytesIO(buf.getvalue()))


def served(source: bytes, widths: tuple[int, ...] | list[int] = WIDTHS) -> dict[str, Any]:
    """Per format and width: SSIM of the service's variant and of the full-quality render encoded with the
    service's own settings, both against the full-quality render; the largest loss the fast paths add."""
    by_format: dict[str, dict[int, dict[str, float]]] = {"jpeg": {}, "webp": {}}
    for width in widths:
        full = reference(source, width)
        for fmt, by_width in by_format.items():
            variant = Image.open(io.BytesIO(render(source, VariantSpec(w=width, fmt=fmt), fmt).data))
            by_width[width] = {"service": ssim(variant, full), "encoder_alone": ssim(encoded(full, fmt), full)}
    return {
        fmt: {
            "by_width": by_width,
            "max_extra_loss": max(s["encoder_alone"] - s["service"] for s in by_width.values()),
            "allowed": MAX_SSIM_LOSS,
        }
        for fmt, by_width in by_format.items()
    }


def study(source: bytes, width: int = 1200) -> list[dict[str, Any]]:
    """Size, encode time and SSIM of each candidate setting on the same full-quality 1200-px render."""
    full = reference(source, width)
    rows = []
    for fmt, candidates in CANDIDATES.items():
        for name, options in candidates:
            buf = io.BytesIO()
            started = time.perf_counter()
            full.save(buf, fmt, **options)
            seconds = time.perf_counter() - started
            score = ssim(Image.open(io.BytesIO(buf.getvalue())), full)
            rows.append({"format": fmt, "setting": name, "bytes": buf.tell(), "ms": seconds * 1000, "ssim": score})
    return rows


def main() -> int:
    source = images.camera_jpeg((4000, 3000), orientation=6, nonce="quality", seed=2)
    print("encoder settings on a 1200-px render of a 4000x3000 photograph (SSIM vs the lossless render):")
    print(f"{'format':<6} {'setting':<30} {'bytes':>9} {'encode ms':>10} {'SSIM':>7}")
    for row in study(source):
        print(f"{row['format']:<6} {row['setting']:<30} {row['bytes']:>9,} {row['ms']:>10.1f} {row['ssim']:>7.4f}")
    failed = False
    for fmt, data in served(source).items():
        for width, s in data["by_width"].items():
            print(f"{fmt} w={width}: service {s['service']:.4f}, same encoder on the full-quality render "
                  f"{s['encoder_alone']:.4f}")  # fmt: skip
        verdict = "PASS" if data["max_extra_loss"] <= MAX_SSIM_LOSS else "FAIL"
        failed |= verdict == "FAIL"
        print(
            f"{fmt}: the fast paths cost at most {data['max_extra_loss']:+.4f} SSIM (allowed {MAX_SSIM_LOSS}) {verdict}"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
