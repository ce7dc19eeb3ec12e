"""What one worker tells every other worker: an original deleted or changed; the host's workers through a log file,
every host's through Redis pub/sub.

Every worker that has learned an original's facts (variants.KnownOriginals.remember) first starts following
log_path() (transforms/event_log.py) and subscribes to channel(), each in a thread of its own; a change is written to
both, and each worker drops the original's facts (and for a delete its memory-tier copies and this host's variants on
disk): the host's workers within POLL_SECONDS (50 ms) whether or not Redis is there, the other hosts' within
milliseconds through Redis. A worker may hear one change twice (both ways, or its own): the handlers only forget.
When Redis is away its message is lost: KNOWN_ORIGINALS_SECONDS (60 s), how long a worker trusts what it
remembered, stays the bound across hosts (facts are never kept longer, so a delete missed during an outage is
honoured by then too).
"""

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis
from django.conf import settings

from . import event_log
from .cache.redis import redis_tier

logger = logging.getLogger(__name__)


def channel() -> str:
    """The deployment's channel: pub/sub is global to a Redis server, not kept per database as keys are, so the
    channel names REDIS_URL's database, and two Darkrooms sharing a server on databases of their own (or the tests
    on database 15 beside a service on 0) do not hear each other's deletes."""
    database = redis.connection.parse_url(settings.REDIS_URL).get("db", 0) if settings.REDIS_URL else 0
    return f"darkroom:{database}:originals"


def log_path() -> Path:
    """The host's event log: beside the variants every worker of the host shares."""
    return Path(settings.DATA_DIR) / "events.log"


SUBSCRIBE_WAIT_SECONDS = 0.5  # how long the first remember() waits for the subscription before going on

Handler = Callable[[str], None]


class Listener:
    """This process's follower of log_path() and subscription to channel(): started once per process (after a fork
    too), kept up while Redis is."""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}
        self._pid = 0  # the process whose thread is subscribed
        self._log_pid = 0  # the process whose thread follows the log
        self._lock = threading.Lock()
        self.subscribed = threading.Event()
        self.received = 0  # messages from Redis
        self.read = 0  # events from the log

    def on(self, kind: str, handler: Handler) -> None:
        self._handlers[kind] = handler

    def ensure(self) -> None:
        """Start listening in this process unless it does; the first time, wait briefly for the subscription."""
        if self._log_pid != os.getpid():
            self._follow()
        if self._pid == os.getpid() or not redis_tier.configured:
            return
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self.subscribed = threading.Event()
            threading.Thread(target=self._run, name="darkroom-events", daemon=True).start()
        self.subscribed.wait(SUBSCRIBE_WAIT_SECONDS)

    def _follow(self) -> None:
        """Start reading the log from its end, here, so that no change published after this call is missed."""
        with self._lock:
            if self._log_pid == os.getpid():
                return
            self._log_pid = os.getpid()
            follower = event_log.LogFollower(log_path())
            try:
                follower.start()
            except OSError as exc:  # the thread keeps trying; the expiry is the bound meanwhile
                logger.warning("cannot read %s: %s", follower.path, exc)
            threading.Thread(target=self._read, args=(follower,), name="darkroom-events-log", daemon=True).start()

    def _read(self, follower: event_log.LogFollower) -> None:
        pid = os.getpid()
        while self._log_pid == pid:
            time.sleep(event_log.POLL_SECONDS)
            try:
                if follower.path != log_path():  # DATA_DIR changed (tests): a new log, from its end
                    follower.close()
                    follower = event_log.LogFollower(log_path())
                    follower.start()
                for kind, original_id in follower.poll():
                    self.read += 1
                    self._dispatch(kind, original_id)
            except OSError as exc:
                logger.warning("cannot read %s: %s; retrying", follower.path, exc)
                time.sleep(1.0)

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
        if original_id:
            self.received += 1
            self._dispatch(kind, original_id)

    def _dispatch(self, kind: str, original_id: str) -> None:
        handler = self._handlers.get(kind)
        if handler is None:
            return
        try:
            handler(original_id)
        except Exception:
            logger.exception("handling %s of %s failed", kind, original_id)


listener = Listener()


def publish(kind: str, original_id: str) -> None:
    """Tell every worker of this host (the log) and of every other host (Redis; nothing when it is away: the expiry
    is the bound). ValueError, and nothing told, for a kind or id that is not one."""
    try:
        event_log.append(log_path(), kind, original_id)
    except OSError as exc:  # the change is made; the other workers will forget within the expiry
        logger.warning("could not append %s:%s to %s: %s", kind, original_id, log_path(), exc)
    redis_tier.call(lambda r: r.publish(channel(), f"{kind}:{original_id}"))
