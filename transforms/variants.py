"""Variant services: resolve a spec for an original (format, key) and fetch it from cache or render it."""

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from django.conf import settings

from originals import store
from originals.inspection import EXTENSIONS
from originals.models import Original
from server.metrics import RENDER_PEAK_BYTES, RENDER_SECONDS

from . import cache, events
from .budgets import OutputBudget, check_output, fits_format
from .operations import output_geometry, settle
from .pipeline import PIPELINE_VERSION, Rendered, animation_for
from .render_pool import PoolLimits, render_pool
from .spec import Source, VariantSpec, output_format


@dataclass(frozen=True, slots=True)
class OriginalFacts:
    """What a variant needs of its original; only the focal point ever changes for an id."""

    id: str
    sha256: str
    format: str
    has_alpha: bool
    frames: int
    width: int  # as displayed, after EXIF orientation
    height: int
    focal: tuple[Decimal, Decimal] | None = None  # fractions of width and height; None: not set

    @classmethod
    def of(cls, original: Original) -> "OriginalFacts":
        focal = None
        if original.focal_x is not None and original.focal_y is not None:
            focal = (Decimal(original.focal_x), Decimal(original.focal_y))
        return cls(
            original.id,
            original.sha256,
            original.format,
            original.has_alpha,
            original.frames,
            original.width,
            original.height,
            focal,
        )

    def source(self) -> Source:
        """What a spec is resolved against: the facts a parameter may refer to."""
        return Source(self.width, self.height, self.focal)


class KnownOriginals:
    """An in-process map from id to OriginalFacts, so a cache hit needs no database query.

    An id can be deleted, and its focal point moved. Every worker hears of it (transforms/events.py): those of this
    host through its event log within 50 ms, those of other hosts through Redis within milliseconds, and forgets the
    id; when Redis is away, entries still expire after KNOWN_ORIGINALS_SECONDS, which then bounds how long a worker
    of another host may answer hits for a deleted original, or the variants of a focal point moved there. Bounded
    in size; the oldest entries go first.
    """

    def __init__(self, max_entries: int = 100_000) -> None:
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, OriginalFacts]] = {}
        self._lock = threading.Lock()

    def remember(self, original: Original) -> None:
        events.listener.ensure()  # hear of deletes elsewhere before trusting facts for a while
        expires = time.monotonic() + settings.KNOWN_ORIGINALS_SECONDS
        with self._lock:
            if len(self._entries) >= self.max_entries:
                for old in list(self._entries)[: self.max_entries // 10]:
                    del self._entries[old]
            self._entries[original.id] = (expires, OriginalFacts.of(original))

    def get(self, original_id: str) -> OriginalFacts | None:
        entry = self._entries.get(original_id)
        if entry is None:
            return None
        if entry[0] < time.monotonic():
            self._entries.pop(original_id, None)
            return None
        return entry[1]

    def holds(self, original_id: str, facts: OriginalFacts, now: float) -> bool:
        """Whether `facts` are still what this worker knows of the original at `now` (time.monotonic()): get()'s
        answer, for a caller that has read the clock already."""
        entry = self._entries.get(original_id)
        return entry is not None and entry[1] is facts and entry[0] >= now

    def reset(self) -> None:
        with self._lock:
            self._entries.clear()

    def forget(self, original_id: str) -> None:
        self._entries.pop(original_id, None)


known_originals = KnownOriginals()


def forget_original(sender: object, *, original_id: str, **kwargs: object) -> None:
    """An original was deleted (originals.signals.original_deleted): its variants and this worker's facts go."""
    cache.variants_purge(original_id)
    known_originals.forget(original_id)
    events.publish("deleted", original_id)  # and every other worker, of this host and the others


def forget_everywhere_here(original_id: str) -> None:
    """Another worker (here or on another host) deleted the original: this worker's facts and memory-tier copies
    go, and this host's variants on disk (Redis's went with the delete)."""
    known_originals.forget(original_id)
    cache.memory_tier.purge(original_id)
    cache.disk_purge(original_id)


def forget_facts(sender: object, *, original_id: str, **kwargs: object) -> None:
    """An original's focal point moved (originals.signals.original_changed): this worker reads its facts anew.
    The variants that used the old point keep their keys, which nothing names any more; the per-original cap
    lets them go, least recently used first."""
    known_originals.forget(original_id)
    events.publish("changed", original_id)


@dataclass(frozen=True)
class Variant:
    """Everything known about a variant before any image is opened."""

    original: OriginalFacts
    spec: VariantSpec  # canonical for `out_format`
    out_format: str
    negotiated: bool
    key: str
    follows_focal: bool = False  # its URL names the focal point, which can move: it is not immutable

    @property
    def etag(self) -> str:
        return f'"{self.key}"'


@dataclass(frozen=True)
class Fetched:
    data: bytes
    tier: cache.Tier
    rendered: Rendered | None  # set on the request that rendered


def output_budget() -> OutputBudget:
    return OutputBudget(max_output_pixels=settings.MAX_OUTPUT_PIXELS, max_pad_ratio=settings.MAX_PAD_RATIO)


def variant_resolve(spec: VariantSpec, original: Original | OriginalFacts, *, accept: str = "") -> Variant:
    """The concrete output format (negotiated from Accept for fmt=auto) and the cache key, from the spec resolved
    against the original (a crop in fractions keyed as the pixels it stands for); InvalidSpec when the spec does
    not fit the original, OverBudget (one too) when the planned output is more than a render may cost."""
    if isinstance(original, Original):
        original = OriginalFacts.of(original)
    follows_focal = spec.value("gravity") == "focal"
    spec = spec.resolved(original.source())
    canvas, picture = output_geometry((original.width, original.height), spec)

    def holds(fmt: str) -> bool:  # fmt=auto asks for the best the browser takes: within budget, still animated
        return fits_format(canvas, fmt) and animation_for(original.format, original.frames, fmt) != "first-frame"

    out_format, negotiated = output_format(
        spec,
        original_format=original.format,
        has_alpha=original.has_alpha,
        accept=accept,
        auto_formats=settings.AUTO_FORMATS,
        holds=holds,
    )
    kept = animation_for(original.format, original.frames, out_format) == "kept"
    check_output(
        spec,
        canvas=canvas,
        picture=picture,
        frames=original.frames if kept else 1,
        out_format=out_format,
        budget=output_budget(),
    )
    final = settle(spec.for_output(out_format), padded=canvas != picture, has_alpha=original.has_alpha)
    key = cache.variant_key(
        pipeline_version=PIPELINE_VERSION,
        original_sha256=original.sha256,
        canonical_query=final.canonical_query,
        out_format=out_format,
    )
    return Variant(original, final, out_format, negotiated, key, follows_focal)


class Overloaded(Exception):
    """Every render slot of this worker stayed busy for RENDER_QUEUE_SECONDS."""


_slots_lock = threading.Lock()
_slots: dict[int, threading.BoundedSemaphore] = {}


def _render_slots() -> threading.BoundedSemaphore:
    """MAX_CONCURRENT_RENDERS slots per worker process (a threaded worker could otherwise render unboundedly)."""
    size = settings.MAX_CONCURRENT_RENDERS
    with _slots_lock:
        return _slots.setdefault(size, threading.BoundedSemaphore(size))


@contextmanager
def render_slot() -> Iterator[None]:
    slots = _render_slots()
    if not slots.acquire(timeout=settings.RENDER_QUEUE_SECONDS):
        raise Overloaded
    try:
        yield
    finally:
        slots.release()


def pool_limits() -> PoolLimits:
    return PoolLimits(
        memory_limit=settings.RENDER_MEMORY_LIMIT,
        max_jobs=settings.RENDER_PROCESS_MAX_RENDERS,
        max_growth=settings.RENDER_PROCESS_KEEP,
        threads=settings.RENDER_THREADS,
    )


def variant_fetch(variant: Variant, *, admit: Callable[[], None] | None = None) -> Fetched:
    """Redis, disk, or one render in a render process; raises RenderError for an undecodable original
    (RenderTimeout past the budget, RenderOverMemory past the memory limit), RenderCrashed when the render
    process died, Overloaded when no render slot frees up, OSError for a lost file, StoreUnavailable when the
    object store holding the original is away. `admit` is asked (and
    may raise) before a render, never for a hit."""
    rendered: list[Rendered] = []

    def render_now() -> bytes:
        with render_slot():
            original = variant.original
            extension = EXTENSIONS.get(original.format, "bin")
            # On this machine the render process reads the file itself; from a bucket, the pipe carries the bytes.
            source: bytes | Path = store.local_path(original.sha256, extension) or store.read(
                original.sha256, extension
            )
            deadline = time.monotonic() + settings.RENDER_TIME_BUDGET_SECONDS
            result = render_pool.render(
                source,
                variant.spec,
                variant.out_format,
                deadline=deadline,
                max_frames=settings.MAX_FRAMES,
                limits=pool_limits(),
            )
        for stage, seconds in result.timings.items():
            RENDER_SECONDS.labels(stage=stage, format=variant.out_format).observe(seconds)
        if result.peak_bytes is not None:
            RENDER_PEAK_BYTES.labels(format=variant.out_format).observe(result.peak_bytes)
        rendered.append(result)
        return result.data

    data, tier = cache.fetch_or_render(
        original_id=variant.original.id, key=variant.key, out_format=variant.out_format, render=render_now, admit=admit
    )
    return Fetched(data, tier, rendered[0] if rendered else None)
