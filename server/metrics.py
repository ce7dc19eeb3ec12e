"""Prometheus metrics of the service, shared by the server's worker processes when PROMETHEUS_MULTIPROC_DIR is set."""

import functools
import os
import struct
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

HTTP_RESPONSES = Counter("darkroom_http_responses", "HTTP responses by route and status.", ["route", "status"])
VARIANT_REQUESTS = Counter("darkroom_variant_requests", "Variant responses by cache tier (miss = rendered).", ["tier"])
RENDER_SECONDS = Histogram(
    "darkroom_render_seconds",
    "Seconds per render stage (decode, transform, encode) by output format.",
    ["stage", "format"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
RENDER_PEAK_BYTES = Histogram(
    "darkroom_render_peak_bytes",
    "Peak memory of a render (what it added to its render process's RSS) by output format.",
    ["format"],
    buckets=tuple(mib * 2**20 for mib in (8, 16, 32, 64, 128, 192, 256, 384, 512)),
)
BYTES_SERVED = Counter("darkroom_bytes_served", "Body bytes of image responses.", ["kind"])
UPLOADS = Counter("darkroom_uploads", "Accepted uploads by outcome.", ["outcome"])
UPLOAD_REFUSALS = Counter("darkroom_upload_refusals", "Refused uploads by error code.", ["code"])


class CountOf:
    """One labelled child of a counter, incremented on every request for a third of prometheus_client's cost.

    Its own inc() checks the amount and the metric's type, then, in multiprocess mode, asks the kernel for the
    process id (a fork must move the values to the new process's file) and writes the value to this worker's mmap
    file through two Python calls: the three counters of a cache hit cost a quarter of a memory hit. Here the fork is
    heard once, by a fork hook, and the value is written where prometheus_client's own write puts it (its file's
    place for the key, the layout of prometheus_client.mmap_dict: value and timestamp, two doubles), taking the file's
    mapping anew each time (it maps the file again when the file grows). Every increment of these children must come
    through here (count_of, CountsOf): the read-modify-write of the value is guarded by this module's lock, not
    prometheus_client's.
    """

    __slots__ = ("_file", "_generation", "_place", "_value")

    def __init__(self, metric: Counter, labels: tuple[str, ...]) -> None:
        child: Any = metric.labels(*labels)
        self._value = child._value
        self._generation = -1
        self._file: Any = None
        self._place = 0

    def inc(self, amount: float = 1) -> None:
        if self._generation != _forks[0]:
            self._open()
        file = self._file
        if file is None:
            self._value.inc(amount)  # one process: a lock and an addition
            return
        value, place = self._value, self._place
        with _count_lock:
            total = value._value = value._value + amount
            file._m[place : place + 16] = _TWO_DOUBLES(total, 0.0)

    def _open(self) -> None:
        """The file this process writes the value to (in multiprocess mode) and the value's place in it, once per
        process."""
        value = self._value
        if value._multiprocess:
            value.get()  # prometheus_client's own check: after a fork it reopens every value in this process's file
            file = value._file
            file.write_value(value._key, value._value, 0.0)  # its own first write gives the key a place in the file
            self._file, self._place = file, file._positions[value._key]
        self._generation = _forks[0]


class CountsOf:
    """Several CountOf incremented together, as a cache hit's counts are: `inc(a0, a1, ...)` adds a0 to the first,
    a1 to the second, and so on, under one lock. `inc` is a function made for these counts in this process (for two or
    three of them, written out: a loop over three, or one more call, cost as much as their writes), made anew after a
    fork.
    """

    __slots__ = ("_children", "inc")

    def __init__(self, *children: CountOf) -> None:
        self._children = children
        self.inc: Callable[..., None] = self._open_and_add

    def _open_and_add(self, *amounts: float) -> None:
        for child in self._children:
            child._open()
        self.inc = _adder(self, self._children, _forks[0])
        self.inc(*amounts)


def _adder(counts: CountsOf, children: tuple[CountOf, ...], generation: int) -> Callable[..., None]:
    """CountsOf.inc for `children` in this process (generation: its forks); after a fork it hands over to a new one."""
    if children[0]._file is None:  # one process: prometheus_client's own values

        def add_each(*amounts: float) -> None:
            for child, amount in zip(children, amounts, strict=True):
                child._value.inc(amount)

        return add_each
    places = tuple((child._value, child._file, child._place) for child in children)
    if len(places) == 2:
        (v0, f0, p0), (v1, f1, p1) = places

        def add_two(a0: float, a1: float) -> None:
            if _forks[0] != generation:
                return counts._open_and_add(a0, a1)
            with _count_lock:
                total = v0._value = v0._value + a0
                f0._m[p0 : p0 + 16] = _TWO_DOUBLES(total, 0.0)
                total = v1._value = v1._value + a1
                f1._m[p1 : p1 + 16] = _TWO_DOUBLES(total, 0.0)
            return None

        return add_two
    if len(places) == 3:
        (v0, f0, p0), (v1, f1, p1), (v2, f2, p2) = places

        def add_three(a0: float, a1: float, a2: float) -> None:
            if _forks[0] != generation:
                return counts._open_and_add(a0, a1, a2)
            with _count_lock:
                total = v0._value = v0._value + a0
                f0._m[p0 : p0 + 16] = _TWO_DOUBLES(total, 0.0)
                total = v1._value = v1._value + a1
                f1._m[p1 : p1 + 16] = _TWO_DOUBLES(total, 0.0)
                total = v2._value = v2._value + a2
                f2._m[p2 : p2 + 16] = _TWO_DOUBLES(total, 0.0)
            return None

        return add_three

    def add_all(*amounts: float) -> None:
        if _forks[0] != generation:
            return counts._open_and_add(*amounts)
        with _count_lock:
            for (value, file, place), amount in zip(places, amounts, strict=True):
                total = value._value = value._value + amount
                file._m[place : place + 16] = _TWO_DOUBLES(total, 0.0)
        return None

    return add_all


_TWO_DOUBLES = struct.Struct("dd").pack  # prometheus_client.mmap_dict's own
_count_lock = threading.Lock()
_forks = [0]  # how many forks this process descends from: a worker's values live in a file of its own


def _forked() -> None:
    global _count_lock
    _count_lock = threading.Lock()  # a thread of the parent may have held it at the fork
    _forks[0] += 1


os.register_at_fork(after_in_child=_forked)


@functools.cache
def count_of(metric: Counter, *labels: str) -> CountOf:
    """The labelled child of `metric` as a CountOf, made once per process (labels() costs more than an increment)."""
    return CountOf(metric, labels)


class DiskCacheCollector(Collector):
    """The variant cache's bytes on disk, measured at scrape time (at most every 10 s)."""

    def __init__(self) -> None:
        self._measured_at = 0.0
        self._bytes = 0
        self._files = 0

    def _measure(self) -> None:
        if time.monotonic() - self._measured_at < 10:
            return
        total = files = 0
        for entry in _walk(Path(settings.VARIANTS_DIR)):
            total += entry.stat().st_size
            files += 1
        self._bytes, self._files, self._measured_at = total, files, time.monotonic()

    def collect(self) -> Iterable[Metric]:
        self._measure()
        yield GaugeMetricFamily("darkroom_variant_cache_bytes", "Bytes of variants on disk.", value=self._bytes)
        yield GaugeMetricFamily("darkroom_variant_cache_files", "Variant files on disk.", value=self._files)


def _walk(root: Path) -> Iterator[os.DirEntry[str]]:
    """The variant files under `root`: hidden names (the `.locks` directory, `.tmp-…` files) are not variants,
    as prune_variants counts them."""
    try:
        with os.scandir(root) as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                if entry.is_dir(follow_symlinks=False):
                    yield from _walk(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    yield entry
    except OSError:
        return


_disk_registry = CollectorRegistry()
_disk_registry.register(DiskCacheCollector())


def exposition() -> bytes:
    """The text format of every worker's metrics (multiprocess mode) or this process's, plus the disk gauge."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return generate_latest(registry) + generate_latest(_disk_registry)
