"""django-redis's client for the Django cache: JSON, never pickle, and a value that does not decode is a miss."""

import logging
from collections.abc import Iterable
from typing import Any

from django_redis.client import DefaultClient

logger = logging.getLogger(__name__)
_MISSING = object()


class FailSafeClient(DefaultClient):
    """Reads that meet a value which is not JSON (a pickle planted in Redis, garbage) answer the default.

    The serializer (settings.CACHES: django-redis's JSONSerializer) cannot run code; this makes its refusal a
    cache miss that deletes the value, so a bad value costs one miss instead of a 500 on every throttled request.
    """

    def get(self, key: Any, default: Any = None, version: int | None = None, client: Any = None) -> Any:
        try:
            return super().get(key, default=default, version=version, client=client)
        except ValueError:  # json's JSONDecodeError and UnicodeDecodeError alike
            logger.warning("the cache value of %r is not JSON; ignoring and deleting it", key)
            self.delete(key, version=version, client=client)
            return default

    def get_many(self, keys: Iterable[Any], version: int | None = None, client: Any = None) -> dict[Any, Any]:
        keys = list(keys)
        try:
            return super().get_many(keys, version=version, client=client)
        except ValueError:  # one of them does not decode: read them one by one, as get() does
            found = {key: self.get(key, _MISSING, version=version, client=client) for key in keys}
            return {key: value for key, value in found.items() if value is not _MISSING}
