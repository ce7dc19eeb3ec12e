"""The banded resize (transforms/resample.py): Pillow's own resize, its bands on threads at once; the same bytes
whatever the number of threads, and those of Pillow's resize but for a level in a rare pixel."""

import threading

import numpy
import pytest
from PIL import Image

from transforms import resample
from transforms.pipeline import render
from transforms.spec import VariantSpec

from . import images

LANCZOS = Image.Resampling.LANCZOS

# (mode, source size, output size, box, reducing_gap, bands cut): every way the bands are made
CASES = [
    ("RGB", (1600, 1200), (900, 675), None, 3.0, "rows"),  # a thumbnail: Pillow's horizontal pass first
    ("RGB", (1600, 1200), (1440, 1080), None, 3.0, "columns"),  # a mild shrink: a band of rows would turn the passes
    ("RGB", (800, 600), (1000, 750), None, 3.0, "columns"),  # an upscale, likewise
    ("RGB", (1000, 2000), (900, 600), None, 3.0, "rows"),  # height shrinks most: Pillow's vertical pass first
    ("RGB", (3000, 2250), (400, 300), None, 3.0, "rows"),  # a shrink past reducing_gap: Pillow's box reduce first
    ("RGBA", (1200, 900), (700, 525), None, 3.0, "rows"),  # premultiplied once, as Pillow does
    ("L", (1600, 1200), (800, 600), (100.5, 50.25, 1500.0, 1100.0), 3.0, "rows"),  # a crop in fractions
    ("I", (1200, 900), (600, 450), None, None, "rows"),  # 32-bit samples, no reducing gap
]


def source(mode: str, size: tuple[int, int]) -> Image.Image:
    image = images.photo(size)
    if mode == "RGBA":
        image.putalpha(Image.linear_gradient("L").resize(size))
        return image
    return image.convert(mode)


def levels(image: Image.Image) -> numpy.ndarray:
    return numpy.asarray(image, dtype=numpy.int64)


@pytest.mark.parametrize(("mode", "size", "output", "box", "gap", "cut"), CASES)
def test_a_banded_resize_is_pillows_resize(mode, size, output, box, gap, cut):
    image = source(mode, size)
    assert resample.bands(image.size, output)[0] == (cut == "columns")
    expected = image.resize(output, LANCZOS, box=box, reducing_gap=gap)
    banded = resample.resize(image, output, box, reducing_gap=gap, threads=2)
    assert (banded.mode, banded.size) == (expected.mode, expected.size)
    tolerance = 1  # a band's box in float32 may move a filter's centre: a level, in a rare pixel
    if mode == "RGBA":  # compared as resized, premultiplied: a level there is 51 in the colour of a pixel 5/255 opaque
        banded, expected, tolerance = banded.convert("RGBa"), expected.convert("RGBa"), 2  # and the round trip adds 1
    difference = numpy.abs(levels(banded) - levels(expected))
    assert difference.max() <= tolerance
    assert (difference > 0).mean() < 0.001


@pytest.mark.parametrize(("mode", "size", "output", "box", "gap", "cut"), CASES)
def test_the_same_bytes_whatever_the_threads(mode, size, output, box, gap, cut):
    image = source(mode, size)
    once = resample.resize(image, output, box, reducing_gap=gap, threads=1).tobytes()
    for threads in (2, 3, 4, 16):
        assert resample.resize(image, output, box, reducing_gap=gap, threads=threads).tobytes() == once


def test_bands_follow_pillows_order_of_passes():
    assert resample.band_edges(675) == [0, 168, 337, 506, 675]
    assert resample.band_edges(300) == [0, 150, 300]
    assert resample.band_edges(255) == [0, 255], "one band below twice BAND_PIXELS: a thread would cost more"
    assert resample.horizontal_first((1600, 1200), (1440, 1080)), "the whole resize: horizontal pass first"
    assert not resample.horizontal_first((1600, 1200), (1440, 270)), "a quarter of its rows: vertical first"
    assert resample.bands((1600, 1200), (1440, 1080)) == (True, [0, 360, 720, 1080, 1440]), "so: columns"
    assert resample.bands((1600, 1200), (900, 675)) == (False, [0, 168, 337, 506, 675])


def test_the_bands_run_at_once(monkeypatch):
    """Two threads, two bands: each band waits at a barrier for the other, so they must be in flight together."""
    barrier = threading.Barrier(2, timeout=30)
    resize = Image.Image.resize
    names = set()

    def band(self, *args, **kwargs):
        names.add(threading.current_thread().name)
        barrier.wait()
        return resize(self, *args, **kwargs)

    image = images.photo((800, 600))
    expected = image.resize((400, 300), LANCZOS)
    monkeypatch.setattr(Image.Image, "resize", band)
    banded = resample.resize(image, (400, 300), threads=2)
    assert len(names) == 2 and all(name.startswith("resize") for name in names)
    assert numpy.abs(levels(banded) - levels(expected)).max() <= 1


def test_a_palette_is_left_to_pillow():
    image = images.photo((600, 400)).convert("P")
    assert resample.resize(image, (300, 200), threads=2).tobytes() == image.resize((300, 200), LANCZOS).tobytes()


@pytest.mark.parametrize("fmt", ["jpeg", "webp", "png"])
def test_a_render_has_the_same_bytes_on_any_number_of_threads(fmt):
    photo = images.encode(images.photo((1600, 1200)), "JPEG", quality=90)
    spec = VariantSpec(w=900, rotate=90, fmt=fmt)
    alone = render(photo, spec, fmt, threads=1)
    assert render(photo, spec, fmt, threads=2).data == alone.data
    assert render(photo, spec, fmt, threads=4).data == alone.data


def test_a_very_large_output_is_one_band(monkeypatch):
    """Past MAX_BANDED_PIXELS the bands' own picture would cost more memory than a render may add: one resize."""
    monkeypatch.setattr(resample, "MAX_BANDED_PIXELS", 400 * 300 - 1)
    image = images.photo((800, 600))
    calls = []
    resize = Image.Image.resize

    def counted(self, *args, **kwargs):
        calls.append(args[0])
        return resize(self, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "resize", counted)
    assert resample.resize(image, (400, 300), threads=2).tobytes() == resize(image, (400, 300), LANCZOS).tobytes()
    assert calls == [(400, 300)]
