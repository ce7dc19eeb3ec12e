"""The memory tier: the most recently used variants in this worker's own memory, ahead of Redis and disk."""

import threading
from collections import OrderedDict

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver


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
        self._budget: int | None = None

    def get(self, key: str) -> bytes | None:
        """Without the lock, which would cost a tenth of a hit: each OrderedDict call here is one step under the GIL,
        and the only other thread that can come between the two is one that drops the key (put, purge, reset): then
        the bytes read are still the variant's, and it is not made most recent."""
        items = self._items
        item = items.get(key)
        if item is None:
            return None
        try:  # noqa: SIM105 - contextlib.suppress costs a context manager on every hit
            items.move_to_end(key)
        except KeyError:
            pass  # dropped meanwhile
        return item[1]

    def put(self, original_id: str, key: str, data: bytes) -> None:
        budget = self._budget
        if budget is None:  # read once: a settings lookup costs more than the rest of a put that keeps nothing
            budget = self._budget = settings.VARIANT_MEMORY_CACHE_BYTES
        if not budget or len(data) > budget // 8:
            return
        with self._lock:
            old = self._items.pop(key, None)
            self._bytes += len(data) - (len(old[1]) if old else 0)
            self._items[key] = (original_id, data)
            while self._bytes > budget and self._items:
                _, (_, evicted) = self._items.popitem(last=False)
                self._bytes -= len(evicted)

    def reset(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    def purge(self, original_id: str) -> None:
        with self._lock:
            # list() copies the items in one step, which a get's move_to_end cannot come into the middle of
            for key in [k for k, (owner, _) in list(self._items.items()) if owner == original_id]:
                self._bytes -= len(self._items.pop(key)[1])


memory_tier = MemoryTier()


@receiver(setting_changed)
def _settings_changed(**kwargs: object) -> None:
    memory_tier._budget = None  # VARIANT_MEMORY_CACHE_BYTES may be another now
