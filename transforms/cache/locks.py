"""One render per key: a Redis lock across machines, a file lock across this machine's processes without Redis."""

import fcntl
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.conf import settings

from .redis import redis_tier

logger = logging.getLogger(__name__)

LOCK_PREFIX = "darkroom:lock:"


LOCK_TTL_SECONDS = 10.0  # a Redis lock lives this long unless its holder renews it (every fifth of it)


class _Renewal:
    """Keeps a held Redis lock alive while its render runs: a holder that dies (SIGKILL, a lost host) lets it go
    within LOCK_TTL_SECONDS, so the next request renders instead of waiting out RENDER_LOCK_SECONDS."""

    _SCRIPT = (
        "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
    )

    def __init__(self, client: Any, name: str, token: str) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(client, name, token), daemon=True)
        self._thread.start()

    def _run(self, client: Any, name: str, token: str) -> None:
        while not self._stop.wait(LOCK_TTL_SECONDS / 5):
            try:
                client.eval(self._SCRIPT, 1, name, token, int(LOCK_TTL_SECONDS * 1000))
            except Exception as exc:  # noqa: BLE001 - tried again at the next turn; never opens Redis's circuit
                logger.warning("could not renew the render lock %s: %s", name, exc)

    def stop(self) -> None:
        self._stop.set()


def _release_redis_lock(client: Any, name: str, token: str) -> None:
    # Release only our own lock (compare-and-delete), as the Redis docs' single-instance lock does.
    script = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
    try:
        client.eval(script, 1, name, token)
    except Exception as exc:  # noqa: BLE001 - the lock then expires by itself
        redis_tier.failed(exc)


def locks_dir(root: str | Path) -> Path:
    """`<root>/.locks`: the lock files of a variants directory, a name no original id can have."""
    return Path(root) / ".locks"


@contextmanager
def file_lock(path: Path) -> Iterator[bool]:
    """Try once to take the lock file `path`, shared by every process on this machine; True when taken.

    Also True when no lock file can be made: the caller then goes ahead without one rather than fail.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a+b")  # noqa: SIM115 - closed below
    except OSError:
        yield True
        return
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
        else:
            yield True
    finally:
        handle.close()  # closing releases the flock


@contextmanager
def _render_lock(key: str) -> Iterator[bool]:
    """Try once to take the key's lock: Redis's across machines, else a file lock across local processes.

    Keys share 256 lock files by their first two hex digits: a lock file cannot be deleted safely while
    another process may hold it, so a file per key would pile up forever.
    """
    client = redis_tier.client()
    if client is not None:
        name, token = f"{LOCK_PREFIX}{key}", uuid.uuid4().hex
        try:
            acquired = bool(client.set(name, token, nx=True, px=int(LOCK_TTL_SECONDS * 1000)))
        except Exception as exc:  # noqa: BLE001
            redis_tier.failed(exc)
        else:
            renewal = _Renewal(client, name, token) if acquired else None
            try:
                yield acquired
            finally:
                if renewal is not None:
                    renewal.stop()
                    _release_redis_lock(client, name, token)
            return
    with file_lock(locks_dir(settings.VARIANTS_DIR) / f"{key[:2]}.lock") as acquired:
        yield acquired


@contextmanager
def single_flight(key: str, path: Path, shared: Callable[[], bool] | None = None) -> Iterator[bool]:
    """Hold the key's render lock, or wait until its holder has written the file (or, on another host, put it where
    every host looks: `shared`); True means: render."""
    deadline = time.monotonic() + settings.RENDER_LOCK_SECONDS
    while True:
        with _render_lock(key) as acquired:
            if acquired:
                yield True
                return
        if path.exists() or (shared is not None and shared()) or time.monotonic() > deadline:
            yield False
            return
        time.sleep(0.05)
