"""Deterministic test images generated in code: markers, EXIF orientations, colour spaces, animations."""

from __future__ import annotations

import io
import random
import struct
import zlib

from PIL import Image, ImageDraw

T = Image.Transpose
RED, GREEN, BLUE, YELLOW = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)
# Quadrant colours of the marker image, by corner of the upright picture.
MARKER = {"tl": RED, "tr": GREEN, "bl": BLUE, "br": YELLOW}
# The transpose that turns an upright picture into the pixels stored under each EXIF orientation
# (the inverse of what a viewer applies; written out here, independently of the code under test).
STORED_AS: dict[int, T | None] = {
    1: None,
    2: T.FLIP_LEFT_RIGHT,
    3: T.ROTATE_180,
    4: T.FLIP_TOP_BOTTOM,
    5: T.TRANSPOSE,
    6: T.ROTATE_90,
    7: T.TRANSVERSE,
    8: T.ROTATE_270,
}


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **options)
    return buf.getvalue()


def marker(size: tuple[int, int] = (160, 120), mode: str = "RGB") -> Image.Image:
    """Four solid quadrants: red top-left, green top-right, blue bottom-left, yellow bottom-right."""
    w, h = size
    image = Image.new("RGB", size)
    image.paste(RED, (0, 0, w // 2, h // 2))
    image.paste(GREEN, (w // 2, 0, w, h // 2))
    image.paste(BLUE, (0, h // 2, w // 2, h))
    image.paste(YELLOW, (w // 2, h // 2, w, h))
    return image.convert(mode)


def oriented_jpeg(orientation: int, size: tuple[int, int] = (160, 120), quality: int = 95) -> bytes:
    """A JPEG whose upright picture (after applying its EXIF orientation) is `marker(size)`."""
    transform = STORED_AS[orientation]
    stored = marker(size) if transform is None else marker(size).transpose(transform)
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010E] = "private description"
    return encode(stored, "JPEG", quality=quality, exif=exif.tobytes(), comment=b"secret comment")


def cmyk_jpeg(size: tuple[int, int] = (64, 48)) -> bytes:
    """CMYK JPEG, top half pure magenta+yellow (= red), bottom half pure cyan."""
    image = Image.new("CMYK", size, (0, 255, 255, 0))
    image.paste((255, 0, 0, 0), (0, size[1] // 2, size[0], size[1]))
    return encode(image, "JPEG", quality=95)


def _s15(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def rgb_profile(primaries: tuple[tuple[float, float, float], ...], gamma: float, name: str) -> bytes:
    """A minimal ICC v2 RGB matrix/TRC display profile (D50 PCS colorants, one gamma for all channels)."""

    def xyz(values: tuple[float, float, float]) -> bytes:
        return b"XYZ " + b"\0" * 4 + b"".join(_s15(v) for v in values)

    ascii_name = name.encode() + b"\0"
    desc = b"desc" + b"\0" * 4 + struct.pack(">I", len(ascii_name)) + ascii_name + b"\0" * (4 + 4 + 2 + 1 + 67)
    curve = b"curv" + b"\0" * 4 + struct.pack(">IH", 1, round(gamma * 256)) + b"\0\0"
    tags = [
        (b"desc", desc),
        (b"cprt", b"text" + b"\0" * 4 + b"No copyright\0"),
        (b"wtpt", xyz((0.9642, 1.0, 0.8249))),
        (b"rXYZ", xyz(primaries[0])),
        (b"gXYZ", xyz(primaries[1])),
        (b"bXYZ", xyz(primaries[2])),
        (b"rTRC", curve),
        (b"gTRC", curve),
        (b"bTRC", curve),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, data = b"", b""
    for signature, body in tags:
        body += b"\0" * (-len(body) % 4)
        table += signature + struct.pack(">II", offset + len(data), len(body))
        data += body
    size = offset + len(data)
    header = struct.pack(">I", size) + b"\0" * 4 + bytes((2, 0x10, 0, 0)) + b"mntrRGB XYZ " + b"\0" * 12
    header += b"acsp" + b"\0" * 24 + b"\0" * 4 + _s15(0.9642) + _s15(1.0) + _s15(0.8249)
    header += b"\0" * (128 - len(header))
    return header + struct.pack(">I", len(tags)) + table + data


# Display P3 colorants adapted to D50 (as in Apple's profile), with a plain 2.2 gamma for simplicity.
P3_PRIMARIES = ((0.5151, 0.2412, -0.0011), (0.2920, 0.6922, 0.0419), (0.1571, 0.0666, 0.7841))
P3_GAMMA = 2.2


def p3_png(colour: tuple[int, int, int], size: tuple[int, int] = (32, 32)) -> bytes:
    """A solid PNG tagged with a Display-P3-like profile."""
    profile = rgb_profile(P3_PRIMARIES, P3_GAMMA, "P3 test")
    return encode(Image.new("RGB", size, colour), "PNG", icc_profile=profile)


def rgba_png(size: tuple[int, int] = (40, 40)) -> bytes:
    """Left half opaque red, right half fully transparent."""
    image = Image.new("RGBA", size, (0, 0, 255, 0))
    image.paste((255, 0, 0, 255), (0, 0, size[0] // 2, size[1]))
    return encode(image, "PNG")


def palette_trns_png(size: tuple[int, int] = (40, 40)) -> bytes:
    """Palette PNG with a tRNS chunk: index 0 transparent, index 1 opaque green on the left half."""
    image = Image.new("P", size, 0)
    image.putpalette([0, 0, 0, 0, 255, 0] + [0] * (254 * 3))
    image.paste(1, (0, 0, size[0] // 2, size[1]))
    return encode(image, "PNG", transparency=0)


def gray16_png(size: tuple[int, int] = (256, 8)) -> bytes:
    """16-bit greyscale horizontal gradient from 0 to 65535 (mode I;16)."""
    w, h = size
    image = Image.new("I;16", size)
    image.putdata([round(x * 65535 / (w - 1)) for _ in range(h) for x in range(w)])
    return encode(image, "PNG")


def rgb16_png(colour: tuple[int, int, int], size: tuple[int, int] = (8, 8)) -> bytes:
    """A solid 16-bit-per-channel RGB PNG, written by hand (Pillow cannot write one)."""
    w, h = size
    row = b"\0" + struct.pack(">3H", *colour) * w
    raw = zlib.compress(row * h)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


ANIMATION_COLOURS = (RED, GREEN, BLUE)
ANIMATION_DURATIONS = (100, 200, 300)


def animation(fmt: str, size: tuple[int, int] = (40, 30)) -> bytes:
    """Three solid frames (red, green, blue) with a marker dot top-left, looping forever."""
    frames = []
    for colour in ANIMATION_COLOURS:
        frame = Image.new("RGB", size, colour)
        frame.paste((255, 255, 255), (0, 0, size[0] // 4, size[1] // 4))
        frames.append(frame)
    options: dict[str, object] = {"lossless": True} if fmt == "WEBP" else {}
    return encode(
        frames[0],
        fmt,
        save_all=True,
        append_images=frames[1:],
        duration=list(ANIMATION_DURATIONS),
        loop=0,
        **options,
    )


def photo(size: tuple[int, int] = (1200, 800)) -> Image.Image:
    """A photographic-ish RGB picture: smooth gradients plus fine noise, deterministic."""
    w, h = size
    noise = Image.frombytes("L", size, random.Random(1).randbytes(w * h))  # effect_noise is not seeded
    radial = Image.radial_gradient("L").resize(size)
    linear = Image.linear_gradient("L").resize(size).rotate(90, expand=False)
    mandel = Image.effect_mandelbrot(size, (-2.0, -1.2, 1.0, 1.2), 60)
    bands = [Image.blend(band, noise, 0.08) for band in (radial, linear, mandel)]
    return Image.merge("RGB", bands)


def scene(size: tuple[int, int], subject: tuple[int, int, int, int], seed: int = 1) -> Image.Image:
    """A muted, softly graded background with faint noise, and a subject in `subject` (a box): a disc of
    saturated, overlapping blobs, as a smart crop should find it. Deterministic."""
    rng = random.Random(seed)
    w, h = size
    top = tuple(rng.randrange(90, 170) for _ in range(3))
    bottom = tuple(rng.randrange(90, 170) for _ in range(3))
    background = Image.linear_gradient("L").resize(size)
    image = Image.composite(Image.new("RGB", size, bottom), Image.new("RGB", size, top), background)
    noise = Image.frombytes("L", size, rng.randbytes(w * h)).convert("RGB")
    image = Image.blend(image, noise, 0.04)
    x0, y0, x1, y1 = subject
    blobs = Image.new("RGB", (x1 - x0, y1 - y0), (rng.randrange(256), 20, rng.randrange(256)))
    draw = ImageDraw.Draw(blobs)
    radius = max(2, (x1 - x0) // 10)
    for _ in range(40):
        cx, cy = rng.randrange(x1 - x0), rng.randrange(y1 - y0)
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=colour)
    mask = Image.new("L", blobs.size, 0)
    ImageDraw.Draw(mask).ellipse((0, 0, blobs.width - 1, blobs.height - 1), fill=255)
    image.paste(blobs, (x0, y0), mask)
    return image
