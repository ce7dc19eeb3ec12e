"""Pillow's Lanczos resize in bands that threads resize at once (Pillow lets go of the GIL while it resizes).

A band is Pillow's own resize of the whole picture restricted by `box` to the band's output columns or rows: Pillow
reads the filter's support beyond a box (clipped at the picture's edges, not the box's), so a band's pixels are the
ones the whole resize makes, but where the float32 rounding of the band's box moves a filter's centre (one level, in
about 1 pixel in 10,000). Bands cut across Pillow's first pass (columns when it resizes horizontally first, rows when
vertically first), so that each band takes its passes in the order the whole resize would (Resample.c picks it from
the output's size, and a band's other size could change its mind) and no band's first pass makes what another's does.
The bands are a function of the sizes alone, never of how many threads run them: a variant has the same bytes whatever
RENDER_THREADS is. Pillow's first step (its box `reduce` of a big shrink, `reducing_gap`) is taken once, on the whole
picture, as `Image.resize` takes it; premultiplied alpha likewise, once.

Threads lower a render's latency, not its CPU (which they raise by a few per cent: the hand-over, the paste, the rows
of support two bands both read). A render process asks at each resize how many CPUs were idle since the render began
(render_child's threads_to_use) and takes no more, so that on a busy machine a render does not take CPUs from the
others: on W2's
2 CPUs, a 12 MP photo's resize to 1900 px took 98 ms on two threads against 154 on one, while 8 renders at once made
as many renders a second with RENDER_THREADS=2 as with 1 (13.1 and 13.1), where two threads always made 9 % fewer.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar

from PIL import Image

RESAMPLE = Image.Resampling.LANCZOS
_SUPPORT = 3.0  # Lanczos's support, in output pixels (PIL.Image._filters_support)
BAND_PIXELS = 128  # output columns or rows a band has at least: below it, a thread's hand-over outweighs its share
MAX_BANDS = 4
# The largest output resized in bands: the bands are pasted into a picture of their own, which beside them and the
# source costs a render more memory (a 16 MP blur render went from 240 MB to 274 MB, over its 256 MB bound), and a
# web variant (W2's largest is 4.8 MP) gains the most.
MAX_BANDED_PIXELS = 8_000_000
_PREMULTIPLIED = {"LA": "La", "RGBA": "RGBa"}
_POOLS: dict[int, ThreadPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()
# Threads a resize may use: a number, or a function asked at the resize (the render process's: its idle CPUs then).
Threads = int | Callable[[], int]
_THREADS: ContextVar[Threads] = ContextVar("resize_threads", default=1)

Box = tuple[float, float, float, float]


def band_edges(length: int) -> list[int]:
    """Where bands begin along an output side of `length` pixels, and its end: [0, ..., length]."""
    bands = max(1, min(MAX_BANDS, length // BAND_PIXELS))
    return [length * i // bands for i in range(bands + 1)]


def bands(source: tuple[int, int], size: tuple[int, int]) -> tuple[bool, list[int]]:
    """How a resize of `source` to `size` is cut: (True, edges of columns) or (False, edges of rows). Rows, unless a
    band of them would have Pillow take its passes in another order than the whole resize does: then columns."""
    rows = band_edges(size[1])
    narrowest = min(end - start for start, end in itertools.pairwise(rows))
    if horizontal_first(source, size) and not horizontal_first(source, (size[0], narrowest)):
        return True, band_edges(size[0])
    return False, rows


def horizontal_first(source: tuple[int, int], size: tuple[int, int]) -> bool:
    """Pillow's choice of which pass comes first (libImaging/Resample.c): vertical when the height shrinks by more
    than twice as many pixels as the width."""
    shrink_y = source[1] - size[1]
    return not (shrink_y > 0 and shrink_y > (source[0] - size[0]) * 2)


def resize(
    image: Image.Image,
    size: tuple[int, int],
    box: Box | None = None,
    *,
    reducing_gap: float | None = None,
    threads: Threads | None = None,
) -> Image.Image:
    """`image.resize(size, LANCZOS, box=box, reducing_gap=reducing_gap)`, its bands resized by up to `threads` at once
    (by default as many as the render's `using_threads` says, else one)."""
    if threads is None:
        threads = _THREADS.get()
    if image.mode in ("1", "P"):  # Pillow resizes these by nearest neighbour, and cheaply
        return image.resize(size, RESAMPLE, box=box, reducing_gap=reducing_gap)
    if image.mode in _PREMULTIPLIED:  # as Image.resize does, once for the whole picture
        premultiplied = image.convert(_PREMULTIPLIED[image.mode])
        return resize(premultiplied, size, box, reducing_gap=reducing_gap, threads=threads).convert(image.mode)
    image.load()
    image, box = _reduced(image, size, box or (0, 0, *image.size), reducing_gap)
    columns, edges = bands(image.size, size)
    if len(edges) == 2 or size[0] * size[1] > MAX_BANDED_PIXELS:
        return image.resize(size, RESAMPLE, box=box)
    step = (box[2] - box[0]) / size[0] if columns else (box[3] - box[1]) / size[1]

    def band(index: int) -> Image.Image:
        start, end = edges[index], edges[index + 1]
        if columns:
            return image.resize(
                (end - start, size[1]), RESAMPLE, box=(box[0] + start * step, box[1], box[0] + end * step, box[3])
            )
        return image.resize(
            (size[0], end - start), RESAMPLE, box=(box[0], box[1] + start * step, box[2], box[1] + end * step)
        )

    result = Image.new(image.mode, size, None)  # every pixel is pasted over: no need to clear it first
    indexes = range(len(edges) - 1)
    if callable(threads):
        threads = threads()
    parts = map(band, indexes) if threads <= 1 else _pool(min(threads, MAX_BANDS)).map(band, indexes)
    for index, part in zip(indexes, parts, strict=True):  # pasted as each arrives: a band at a time beside the result
        result.paste(part, (edges[index], 0) if columns else (0, edges[index]))
        del part
    result.info = image.info.copy()
    return result


@contextmanager
def using_threads(threads: Threads) -> Iterator[None]:
    """Within it, a resize runs its bands on up to `threads` threads (pipeline.render's `threads`)."""
    token = _THREADS.set(threads)
    try:
        yield
    finally:
        _THREADS.reset(token)


def _reduced(
    image: Image.Image, size: tuple[int, int], box: Box, reducing_gap: float | None
) -> tuple[Image.Image, Box]:
    """Image.resize's first step: the box reduce of a shrink by reducing_gap or more, and the box in its pixels."""
    if reducing_gap is None:
        return image, box
    factor_x = int((box[2] - box[0]) / size[0] / reducing_gap) or 1
    factor_y = int((box[3] - box[1]) / size[1] / reducing_gap) or 1
    if factor_x == 1 and factor_y == 1:
        return image, box
    support_x = (_SUPPORT - 0.5) * (box[2] - box[0]) / size[0]
    support_y = (_SUPPORT - 0.5) * (box[3] - box[1]) / size[1]
    safe = (
        max(0, int(box[0] - support_x)),
        max(0, int(box[1] - support_y)),
        min(image.size[0], math.ceil(box[2] + support_x)),
        min(image.size[1], math.ceil(box[3] + support_y)),
    )
    reduced = image.reduce((factor_x, factor_y), box=safe)
    return reduced, (
        (box[0] - safe[0]) / factor_x,
        (box[1] - safe[1]) / factor_y,
        (box[2] - safe[0]) / factor_x,
        (box[3] - safe[1]) / factor_y,
    )


def _pool(threads: int) -> ThreadPoolExecutor:
    with _POOLS_LOCK:
        pool = _POOLS.get(threads)
        if pool is None:
            pool = _POOLS[threads] = ThreadPoolExecutor(threads, thread_name_prefix="resize")
        return pool
