"""The Redis tier, an accelerator shared by every worker and host: its values carry an HMAC, its failures open a
short circuit and never reach a caller."""

import hmac
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import redis
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

logger = logging.getLogger(__name__)

REDIS_PREFIX = "darkroom:v:"
# Every Redis value is this, then an HMAC-SHA256 of (cache key, bytes), then the bytes: garbage, a value stored
# under another key, or bytes planted by anyone who can write to Redis but lacks SECRET_KEY are all refused.
_MAGIC = b"DRV2"
_MAC_BYTES = 32
_HEADER_BYTES = len(_MAGIC) + _MAC_BYTES


_forks = [0]  # forks this process descends from: a connection made before a fork is the parent's (no getpid a hit)
os.register_at_fork(after_in_child=lambda: _forks.__setitem__(0, _forks[0] + 1))


class RedisTier:
    """Redis as an accelerator: every error opens a short circuit, and no exception reaches a caller."""

    def __init__(self) -> None:
        self._open_until = 0.0
        self._mutex = threading.Lock()
        self.last_error: str | None = None
        self._client: Any | None = None
        self._local = threading.local()
        self._mac_key: bytes | None = None
        self._configured: bool | None = None

    @property
    def configured(self) -> bool:
        if self._configured is None:  # read once (reset() forgets it): a hit from disk asked three times
            self._configured = bool(getattr(settings, "REDIS_URL", ""))
        return self._configured

    def client(self) -> Any | None:
        if not self.configured or time.monotonic() < self._open_until:
            return None
        if self._client is None:  # looked up once: get_redis_connection costs a cache-handler walk a call
            from django_redis import get_redis_connection

            self._client = get_redis_connection("default")
        return self._client

    def reset(self) -> None:
        """Forget the client and the MAC key (settings changed); the next call makes them again."""
        self._client = None
        self._open_until = 0.0
        self._mac_key = None
        self._configured = None

    def _mac(self, key: str, data: bytes) -> bytes:
        """HMAC-SHA256 of the cache key and the bytes, keyed from SECRET_KEY: about 12 µs for 16 KB."""
        if self._mac_key is None:
            self._mac_key = hmac.digest(settings.SECRET_KEY.encode(), b"darkroom redis variant mac", "sha256")
        return hmac.digest(self._mac_key, key.encode() + data, "sha256")  # one-shot: OpenSSL's HMAC, no object

    def failed(self, exc: BaseException) -> None:
        with self._mutex:
            first = time.monotonic() >= self._open_until
            self._open_until = time.monotonic() + settings.REDIS_RETRY_SECONDS
            self.last_error = f"{type(exc).__name__}: {exc}"
        if first:
            logger.warning("redis unavailable, serving from disk for %ss: %s", settings.REDIS_RETRY_SECONDS, exc)

    def call(self, fn: Callable[[Any], Any], default: Any = None) -> Any:
        client = self.client()
        if client is None:
            return default
        try:
            result = fn(client)
        except Exception as exc:  # noqa: BLE001 - any Redis failure means: carry on without it
            self.failed(exc)
            return default
        self.last_error = None
        return result

    def available(self) -> bool:
        return self.client() is not None

    def _connection(self, client: Any) -> Any:
        """This thread's own connection to the client's server, made once, for the hit's GET.

        A cache hit is one GET; through redis-py's client each one also pays for the pool's checkout and
        release, the retry wrapper and the command's telemetry, which cost more CPU than the GET itself
        (bench/profile_hit.py). The connection is redis-py's own, built from the pool's settings (address,
        database, password, the REDIS_TIMEOUT_SECONDS timeouts), and belongs to one thread of one process.
        """
        local = self._local
        if getattr(local, "client", None) is not client or local.forks != _forks[0]:
            pool = client.connection_pool
            local.connection = pool.connection_class(**pool.connection_kwargs)
            local.client, local.forks = client, _forks[0]
        return local.connection

    @staticmethod
    def _command(connection: Any, *args: str) -> Any:
        try:
            connection.send_command(*args)
            return connection.read_response()
        except BaseException:
            connection.disconnect()  # a reply may be half read; the next command connects afresh
            raise

    def _get(self, name: str) -> Any:
        client = self.client()
        if client is None:
            return None
        connection = self._connection(client)
        kept = connection.is_connected
        try:
            try:
                value = self._command(connection, "GET", name)
            except redis.ConnectionError:
                if not kept:
                    raise
                # A kept connection that the server or a proxy closed while it was idle: once more, anew.
                value = self._command(connection, "GET", name)
        except Exception as exc:  # noqa: BLE001 - as in call(): carry on without Redis
            self.failed(exc)
            return None
        self.last_error = None
        return value

    def get(self, original_id: str, key: str) -> bytes | None:
        value = self._get(f"{REDIS_PREFIX}{original_id}:{key}")
        if value is None:
            return None
        if isinstance(value, bytes) and value.startswith(_MAGIC):
            data = value[_HEADER_BYTES:]
            if hmac.compare_digest(value[len(_MAGIC) : _HEADER_BYTES], self._mac(key, data)):
                return data
        logger.warning("redis returned garbage or a value whose MAC is wrong for variant %s; ignoring it", key)
        self.call(lambda r: r.delete(f"{REDIS_PREFIX}{original_id}:{key}"))
        return None

    def holds(self, original_id: str, key: str) -> bool:
        """Whether Redis has the variant (EXISTS: what a request waiting for another host's render polls)."""
        return bool(self.call(lambda r: r.exists(f"{REDIS_PREFIX}{original_id}:{key}"), default=False))

    def put(self, original_id: str, key: str, data: bytes) -> None:
        if self.client() is None or len(data) > settings.REDIS_VARIANT_MAX_BYTES:
            return  # no Redis (or its circuit is open): not even the MAC is worth computing
        value = _MAGIC + self._mac(key, data) + data
        self.call(lambda r: r.set(f"{REDIS_PREFIX}{original_id}:{key}", value, ex=settings.REDIS_VARIANT_TTL))

    def purge(self, original_id: str) -> None:
        def _purge(r: Any) -> None:
            keys = list(r.scan_iter(match=f"{REDIS_PREFIX}{original_id}:*", count=500))
            if keys:
                r.delete(*keys)

        self.call(_purge)


redis_tier = RedisTier()


@receiver(setting_changed)
def _settings_changed(**kwargs: Any) -> None:
    redis_tier.reset()
