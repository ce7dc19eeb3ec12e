"""What this worker process keeps between requests, named in one place and forgotten in one call.

Each piece lives beside the code that uses it; this is the list of them, so that nothing a worker remembers
is hidden in a module-level dict that a test, a settings change or a deployment has to know about.
"""

from .answer import Resolutions, resolutions
from .cache import _touched, memory_tier
from .cache.disk import _dirs
from .cache.memory import MemoryTier
from .fastpath import Hot, HotKey, _hot
from .variants import KnownOriginals, _slots, known_originals


class WorkerMemory:
    """The per-process memories of the variant path."""

    def __init__(self) -> None:
        self.originals: KnownOriginals = known_originals  # id -> the original's facts: a hit needs no query
        self.resolutions: Resolutions = resolutions  # (id, query, Accept) -> the variant it names
        self.hot: dict[HotKey, Hot] = _hot  # a URL answered from memory -> its variant and headers
        self.directories: dict[str, str] = _dirs  # id -> its variants' directory on disk
        self.variants: MemoryTier = memory_tier  # the memory tier: the hottest variants' bytes
        self.touched = _touched  # key -> when this worker last refreshed the disk copy's LRU clock
        self.render_slots = _slots  # the semaphore bounding this worker's concurrent renders

    def reset(self) -> None:
        """Forget everything: the next request of every kind takes the long way once."""
        self.originals.reset()
        self.resolutions.reset()
        self.hot.clear()
        self.directories.clear()
        self.variants.reset()
        self.touched.clear()
        self.render_slots.clear()


worker = WorkerMemory()
