"""Across the tiers: memory, then Redis, then disk, then one render for every concurrent request of a key."""

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from .disk import cap_original, disk_purge, disk_read, disk_write, touch, variant_file, variant_path
from .locks import single_flight
from .memory import memory_tier
from .prune import prune_schedule
from .redis import redis_tier
from .results import result_tier

logger = logging.getLogger(__name__)

STORE_POLL_SECONDS = 0.25

Tier = Literal["hit-memory", "hit-redis", "hit-disk", "hit-store", "miss"]


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
    path = variant_path(original_id, key, out_format)
    stored = result_tier.get(original_id, key, out_format)  # rendered on another host, too large for Redis
    if stored is not None:
        _keep(original_id, key, path, stored)
        return stored, "hit-store"
    if admit is not None:
        admit()
    with single_flight(key, path, shared=_shared_by_other_hosts(original_id, key, out_format)) as my_turn:
        data = disk_read(path)  # the request that held the lock may have written it meanwhile
        if data is not None:
            return data, "hit-disk"
        data = redis_tier.get(original_id, key)  # or a request on another host, into Redis
        if data is not None:
            _keep(original_id, key, path, data)
            return data, "hit-redis"
        data = result_tier.get(original_id, key, out_format)  # or into the result store
        if data is not None:
            _keep(original_id, key, path, data)
            return data, "hit-store"
        if not my_turn:
            logger.warning("render lock for %s not released in time; rendering anyway", key)
        data = render()
        if disk_write(path, data):
            cap_original(path.parent)
        # Before the lock goes: a request waiting on another host takes the lock next and looks here first.
        redis_tier.put(original_id, key, data)
        result_tier.put(original_id, key, out_format, data)
    memory_tier.put(original_id, key, data)
    prune_schedule.rendered()
    return data, "miss"


def _keep(original_id: str, key: str, path: Path, data: bytes) -> None:
    """A variant another host rendered: on this host's disk and in this worker's memory from now on."""
    if disk_write(path, data):
        cap_original(path.parent)
    memory_tier.put(original_id, key, data)


def _shared_by_other_hosts(original_id: str, key: str, out_format: str) -> Callable[[], bool]:
    """What a request waiting for another host's render polls: Redis at every turn, the result store (a HEAD
    request) at most every STORE_POLL_SECONDS."""
    last = [0.0]

    def shared() -> bool:
        if redis_tier.holds(original_id, key):
            return True
        if not result_tier.enabled() or time.monotonic() - last[0] < STORE_POLL_SECONDS:
            return False
        last[0] = time.monotonic()
        return result_tier.holds(original_id, key, out_format)

    return shared


def variants_purge(original_id: str) -> None:
    """Remove every variant of an original from disk, Redis and the result store (and this worker's memory)."""
    disk_purge(original_id)
    redis_tier.purge(original_id)
    memory_tier.purge(original_id)
    try:
        result_tier.purge(original_id)
    except Exception:  # the original is gone: its stored variants are unreachable, and darkroom_check lists them
        logger.exception("could not purge the stored variants of %s", original_id)
