"""The disk store, the truth behind the fast tiers: paths, reads, atomic writes, the per-original cap and the LRU
clock (a variant's mtime)."""

import contextlib
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from originals.models import ORIGINAL_ID

logger = logging.getLogger(__name__)

LRU_TOUCH_SECONDS = 60  # a hit refreshes its file's mtime (the disk cap's LRU clock) at most this often


def variants_dir(original_id: str) -> Path:
    """`DATA_DIR/variants/<id>`; the id is checked so that nothing else can ever become a path."""
    return Path(_variants_dir(original_id))


_dirs: dict[str, str] = {}  # id -> its variants' directory: a hit from disk checked and joined them every time


def _variants_dir(original_id: str) -> str:
    found = _dirs.get(original_id)
    if found is None:
        if not ORIGINAL_ID.fullmatch(original_id):
            raise ValueError(f"not an original id: {original_id!r}")
        found = os.path.join(settings.VARIANTS_DIR, original_id)
        if len(_dirs) >= 50_000:
            _dirs.clear()
        _dirs[original_id] = found
    return found


@receiver(setting_changed)
def _forget_dirs(**kwargs: object) -> None:
    _dirs.clear()


def variant_path(original_id: str, key: str, out_format: str) -> Path:
    return Path(variant_file(original_id, key, out_format))


def variant_file(original_id: str, key: str, out_format: str) -> str:
    """variant_path as a string, for the hit path: three pathlib objects a hit cost more than its reads."""
    return os.path.join(_variants_dir(original_id), f"{key}.{out_format}")


_touched: dict[str, float] = {}


def touch(original_id: str, key: str, out_format: str) -> None:
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


def disk_read(path: Path | str) -> bytes | None:
    """The file's bytes, its mtime refreshed when a minute old; None when it is missing or unreadable."""
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


def cap_original(directory: Path) -> None:
    """Keep at most MAX_VARIANTS_PER_ORIGINAL variants of one original on disk, dropping the least recent.

    One directory of at most that many files and one more: bounded, so it may run on the request path.
    """
    try:
        with os.scandir(directory) as scan:
            entries = [e for e in scan if not e.name.startswith(".")]
        excess = len(entries) - settings.MAX_VARIANTS_PER_ORIGINAL
        if excess > 0:
            for entry in sorted(entries, key=lambda e: e.stat().st_mtime)[:excess]:
                Path(entry.path).unlink(missing_ok=True)
    except OSError as exc:
        logger.warning("cannot cap the variants in %s: %s", directory, exc)


def disk_purge(original_id: str) -> None:
    """Remove an original's variants directory; ValueError for anything that is not an original id."""
    shutil.rmtree(variants_dir(original_id), ignore_errors=True)
