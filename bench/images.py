"""Photographic test images made in code: smooth gradients, fractal detail and fine noise, never flat colour."""

from __future__ import annotations

import io
import random

from PIL import Image

DETAIL_SCALE = 4  # the fractal is computed at 1/4 size and enlarged: same look, 16x less time


def photo(size: tuple[int, int], seed: int = 1) -> Image.Image:
    """An RGB picture that compresses like a photograph (as transforms/tests/images.photo, but any size)."""
    w, h = size
    rng = random.Random(seed)
    noise = Image.frombytes("L", size, rng.randbytes(w * h))
    small = (max(1, w // DETAIL_SCALE), max(1, h // DETAIL_SCALE))
    x0 = -2.0 + rng.random() * 0.2
    fractal = Image.effect_mandelbrot(small, (x0, -1.2, x0 + 3.0, 1.2), 60).resize(size, Image.Resampling.BICUBIC)
    radial = Image.radial_gradient("L").resize(size, Image.Resampling.BICUBIC)
    linear = Image.linear_gradient("L").resize(size, Image.Resampling.BICUBIC).rotate(90)
    bands = [Image.blend(band, noise, 0.08) for band in (radial, linear, fractal)]
    return Image.merge("RGB", bands)


def jpeg(image: Image.Image, *, orientation: int = 1, nonce: str = "", quality: int = 90) -> bytes:
    """Encode as a camera would: EXIF with the orientation tag; `nonce` (a JPEG comment) makes the bytes,
    and so the sha256 and every variant key, unique to this run, whatever Redis remembers from the last."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "Darkroom bench"
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=quality, exif=exif.tobytes(), comment=f"bench {nonce}".encode())
    return buf.getvalue()


def camera_jpeg(stored: tuple[int, int], *, orientation: int, nonce: str, seed: int = 1) -> bytes:
    """A JPEG of `stored` pixels tagged with an EXIF orientation (6: shown turned clockwise, as phones do)."""
    return jpeg(photo(stored, seed), orientation=orientation, nonce=nonce)
