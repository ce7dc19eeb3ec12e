"""Prometheus metrics of the service, shared by the server's worker processes when PROMETHEUS_MULTIPROC_DIR is set."""

import functools
import os
import threading
import time
from collections.abc import Iterable, Iterator
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
    file: the three counters of a cache hit cost a quarter of a memory hit. Here the fork is heard once, by a fork
    hook, and the write is the same one. Every increment of these children must come through here (count_of): the
    read-modify-write of the value is guarded by this module's lock, not prometheus_client's.
    """

    __slots__ = ("_generation", "_key", "_value", "_write")

    def __init__(self, metric: Counter, labels: tuple[str, ...]) -> None:
        child: Any = metric.labels(*labels)
        self._value = child._value
        self._generation = -1
        self._key = ""
        self._write: Any = None

    def inc(self, amount: float = 1) -> None:
        if self._generation != _forks[0]:
            self._open()
        write = self._write
        if write is None:
            self._value.inc(amount)  # one process: a lock and an addition
            return
        value = self._value
        with _count_lock:
            value._value += amount
            write(self._key, value._value, 0.0)

    def _open(self) -> None:
        """The file this process writes the value to (in multiprocess mode), once per process."""
        value = self._value
        if value._multiprocess:
            value.get()  # prometheus_client's own check: after a fork it reopens every value in this process's file
            self._write, self._key = value._file.write_value, value._key
        self._generation = _forks[0]


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
    try:
        with os.scandir(root) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    yield from _walk(Path(entry.path))
                elif entry.is_file(follow_symlinks=False) and not entry.name.startswith("."):
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
