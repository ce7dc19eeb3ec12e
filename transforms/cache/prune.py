"""The disk cap of the variant cache (VARIANT_CACHE_MAX_BYTES): least recently used variants go first."""

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

logger = logging.getLogger(__name__)


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
