"""The disk cap of the variant cache (VARIANT_CACHE_MAX_BYTES), enforced off the request path, oldest mtime first.

Enforcing the cap means looking at every variant on the disk, a stat per file: about a second per 100,000
files here. Inside a request that second was paid by whichever render came due (every 200th), and by every
request queued behind it on that worker. So a render only counts itself, in memory, and every `every`
renders wakes this worker's prune thread, which walks the directory while the worker goes on serving.
The walk is bounded in how long it holds the interpreter: it sleeps a millisecond every PACE_ENTRIES
files, so a request of the same worker waits at most one slice for the GIL instead of up to the 5 ms
switch interval (hits during a walk of 30,000 files: p99 about 0.5 ms paced, 2-4 ms unpaced; the walk
takes 0.8 s instead of 0.2). At most one process of the machine walks at a time (a lock file): another's
pass would find the same files. The per-original cap (disk.cap_original) stays on the request path: one
directory of at most MAX_VARIANTS_PER_ORIGINAL files. `manage.py prune_variants` runs the same walk,
unpaced, from cron or by hand.
"""

import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from .locks import file_lock, locks_dir

logger = logging.getLogger(__name__)

PACE_ENTRIES = 64  # files looked at (or removed) between two pauses of the prune thread: about 0.4 ms
PACE_SECONDS = 0.001  # long enough for a waiting request thread to take the GIL


@dataclass(frozen=True)
class PruneResult:
    files_before: int
    bytes_before: int
    files_removed: int
    bytes_removed: int


class _Pacer:
    """Sleeps `seconds` every `every` steps; a pacer of 0 seconds never sleeps."""

    sleep = staticmethod(time.sleep)  # the pacer's own: a test replaces it here, not every thread's time.sleep

    def __init__(self, seconds: float, every: int = PACE_ENTRIES) -> None:
        self.seconds, self.every, self.steps = seconds, every, 0

    def step(self) -> None:
        self.steps += 1
        if self.seconds and self.steps % self.every == 0:
            self.sleep(self.seconds)


def _variant_files(root: str, pacer: _Pacer) -> list[tuple[float, int, str]]:
    """(mtime, size, path) of every `<root>/<id>/<file>`; hidden names (`.locks`, `.tmp-…`) are not variants."""
    try:
        with os.scandir(root) as top:
            directories = [e.path for e in top if not e.name.startswith(".") and e.is_dir(follow_symlinks=False)]
    except OSError:
        return []
    entries = []
    for directory in directories:
        try:
            with os.scandir(directory) as scan:
                for entry in scan:
                    if entry.name.startswith("."):
                        continue
                    pacer.step()
                    try:
                        stat = entry.stat()
                    except OSError:
                        continue
                    entries.append((stat.st_mtime, stat.st_size, entry.path))
        except OSError:
            continue  # removed meanwhile (a purge), or unreadable: nothing of it to count
    return entries


def variants_prune(
    max_bytes: int, *, dry_run: bool = False, root: str | Path | None = None, pause: float = 0.0
) -> PruneResult:
    """Delete the least recently used variants (oldest mtime; hits touch it) until the disk total fits.

    `root` is VARIANTS_DIR unless given; `pause` seconds are slept every PACE_ENTRIES files (the prune thread's).
    """
    pacer = _Pacer(pause)
    entries = _variant_files(str(settings.VARIANTS_DIR if root is None else root), pacer)
    total = sum(size for _, size, _ in entries)
    removed = removed_bytes = 0
    for _, size, path in sorted(entries):
        if total - removed_bytes <= max_bytes:
            break
        if not dry_run:
            pacer.step()
            Path(path).unlink(missing_ok=True)
        removed += 1
        removed_bytes += size
    return PruneResult(len(entries), total, removed, removed_bytes)


def prune_pass(root: str, max_bytes: int) -> PruneResult | None:
    """One paced pass of the cap over `root`, or None when another process of this machine is running one."""
    with file_lock(locks_dir(root) / "prune.lock") as mine:
        if not mine:
            return None
        result = variants_prune(max_bytes, root=root, pause=PACE_SECONDS)
    if result.files_removed:
        logger.info("pruned %s variants (%s bytes)", result.files_removed, result.bytes_removed)
    return result


class PruneSchedule:
    """Counts this worker's renders; every `every` of them, its prune thread runs a pass (prune_pass)."""

    every = 200

    def __init__(self) -> None:
        self.renders = 0
        self._cond = threading.Condition()
        self._due: tuple[str, int] | None = None  # (VARIANTS_DIR, VARIANT_CACHE_MAX_BYTES) when the pass came due
        self._busy = False
        self._thread: threading.Thread | None = None
        self._pid = 0

    def rendered(self) -> None:
        """Count a render; on the request path, so no I/O: the pass it may make due runs on the thread."""
        with self._cond:
            self.renders += 1
            if self.renders % self.every:
                return
            self._due = (str(settings.VARIANTS_DIR), settings.VARIANT_CACHE_MAX_BYTES)
            self._start_thread()
            self._cond.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no pass is due or running (True), or `timeout` seconds pass (False)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._due is None and not self._busy, timeout)

    def _start_thread(self) -> None:
        """Start the prune thread unless it runs (per process: a fork keeps no thread but the caller's)."""
        if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
            return
        self._pid, self._busy = os.getpid(), False
        self._thread = threading.Thread(target=self._run, name="darkroom-prune", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._due is not None)
                due, self._due, self._busy = self._due, None, True
            try:
                if due is not None:
                    prune_pass(*due)
            except Exception:  # the thread must outlive any one pass
                logger.exception("pruning the variant cache failed")
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()


prune_schedule = PruneSchedule()
