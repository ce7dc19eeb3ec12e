"""What one worker tells every other worker on every host, through Redis pub/sub: an original deleted or changed.

Every worker that has learned an original's facts (variants.KnownOriginals.remember) first subscribes to
channel() in a thread of its own; a delete on any host is published there, and each worker drops the original's
facts, its memory-tier copies and this host's variants on disk within milliseconds. When Redis is away the
message is lost: KNOWN_ORIGINALS_SECONDS (60 s), how long a worker trusts what it remembered, stays the bound (facts
are never kept longer, so a delete missed during an outage is honoured by then too).
"""

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import redis
from django.conf import settings

from .cache.redis import redis_tier

logger = logging.getLogger(__name__)


def channel() -> str:
    """The deployment's channel: pub/sub is global to a Redis server, not kept per database as keys are, so the
    channel names REDIS_URL's database, and two Darkrooms sharing a server on databases of their own (or the tests
    on database 15 beside a service on 0) do not hear each other's deletes."""
    database = redis.connection.parse_url(settings.REDIS_URL).get("db", 0) if settings.REDIS_URL else 0
    return f"darkroom:{database}:originals"


SUBSCRIBE_WAIT_SECONDS = 0.5  # how long the first remember() waits for the subscription before going on

Handler = Callable[[str], None]


class Listener:
    """This process's subscription to channel(): started once per process (after a fork too), kept up while Redis is."""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}
        self._pid = 0
        self._lock = threading.Lock()
        self.subscribed = threading.Event()
        self.received = 0

    def on(self, kind: str, handler: Handler) -> None:
        self._handlers[kind] = handler

    def ensure(self) -> None:
        """Start listening in this process unless it does; the first time, wait briefly for the subscription."""
        if self._pid == os.getpid() or not redis_tier.configured:
            return
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self.subscribed = threading.Event()
            threading.Thread(target=self._run, name="darkroom-events", daemon=True).start()
        self.subscribed.wait(SUBSCRIBE_WAIT_SECONDS)

    def _run(self) -> None:
        pid = os.getpid()
        while self._pid == pid:
            if not redis_tier.configured:
                time.sleep(1.0)
                continue
            pubsub = None
            try:
                # A connection of its own to REDIS_URL, not the cache's: a test or a setting that points the cache
                # elsewhere does not move the subscription, and a quiet channel is not a timeout.
                client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1.0, socket_timeout=30.0)
                pubsub = client.pubsub()
                pubsub.subscribe(channel())
                while self._pid == pid:
                    message = pubsub.get_message(timeout=1.0)
                    if message is not None:
                        self._handle(message)
            except Exception as exc:  # noqa: BLE001 - Redis away: the expiry is the bound until it is back
                self.subscribed.clear()
                logger.warning("lost the subscription to %s: %s; retrying", channel(), exc)
                time.sleep(settings.REDIS_RETRY_SECONDS)
            finally:
                if pubsub is not None:
                    with contextlib.suppress(Exception):  # it is being dropped
                        pubsub.close()

    def _handle(self, message: dict[str, Any]) -> None:
        if message.get("type") == "subscribe":
            self.subscribed.set()
            return
        if message.get("type") != "message":
            return
        data = message.get("data")
        text = data.decode() if isinstance(data, bytes) else str(data)
        kind, _, original_id = text.partition(":")
        handler = self._handlers.get(kind)
        if handler is not None and original_id:
            self.received += 1
            try:
                handler(original_id)
            except Exception:
                logger.exception("handling %s of %s failed", kind, original_id)


listener = Listener()


def publish(kind: str, original_id: str) -> None:
    """Tell every worker on every host; nothing (the expiry is the bound) when Redis is away."""
    redis_tier.call(lambda r: r.publish(channel(), f"{kind}:{original_id}"))
