"""The shared result tier: variants too large for Redis kept in the object store, as thumbor's result storage, so a
variant rendered on one host is not rendered again on another (each host's disk stays its own cache).

On when the originals are in a bucket (settings.STORAGES["results"], the same bucket under `results/`) and
RESULT_STORE_MIN_BYTES is above 0: variants of at least that many bytes (by default, those Redis does not take) are
put there after their render and looked up before one. A store that fails opens a short circuit, as Redis's tier
does: a lookup is then a miss and a put is skipped; no request fails for it.
"""

import logging
import re
import threading
import time

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages

from originals.models import ORIGINAL_ID

logger = logging.getLogger(__name__)

_KEY = re.compile(r"[0-9a-f]{16,128}")
_FORMAT = re.compile(r"[a-z0-9]{1,5}")


class ResultTier:
    def __init__(self) -> None:
        self._open_until = 0.0
        self._mutex = threading.Lock()

    def enabled(self) -> bool:
        return "results" in settings.STORAGES and settings.RESULT_STORE_MIN_BYTES > 0

    def _storage(self) -> Storage | None:
        if not self.enabled() or time.monotonic() < self._open_until:
            return None
        return storages["results"]

    @staticmethod
    def _name(original_id: str, key: str, out_format: str) -> str:
        if not ORIGINAL_ID.fullmatch(original_id) or not _KEY.fullmatch(key) or not _FORMAT.fullmatch(out_format):
            raise ValueError(f"not a variant: {original_id!r} {key!r} {out_format!r}")
        return f"{original_id}/{key}.{out_format}"

    def _failed(self, exc: BaseException) -> None:
        with self._mutex:
            first = time.monotonic() >= self._open_until
            self._open_until = time.monotonic() + settings.REDIS_RETRY_SECONDS
        if first:
            logger.warning(
                "result store unavailable, rendering without it for %ss: %s", settings.REDIS_RETRY_SECONDS, exc
            )

    def get(self, original_id: str, key: str, out_format: str) -> bytes | None:
        storage = self._storage()
        if storage is None:
            return None
        name = self._name(original_id, key, out_format)
        try:
            if not storage.exists(name):
                return None
            with storage.open(name, "rb") as stored:
                data: bytes = stored.read()
            return data
        except FileNotFoundError:
            return None
        except Exception as exc:  # noqa: BLE001 - the store away: a miss
            self._failed(exc)
            return None

    def holds(self, original_id: str, key: str, out_format: str) -> bool:
        storage = self._storage()
        if storage is None:
            return False
        try:
            return bool(storage.exists(self._name(original_id, key, out_format)))
        except Exception as exc:  # noqa: BLE001
            self._failed(exc)
            return False

    def put(self, original_id: str, key: str, out_format: str, data: bytes) -> None:
        if len(data) < settings.RESULT_STORE_MIN_BYTES:
            return
        storage = self._storage()
        if storage is None:
            return
        try:
            storage.save(self._name(original_id, key, out_format), ContentFile(data))
        except Exception as exc:  # noqa: BLE001
            self._failed(exc)

    def purge(self, original_id: str) -> None:
        """Every stored variant of the original (a delete); raises when the store is away, so the caller knows."""
        if not self.enabled():
            return
        if not ORIGINAL_ID.fullmatch(original_id):
            raise ValueError(f"not an original id: {original_id!r}")
        storage = storages["results"]
        _, files = storage.listdir(original_id)
        for name in files:
            storage.delete(f"{original_id}/{name}")


result_tier = ResultTier()
