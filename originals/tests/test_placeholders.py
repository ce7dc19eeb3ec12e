"""Placeholders (originals/placeholders.py): BlurHash and dominant colour of small generated pictures, upright, on
white, from the first frame, and from a small decode. Pure: no database."""

import io
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import blurhash
import pytest
from PIL import Image

from originals.inspection import Limits, exif_orientation, inspect_bytes
from originals.placeholders import (
    DRAFT_SIDE,
    SAMPLE_SIDE,
    SIDE,
    PlaceholderError,
    decode_small,
    placeholder_of,
    small_upright,
)

RED, GREEN, BLUE, YELLOW = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)
BLACK, WHITE = (0, 0, 0), (255, 255, 255)
LIMITS = Limits(max_pixels=50_000_000, max_frames=200, max_total_pixels=500_000_000)
T = Image.Transpose
# The transpose that stores an upright picture under each EXIF orientation (the inverse of what a viewer applies),
# written out here apart from the code under test.
STORED_AS = {
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
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def quadrants(size: tuple[int, int] = (160, 120)) -> Image.Image:
    """Red top-left, green top-right, blue bottom-left, black bottom-right: apart enough to tell in a BlurHash."""
    w, h = size
    image = Image.new("RGB", size)
    for colour, box in ((RED, (0, 0, w // 2, h // 2)), (GREEN, (w // 2, 0, w, h // 2))):
        image.paste(colour, box)
    for colour, box in ((BLUE, (0, h // 2, w // 2, h)), (BLACK, (w // 2, h // 2, w, h))):
        image.paste(colour, box)
    return image


def of(data: bytes):
    return placeholder_of(io.BytesIO(data))


def rgb(color: str) -> tuple[int, int, int]:
    assert len(color) == 7 and color[0] == "#", color
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def near(found, expected, tolerance):
    return all(abs(a - b) <= tolerance for a, b in zip(found, expected, strict=True))


def decoded(hash_: str, size: tuple[int, int]) -> Image.Image:
    """The BlurHash painted back, as a browser's decoder does."""
    rows = blurhash.decode(hash_, *size)
    image = Image.new("RGB", size)
    image.putdata([tuple(pixel) for row in rows for pixel in row])
    return image


def at(image, fx, fy):
    return image.getpixel((int(fx * image.width), int(fy * image.height)))


def nearest(found: tuple[int, int, int]) -> tuple[int, int, int]:
    """Which of the quadrants' colours `found` is: a BlurHash of 4x3 cosines blurs them into each other."""
    return min((RED, GREEN, BLUE, BLACK), key=lambda c: sum((a - b) ** 2 for a, b in zip(found, c, strict=True)))


CORNERS = {(0.1, 0.1): RED, (0.9, 0.1): GREEN, (0.1, 0.9): BLUE, (0.9, 0.9): BLACK}


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF"])
def test_a_solid_red_picture_is_red(fmt):
    found = of(encode(Image.new("RGB", (90, 60), RED), fmt))
    assert near(rgb(found.color), RED, 2), found.color
    # BlurHash quantises even a flat picture's cosines to at least 1/166 of their range: a little shading stays
    assert all(near(pixel, RED, 20) for pixel in decoded(found.blurhash, (8, 6)).get_flattened_data())


def test_the_dominant_colour_is_the_commonest_not_the_average():
    image = Image.new("RGB", (100, 100), BLUE)
    image.paste(YELLOW, (0, 0, 30, 100))  # blue and yellow average to grey; blue is most of it
    assert of(encode(image, "PNG")).color == "#0000ff"


def test_the_blurhash_paints_the_picture_back():
    painted = decoded(of(encode(quadrants(), "PNG")).blurhash, (40, 30))
    assert {corner: nearest(at(painted, *corner)) for corner in CORNERS} == CORNERS


@pytest.mark.parametrize(("size", "components"), [((160, 120), (4, 3)), ((120, 160), (3, 4)), ((100, 100), (4, 4))])
def test_more_cosines_along_the_longer_side(size, components):
    assert blurhash.components(of(encode(quadrants(size), "PNG")).blurhash) == components


@pytest.mark.parametrize("orientation", range(1, 9))
def test_the_placeholder_is_of_the_upright_picture(orientation):
    transform = STORED_AS[orientation]
    stored = quadrants() if transform is None else quadrants().transpose(transform)
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encode(stored, "JPEG", quality=95, exif=exif.tobytes())
    with Image.open(io.BytesIO(data)) as image:
        small = small_upright(decode_small(image), exif_orientation(image))
    assert small.size == (SIDE, 24), "upright: landscape whatever way the pixels are stored"
    for (fx, fy), colour in {(0.2, 0.2): RED, (0.8, 0.2): GREEN, (0.2, 0.8): BLUE, (0.8, 0.8): BLACK}.items():
        assert near(at(small, fx, fy), colour, 40), (orientation, fx, fy, at(small, fx, fy))
    painted = decoded(of(data).blurhash, (40, 30))
    assert {corner: nearest(at(painted, *corner)) for corner in CORNERS} == CORNERS


def test_transparency_is_flattened_on_white():
    image = Image.new("RGBA", (80, 80), (0, 0, 0, 0))  # transparent black: must not darken anything
    image.paste((0, 0, 255, 255), (40, 0, 80, 80))
    with Image.open(io.BytesIO(encode(image, "PNG"))) as opened:
        small = small_upright(decode_small(opened))
    assert near(at(small, 0.2, 0.5), WHITE, 2) and near(at(small, 0.8, 0.5), BLUE, 2)
    half = Image.new("RGBA", (80, 80), (255, 0, 0, 128))
    assert near(rgb(of(encode(half, "PNG")).color), (255, 127, 127), 3), "half-transparent red on white is pink"


@pytest.mark.parametrize(
    ("mode", "fill", "options", "expected"),
    [
        ("P", None, {"transparency": 0}, WHITE),  # a palette PNG whose every pixel is its transparent index
        ("L", 128, {}, (128, 128, 128)),
        ("LA", (0, 255), {}, (0, 0, 0)),
        ("1", 1, {}, WHITE),
        ("I;16", 32896, {}, (128, 128, 128)),  # 16-bit is scaled to 8, not clipped to white
        ("CMYK", (0, 255, 255, 0), {}, RED),
    ],
)
def test_every_mode_a_decoder_gives(mode, fill, options, expected):
    image = Image.new(mode, (48, 32), fill if fill is not None else 0)
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    assert near(rgb(of(encode(image, fmt, **options)).color), expected, 3)


def test_an_animation_is_its_first_frame():
    frames = [Image.new("RGB", (40, 30), colour) for colour in (RED, GREEN, BLUE)]
    for fmt in ("GIF", "WEBP", "PNG"):
        data = encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, loop=0, lossless=True)
        assert near(rgb(of(data).color), RED, 2), fmt


def wide_gamut_profile() -> bytes:
    """A minimal ICC v2 RGB matrix/TRC profile with Display P3's colorants (D50) and a 2.2 gamma."""

    def s15(*values: float) -> bytes:
        return b"".join(struct.pack(">i", round(v * 65536)) for v in values)

    def xyz(*values: float) -> bytes:
        return b"XYZ \0\0\0\0" + s15(*values)

    curve = b"curv\0\0\0\0" + struct.pack(">IH", 1, round(2.2 * 256)) + b"\0\0"
    tags = [
        (b"desc", b"desc\0\0\0\0" + struct.pack(">I", 3) + b"P3\0" + b"\0" * 78),
        (b"cprt", b"text\0\0\0\0none\0"),
        (b"wtpt", xyz(0.9642, 1.0, 0.8249)),
        (b"rXYZ", xyz(0.5151, 0.2412, -0.0011)),
        (b"gXYZ", xyz(0.2920, 0.6922, 0.0419)),
        (b"bXYZ", xyz(0.1571, 0.0666, 0.7841)),
        *((name, curve) for name in (b"rTRC", b"gTRC", b"bTRC")),
    ]
    offset, table, data = 128 + 4 + 12 * len(tags), b"", b""
    for signature, body in tags:
        body += b"\0" * (-len(body) % 4)
        table, data = table + signature + struct.pack(">II", offset + len(data), len(body)), data + body
    header = struct.pack(">I", offset + len(data)) + b"\0" * 4 + bytes((2, 0x10, 0, 0)) + b"mntrRGB XYZ " + b"\0" * 12
    header += b"acsp" + b"\0" * 28 + s15(0.9642, 1.0, 0.8249)
    return header.ljust(128, b"\0") + struct.pack(">I", len(tags)) + table + data


def test_a_wide_gamut_picture_is_in_srgb_colours():
    colour = (180, 60, 60)
    assert of(encode(Image.new("RGB", (32, 32), colour), "PNG")).color == "#b43c3c", "untagged is sRGB"
    tagged = encode(Image.new("RGB", (32, 32), colour), "PNG", icc_profile=wide_gamut_profile())
    red, green, blue = rgb(of(tagged).color)
    assert red > 190 and green < 50 and blue < 55, "the same numbers in P3 are a deeper red than in sRGB"


def test_a_jpeg_is_decoded_small():
    photo = Image.linear_gradient("L").resize((4000, 3000)).convert("RGB")
    with Image.open(io.BytesIO(encode(photo, "JPEG", quality=80))) as image:
        assert decode_small(image).size == (500, 375), "1/8 of each side, by DCT scaling"
    small = Image.new("RGB", (300, 200), RED)
    with Image.open(io.BytesIO(encode(small, "JPEG"))) as image:
        assert decode_small(image).size == (300, 200), "nothing to gain below DRAFT_SIDE"
    assert DRAFT_SIDE <= 375, "the 1/8 decode keeps what the sample needs"


def test_only_a_sample_is_converted():
    """A palette picture is sampled before it is expanded: the conversion sees SAMPLE_SIDE, not 5000 px."""
    image = Image.new("P", (5000, 100), 1)
    image.putpalette([0, 0, 0, 0, 128, 0] + [0] * 762)
    with Image.open(io.BytesIO(encode(image, "PNG"))) as opened:
        decoded_frame = decode_small(opened)
        assert decoded_frame.size == (5000, 100) and decoded_frame.mode == "P"
        small = small_upright(decoded_frame)
    assert small.size == (SIDE, 1) and near(small.getpixel((0, 0)), (0, 128, 0), 1)
    assert SAMPLE_SIDE < 5000


# Peak memory, measured in a process of its own: what decoding a 6000x4000 picture, or making its placeholder, adds.
MEASURE = textwrap.dedent(
    """
    import io, sys
    from PIL import Image
    from originals.placeholders import placeholder_of
    kind, what = sys.argv[1:]
    if kind == "jpeg":  # 72 MB decoded at full size
        picture = Image.linear_gradient("L").resize((6000, 4000)).convert("RGB")
    else:  # a palette PNG: 24 MB decoded, 72 MB more if it were expanded to RGB at full size
        picture = Image.new("P", (6000, 4000), 0)
        picture.putpalette([200, 30, 30, 30, 30, 200] + [0] * 762)
        picture.paste(1, (0, 0, 3000, 4000))
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG" if kind == "jpeg" else "PNG")
    del picture
    def vm(name):
        for line in open("/proc/self/status"):
            if line.startswith(name):
                return int(line.split()[1]) * 1024
    open("/proc/self/clear_refs", "w").write("5")  # the peak starts again from here
    before = vm("VmRSS")
    if what == "placeholder":
        placeholder_of(buffer)
    else:
        Image.open(buffer).load()
    print(vm("VmHWM") - before)
    """
)


def peak_bytes(kind: str, what: str) -> int:
    command = [sys.executable, "-c", MEASURE, kind, what]
    done = subprocess.run(command, capture_output=True, text=True, check=True, cwd=Path(__file__).parents[2])
    return int(done.stdout)


def test_a_24_mp_jpeg_is_never_decoded_at_full_size():
    full = peak_bytes("jpeg", "decode")
    assert full > 60_000_000, f"the measure sees a full decode ({full:,} bytes)"
    assert peak_bytes("jpeg", "placeholder") < 10_000_000, "750x500 is 1.1 MB"


def test_a_24_mp_palette_png_is_never_expanded_at_full_size():
    """A PNG has no smaller decode: the frame itself (24 MB), and nothing more than a sample beside it."""
    full = peak_bytes("palette", "decode")
    assert 20_000_000 < full < 40_000_000, f"one byte a pixel ({full:,} bytes)"
    assert peak_bytes("palette", "placeholder") < full + 10_000_000


def test_bytes_that_are_no_picture():
    with pytest.raises(PlaceholderError):
        of(b"not a picture at all")
    truncated = encode(quadrants(), "PNG")[:200]
    with pytest.raises(PlaceholderError):
        of(truncated)
    with pytest.raises(PlaceholderError):
        of(b'<svg xmlns="http://www.w3.org/2000/svg"/>')


@pytest.mark.parametrize("fmt", ["PNG", "GIF", "WEBP"])
def test_the_upload_check_makes_the_same_placeholder(fmt):
    """At upload it is made from the frame inspection decoded; later from the stored bytes: the same."""
    data = encode(quadrants((400, 300)), fmt, lossless=True) if fmt == "WEBP" else encode(quadrants((400, 300)), fmt)
    assert inspect_bytes(data, LIMITS).placeholder == of(data)
