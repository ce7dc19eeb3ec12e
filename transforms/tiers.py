"""The fast tiers' old import place: they live in transforms.cache (memory.py, redis.py) and are re-exported here."""

from .cache.memory import MemoryTier, memory_tier
from .cache.redis import REDIS_PREFIX, RedisTier, redis_tier

__all__ = ["REDIS_PREFIX", "MemoryTier", "RedisTier", "memory_tier", "redis_tier"]
