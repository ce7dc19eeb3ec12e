"""The variant cache: memory and Redis in front of disk (the truth), one render per key, and the disk cap.

The rest of the service uses `lookup` and `fetch_or_render` (a variant by its key, from whichever tier holds
it), `variants_purge` and `variants_prune`; `variant_key` is the one place a variant's identity is computed.
The modules, each one job: `keys` (the key), `disk` (paths, reads, atomic writes, the per-original cap, the
LRU clock), `memory` and `redis` (the fast tiers), `locks` (one render per key), `lookup` (across the tiers),
`prune` (the disk cap).
"""

from .disk import (
    LRU_TOUCH_SECONDS,
    _touched,
    disk_purge,
    disk_read,
    disk_write,
    variant_file,
    variant_path,
    variants_dir,
)
from .keys import variant_key
from .lookup import Tier, fetch_or_render, lookup, variants_purge
from .memory import MemoryTier, memory_tier
from .prune import PruneResult, prune_schedule, variants_prune
from .redis import REDIS_PREFIX, RedisTier, redis_tier

__all__ = [
    "LRU_TOUCH_SECONDS",
    "REDIS_PREFIX",
    "MemoryTier",
    "PruneResult",
    "RedisTier",
    "Tier",
    "_touched",
    "disk_purge",
    "disk_read",
    "disk_write",
    "fetch_or_render",
    "lookup",
    "memory_tier",
    "prune_schedule",
    "redis_tier",
    "variant_file",
    "variant_key",
    "variant_path",
    "variants_dir",
    "variants_prune",
    "variants_purge",
]
