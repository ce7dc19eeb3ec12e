"""The variant cache: Redis (hot, optional) in front of disk (the truth), with one render per key."""

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
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from originals.models import ORIGINAL_ID

logger = logging.getLogger(__name__)

Tier = Literal["hit-memory", "hit-redis", "hit-disk", "miss"]

REDIS_PREFIX = "darkroom:v:"
LOCK_PREFIX = "darkroom:lock:"
_MAGIC = b"DRV1"  # every Redis value starts with this and its key, so garbage is recognised as garbage


def variant_key(*, pipeline_version: str, original_sha256: str, canonical_query: str, out_format: str) -> str:
    """The one identity of a variant: its disk name, its Redis key suffix and its ETag."""
    material = "\n".join((pipeline_version, original_sha256, canonical_query, out_format))
    return hashlib.sha256(material.encode()).hexdigest()


class RedisTier:
    """Redis as an accelerator: every error opens a short circuit, and no exception reaches a caller."""

    def __init__(self) -> None:
        self._open_until = 0.0
        self._mutex = threading.Lock()
        self.last_error: str | None = None
        self._client: Any | None = None
        self._local = threading.local()

    @property
    def configured(self) -> bool:
        return bool(getattr(settings, "REDIS_URL", ""))

    def client(self) -> Any | None:
        if not self.configured or time.monotonic() < self._open_until:
            return None
        if self._client is None:  # looked up once: get_redis_connection costs a cache-handler walk a call
            from django_redis import get_redis_connection

            self._client = get_redis_connection("default")
        return self._client

    def reset(self) -> None:
        """Forget the client (settings changed); the next call looks it up again."""
        self._client = None
        self._open_until = 0.0

    def failed(self, exc: BaseException) -> None:
        with self._mutex:
            first = time.monotonic() >= self._open_until
            self._open_until = time.monotonic() + settings.REDIS_RETRY_SECONDS
            self.last_error = f"{type(exc).__name__}: {exc}"
        if first:
            logger.warning("redis unavailable, serving from disk for %ss: %s", settings.REDIS_RETRY_SECONDS, exc)

    def call(self, fn: Callable[[Any], Any], default: Any = None) -> Any:
        client = self.client()
        if client is None:
            return default
        try:
            result = fn(client)
        except Exception as exc:  # noqa: BLE001 - any Redis failure means: carry on without it
            self.failed(exc)
            return default
        self.last_error = None
        return result

    def available(self) -> bool:
        return self.client() is not None

    def _connection(self, client: Any) -> Any:
        """This thread's own connection to the client's server, made once, for the hit's GET.

        A cache hit is one GET; through redis-py's client each one also pays for the pool's checkout and
        release, the retry wrapper and the command's telemetry, which cost more CPU than the GET itself
        (bench/profile_hit.py). The connection is redis-py's own, built from the pool's settings (address,
        database, password, the 0.25 s timeouts), and belongs to one thread of one process.
        """
        local = self._local
        if getattr(local, "client", None) is not client or local.pid != os.getpid():
            pool = client.connection_pool
            local.connection = pool.connection_class(**pool.connection_kwargs)
            local.client, local.pid = client, os.getpid()
        return local.connection

    def _get(self, name: str) -> Any:
        client = self.client()
        if client is None:
            return None
        connection = self._connection(client)
        try:
            connection.send_command("GET", name)
            value = connection.read_response()
        except Exception as exc:  # noqa: BLE001 - as in call(): carry on without Redis
            connection.disconnect()  # a reply may be half read; the next GET connects afresh
            self.failed(exc)
            return None
        self.last_error = None
        return value

    def get(self, original_id: str, key: str) -> bytes | None:
        value = self._get(f"{REDIS_PREFIX}{original_id}:{key}")
        if value is None:
            return None
        header = _MAGIC + key.encode()
        if not isinstance(value, bytes) or not value.startswith(header):
            logger.warning("redis returned garbage for variant %s; ignoring it", key)
            self.call(lambda r: r.delete(f"{REDIS_PREFIX}{original_id}:{key}"))
            return None
        return value[len(header) :]

    def put(self, original_id: str, key: str, data: bytes) -> None:
        if len(data) > settings.REDIS_VARIANT_MAX_BYTES:
            return
        value = _MAGIC + key.encode() + data
        self.call(lambda r: r.set(f"{REDIS_PREFIX}{original_id}:{key}", value, ex=settings.REDIS_VARIANT_TTL))

    def purge(self, original_id: str) -> None:
        def _purge(r: Any) -> None:
            keys = list(r.scan_iter(match=f"{REDIS_PREFIX}{original_id}:*", count=500))
            if keys:
                r.delete(*keys)

        self.call(_purge)


redis_tier = RedisTier()


@receiver(setting_changed)
def _settings_changed(**kwargs: Any) -> None:
    redis_tier.reset()


class MemoryTier:
    """The most recently used variants in this worker's memory, ahead of Redis and disk.

    A hit from here costs no system call: at most VARIANT_MEMORY_CACHE_BYTES per worker, least recently
    used out first, no single variant over an eighth of it. Deletion clears this worker's copies; other
    workers stop serving theirs when their map of known originals expires (KnownOriginals).
    """

    def __init__(self) -> None:
        self._items: OrderedDict[str, tuple[str, bytes]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            self._items.move_to_end(key)
            return item[1]

    def put(self, original_id: str, key: str, data: bytes) -> None:
        budget = settings.VARIANT_MEMORY_CACHE_BYTES
        if not budget or len(data) > budget // 8:
            return
        with self._lock:
            old = self._items.pop(key, None)
            self._bytes += len(data) - (len(old[1]) if old else 0)
            self._items[key] = (original_id, data)
            while self._bytes > budget and self._items:
                _, (_, evicted) = self._items.popitem(last=False)
                self._bytes -= len(evicted)

    def purge(self, original_id: str) -> None:
        with self._lock:
            for key in [k for k, (owner, _) in self._items.items() if owner == original_id]:
                self._bytes -= len(self._items.pop(key)[1])


memory_tier = MemoryTier()


def variants_dir(original_id: str) -> Path:
    """`DATA_DIR/variants/<id>`; the id is checked so that nothing else can ever become a path."""
    if not ORIGINAL_ID.fullmatch(original_id):
        raise ValueError(f"not an original id: {original_id!r}")
    return Path(settings.VARIANTS_DIR) / original_id


def variant_path(original_id: str, key: str, out_format: str) -> Path:
    return variants_dir(original_id) / f"{key}.{out_format}"


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
    path = variant_path(original_id, key, out_format)
    with contextlib.suppress(OSError):
        if time.time() - os.stat(path).st_mtime > LRU_TOUCH_SECONDS:
            os.utime(path)


LRU_TOUCH_SECONDS = 60  # a hit refreshes its file's mtime (the disk cap's LRU clock) at most this often


def disk_read(path: Path) -> bytes | None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        logger.warning("variant %s unreadable: %s", path.name, exc)
        return None
    try:
        stat = os.fstat(fd)
        data = os.read(fd, stat.st_size + 1)
        while len(data) <= stat.st_size:  # a short read: keep reading until end of file
            more = os.read(fd, stat.st_size + 1 - len(data))
            if not more:
                break
            data += more
        if time.time() - stat.st_mtime > LRU_TOUCH_SECONDS:
            with contextlib.suppress(OSError):
                os.utime(fd)
    except OSError as exc:
        logger.warning("variant %s unreadable: %s", path.name, exc)
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
    data = disk_read(variant_path(original_id, key, out_format))
    if data is not None:
        redis_tier.put(original_id, key, data)
        memory_tier.put(original_id, key, data)
        return data, "hit-disk"
    return None


def fetch_or_render(*, original_id: str, key: str, out_format: str, render: Callable[[], bytes]) -> tuple[bytes, Tier]:
    """Redis, then disk, then one render for all concurrent requests of the key."""
    found = lookup(original_id=original_id, key=key, out_format=out_format)
    if found is not None:
        return found
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
