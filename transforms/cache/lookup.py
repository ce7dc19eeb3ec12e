"""Across the tiers: memory, then Redis, then disk, then one render for every concurrent request of a key."""

import logging
from collections.abc import Callable
from typing import Literal

from .disk import cap_original, disk_purge, disk_read, disk_write, touch, variant_file, variant_path
from .locks import single_flight
from .memory import memory_tier
from .prune import prune_schedule
from .redis import redis_tier

logger = logging.getLogger(__name__)

Tier = Literal["hit-memory", "hit-redis", "hit-disk", "miss"]


def lookup(*, original_id: str, key: str, out_format: str) -> tuple[bytes, Tier] | None:
    """This worker's memory, then Redis, then disk; None when the variant is in none of them."""
    data = memory_tier.get(key)
    if data is not None:
        return data, "hit-memory"
    data = redis_tier.get(original_id, key)
    if data is not None:
        touch(original_id, key, out_format)  # keep the disk copy's least-recently-used clock honest
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
    with single_flight(key, path, shared=lambda: redis_tier.holds(original_id, key)) as my_turn:
        data = disk_read(path)  # the request that held the lock may have written it meanwhile
        if data is not None:
            return data, "hit-disk"
        data = redis_tier.get(original_id, key)  # or a request on another host, into Redis
        if data is not None:
            if disk_write(path, data):
                cap_original(path.parent)
            memory_tier.put(original_id, key, data)
            return data, "hit-redis"
        if not my_turn:
            logger.warning("render lock for %s not released in time; rendering anyway", key)
        data = render()
        if disk_write(path, data):
            cap_original(path.parent)
    redis_tier.put(original_id, key, data)
    memory_tier.put(original_id, key, data)
    prune_schedule.rendered()
    return data, "miss"


def variants_purge(original_id: str) -> None:
    """Remove every variant of an original from disk and Redis (and this worker's memory)."""
    disk_purge(original_id)
    redis_tier.purge(original_id)
    memory_tier.purge(original_id)
