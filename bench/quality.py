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

from bench import images
from transforms.pipeline import ENCODERS, render
from transforms.spec import DEFAULT_QUALITY, VariantSpec

MAX_SSIM_LOSS = 0.01  # what the fast paths may cost, beyond the encoder's own loss at the same settings
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


def _gaussian(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    x = np.arange(size) - size // 2
    kernel = np.exp(-(x**2) / (2 * sigma**2))
    return kernel / kernel.sum()


def _blur(a: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Separable 'valid' convolution, rows then columns."""
    rows = np.apply_along_axis(lambda r: np.convolve(r, kernel, mode="valid"), 1, a)
    return np.apply_along_axis(lambda c: np.convolve(c, kernel, mode="valid"), 0, rows)


def ssim(a: Image.Image, b: Image.Image) -> float:
    """Mean SSIM of the luma planes (Wang et al. 2004: 11x11 Gaussian window, sigma 1.5, K1 .01, K2 .03)."""
    x = np.asarray(a.convert("L"), dtype=np.float64)
    y = np.asarray(b.convert("L"), dtype=np.float64)
    k = _gaussian()
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mx, my = _blur(x, k), _blur(y, k)
    sxx, syy, sxy = _blur(x * x, k) - mx * mx, _blur(y * y, k) - my * my, _blur(x * y, k) - mx * my
    num = (2 * mx * my + c1) * (2 * sxy + c2)
    den = (mx * mx + my * my + c1) * (sxx + syy + c2)
    return float((num / den).mean())


def _reference(source: bytes, width: int) -> Image.Image:
    """The full-quality render: no draft, the whole source transposed, then one Lanczos resize."""
    upright = ImageOps.exif_transpose(Image.open(io.BytesIO(source))).convert("RGB")
    height = max(1, round(upright.height * width / upright.width))
    return upright.resize((width, height), Image.Resampling.LANCZOS)


def served(source: bytes, widths: tuple[int, ...] = WIDTHS) -> dict[str, Any]:
    """Per format and width: SSIM of the service's variant and of the full-quality render encoded with the
    service's own settings, both against the full-quality render; the largest loss the fast paths add."""
    out: dict[str, Any] = {}
    for fmt in ("jpeg", "webp"):
        encoder, quality = ENCODERS[fmt], DEFAULT_QUALITY[fmt]
        by_width = {}
        for width in widths:
            reference = _reference(source, width)
            variant = Image.open(io.BytesIO(render(source, VariantSpec(w=width, fmt=fmt), fmt).data))
            buf = io.BytesIO()
            encoder.save(reference, buf, quality)
            same_settings = Image.open(io.BytesIO(buf.getvalue()))
            by_width[width] = {"service": ssim(variant, reference), "encoder_alone": ssim(same_settings, reference)}
        loss = max(s["encoder_alone"] - s["service"] for s in by_width.values())
        out[fmt] = {"by_width": by_width, "max_extra_loss": loss, "allowed": MAX_SSIM_LOSS}
    return out


def study(source: bytes, width: int = 1200) -> list[dict[str, Any]]:
    """Size, encode time and SSIM of each candidate setting on the same full-quality 1200-px render."""
    reference = _reference(source, width)
    rows = []
    for fmt, candidates in CANDIDATES.items():
        for name, options in candidates:
            buf = io.BytesIO()
            started = time.perf_counter()
            reference.save(buf, fmt, **options)
            seconds = time.perf_counter() - started
            score = ssim(Image.open(io.BytesIO(buf.getvalue())), reference)
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
