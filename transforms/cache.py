"""The variant cache: memory and Redis (tiers.py) in front of disk (the truth), with one render per key."""

import contextlib
import fcntl
import hashlib
import logging
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from django.conf import settings

from originals.models import ORIGINAL_ID

from .tiers import memory_tier, redis_tier

logger = logging.getLogger(__name__)

Tier = Literal["hit-memory", "hit-redis", "hit-disk", "miss"]

LOCK_PREFIX = "darkroom:lock:"


def variant_key(*, pipeline_version: str, original_sha256: str, canonical_query: str, out_format: str) -> str:
    """The one identity of a variant: its disk name, its Redis key suffix and its ETag."""
    material = "\n".join((pipeline_version, original_sha256, canonical_query, out_format))
    return hashlib.sha256(material.encode()).hexdigest()


def variants_dir(original_id: str) -> Path:
    """`DATA_DIR/variants/<id>`; the id is checked so that nothing else can ever become a path."""
    return Path(_variants_dir(original_id))


def _variants_dir(original_id: str) -> str:
    if not ORIGINAL_ID.fullmatch(original_id):
        raise ValueError(f"not an original id: {original_id!r}")
    return os.path.join(settings.VARIANTS_DIR, original_id)


def variant_path(original_id: str, key: str, out_format: str) -> Path:
    return Path(variant_file(original_id, key, out_format))


def variant_file(original_id: str, key: str, out_format: str) -> str:
    """variant_path as a string, for the hit path: three pathlib objects a hit cost more than its reads."""
    return os.path.join(_variants_dir(original_id), f"{key}.{out_format}")


_touched: dict[str, float] = {}


def _touch(original_id: str, key: str, out_format: str) -> None:
    """Refresh the disk copy's mtime (the disk cap's LRU clock) after a hit elsewhere, at most once a minute.

    This worker remembers when it last looked, so a hot variant costs no system call on most hits.
    """
    now = time.monotonic()
    last = _touched.get(key)
    if last is not None and now - last < LRU_TOUCH_SECONDS:
        return
    if len(_touched) >= 50_000:
        _touched.clear()
    _touched[key] = now
    path = variant_file(original_id, key, out_format)
    with contextlib.suppress(OSError):
        if time.time() - os.stat(path).st_mtime > LRU_TOUCH_SECONDS:
            os.utime(path)


LRU_TOUCH_SECONDS = 60  # a hit refreshes its file's mtime (the disk cap's LRU clock) at most this often


def disk_read(path: Path | str) -> bytes | None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        logger.warning("variant %s unreadable: %s", os.path.basename(path), exc)
        return None
    try:
        stat = os.fstat(fd)
        data = os.read(fd, stat.st_size)  # files are replaced whole (disk_write), never grown: size is final
        while len(data) < stat.st_size:  # a short read: keep reading until the size fstat gave
            more = os.read(fd, stat.st_size - len(data))
            if not more:
                raise OSError(f"ended after {len(data)} of {stat.st_size} bytes")
            data += more
        if time.time() - stat.st_mtime > LRU_TOUCH_SECONDS:
            with contextlib.suppress(OSError):
                os.utime(fd)
    except OSError as exc:
        logger.warning("variant %s unreadable: %s", os.path.basename(path), exc)
        return None
    finally:
        os.close(fd)
    return data


def disk_write(path: Path, data: bytes) -> bool:
    """Write to a temporary name and rename, so a half-written variant is never visible; False on failure."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    except OSError as exc:
        logger.warning("cannot write variant %s: %s", path.name, exc)
        return False
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(data)
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, path)
        return True
    except OSError as exc:
        logger.warning("cannot write variant %s: %s", path.name, exc)
        Path(tmp_name).unlink(missing_ok=True)
        return False


def _release_redis_lock(client: Any, name: str, token: str) -> None:
    # Release only our own lock (compare-and-delete), as the Redis docs' single-instance lock does.
    script = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
    try:
        client.eval(script, 1, name, token)
    except Exception as exc:  # noqa: BLE001 - the lock then expires by itself
        redis_tier.failed(exc)


@contextmanager
def _file_lock(key: str) -> Iterator[bool]:
    """A lock shared by every process on this machine, for when Redis is away.

    Keys share 256 lock files by their first two hex digits: a lock file cannot be deleted safely while
    another process may hold it, so a file per key would pile up forever.
    """
    try:
        directory = Path(settings.VARIANTS_DIR) / ".locks"
        directory.mkdir(parents=True, exist_ok=True)
        handle = open(directory / f"{key[:2]}.lock", "a+b")  # noqa: SIM115 - closed below
    except OSError:
        yield True  # nowhere to put a lock file: render without one rather than fail
        return
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
        else:
            yield True
    finally:
        handle.close()  # closing releases the flock


@contextmanager
def _render_lock(key: str, path: Path) -> Iterator[bool]:
    """Try once to take the key's lock: Redis's across machines, else a file lock across local processes."""
    client = redis_tier.client()
    if client is not None:
        name, token = f"{LOCK_PREFIX}{key}", uuid.uuid4().hex
        try:
            acquired = bool(client.set(name, token, nx=True, px=int(settings.RENDER_LOCK_SECONDS * 1000)))
        except Exception as exc:  # noqa: BLE001
            redis_tier.failed(exc)
        else:
            try:
                yield acquired
            finally:
                if acquired:
                    _release_redis_lock(client, name, token)
            return
    with _file_lock(key) as acquired:
        yield acquired


@contextmanager
def single_flight(key: str, path: Path) -> Iterator[bool]:
    """Hold the key's render lock, or wait until its holder has written the file; True means: render."""
    deadline = time.monotonic() + settings.RENDER_LOCK_SECONDS
    while True:
        with _render_lock(key, path) as acquired:
            if acquired:
                yield True
                return
        if path.exists() or time.monotonic() > deadline:
            yield False
            return
        time.sleep(0.02)


def lookup(*, original_id: str, key: str, out_format: str) -> tuple[bytes, Tier] | None:
    """This worker's memory, then Redis, then disk; None when the variant is in none of them."""
    data = memory_tier.get(key)
    if data is not None:
        return data, "hit-memory"
    data = redis_tier.get(original_id, key)
    if data is not None:
        _touch(original_id, key, out_format)  # keep the disk copy's least-recently-used clock honest
        memory_tier.put(original_id, key, data)
        return data, "hit-redis"
    data = disk_read(variant_file(original_id, key, out_format))
    if data is not None:
        redis_tier.put(original_id, key, data)
        memory_tier.put(original_id, key, data)
        return data, "hit-disk"
    return None


def fetch_or_render(
    *,
    original_id: str,
    key: str,
    out_format: str,
    render: Callable[[], bytes],
    admit: Callable[[], None] | None = None,
) -> tuple[bytes, Tier]:
    """Redis, then disk, then one render for all concurrent requests of the key; `admit` (which may raise)
    is asked first when the variant is in no tier."""
    found = lookup(original_id=original_id, key=key, out_format=out_format)
    if found is not None:
        return found
    if admit is not None:
        admit()
    path = variant_path(original_id, key, out_format)
    with single_flight(key, path) as my_turn:
        data = disk_read(path)  # the request that held the lock may have written it meanwhile
        if data is not None:
            return data, "hit-disk"
        if not my_turn:
            logger.warning("render lock for %s not released in time; rendering anyway", key)
        data = render()
        if disk_write(path, data):
            _cap_original(path.parent)
    redis_tier.put(original_id, key, data)
    memory_tier.put(original_id, key, data)
    prune_schedule.rendered()
    return data, "miss"


def _cap_original(directory: Path) -> None:
    """Keep at most MAX_VARIANTS_PER_ORIGINAL variants of one original on disk, dropping the least recent."""
    try:
        with os.scandir(directory) as scan:
            entries = [e for e in scan if not e.name.startswith(".")]
        excess = len(entries) - settings.MAX_VARIANTS_PER_ORIGINAL
        if excess > 0:
            for entry in sorted(entries, key=lambda e: e.stat().st_mtime)[:excess]:
                Path(entry.path).unlink(missing_ok=True)
    except OSError as exc:
        logger.warning("cannot cap the variants in %s: %s", directory, exc)


def variants_purge(original_id: str) -> None:
    """Remove every variant of an original from disk and Redis."""
    directory = variants_dir(original_id)
    shutil.rmtree(directory, ignore_errors=True)
    redis_tier.purge(original_id)
    memory_tier.purge(original_id)


@dataclass(frozen=True)
class PruneResult:
    files_before: int
    bytes_before: int
    files_removed: int
    bytes_removed: int


def variants_prune(max_bytes: int, *, dry_run: bool = False) -> PruneResult:
    """Delete the least recently used variants (oldest mtime; hits touch it) until the disk total fits."""
    entries = []
    for path in Path(settings.VARIANTS_DIR).glob("*/*"):
        if path.name.startswith("."):
            continue
        try:
            stat = path.stat()
        except OSError:
            continue
        entries.append((stat.st_mtime, stat.st_size, path))
    total = sum(size for _, size, _ in entries)
    removed = removed_bytes = 0
    for _, size, path in sorted(entries, key=lambda entry: entry[0]):
        if total - removed_bytes <= max_bytes:
            break
        if not dry_run:
            path.unlink(missing_ok=True)
        removed += 1
        removed_bytes += size
    return PruneResult(len(entries), total, removed, removed_bytes)


class _PruneSchedule:
    """Every so many renders, a worker enforces VARIANT_CACHE_MAX_BYTES on the way out."""

    every = 200

    def __init__(self) -> None:
        self.renders = 0
        self.mutex = threading.Lock()

    def rendered(self) -> None:
        with self.mutex:
            self.renders += 1
            due = self.renders % self.every == 0
        if due:
            result = variants_prune(settings.VARIANT_CACHE_MAX_BYTES)
            if result.files_removed:
                logger.info("pruned %s variants (%s bytes)", result.files_removed, result.bytes_removed)


prune_schedule = _PruneSchedule()
