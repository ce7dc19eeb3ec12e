"""The smallest WSGI apps that return the same bytes as a darkroom cache hit: the ceilings of W1."""

import os
import socket
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import hiredis
import redis

_BODY = Path(os.environ.get("BENCH_BODY_FILE", "/dev/null")).read_bytes()
_HEADERS = [
    ("Content-Type", os.environ.get("BENCH_CONTENT_TYPE", "image/jpeg")),
    ("Content-Length", str(len(_BODY))),
    ("Cache-Control", "public, max-age=31536000, immutable"),
]


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", _HEADERS)
    return [_BODY]


# The same bytes fetched with one Redis GET per request: the least any Redis-served hit can cost here.
# A raw socket and hiredis's parser, with nothing around them (no pool, no retries, no checks), so that
# this is a floor for a Python client, below what redis-py (and so darkroom) spends.
_REDIS_URL = os.environ.get("BENCH_REDIS_URL", "")
_REDIS_KEY = os.environ.get("BENCH_REDIS_KEY", "").encode()
_GET = b"*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n" % (len(_REDIS_KEY), _REDIS_KEY)
_redis: socket.socket | None = None  # one per worker process, made on its first request


def _redis_connect() -> socket.socket:
    options = redis.Redis.from_url(_REDIS_URL).connection_pool.connection_kwargs
    if "path" in options:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(options["path"])
    else:
        sock = socket.create_connection((options["host"], options["port"]))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    db = str(options.get("db", 0)).encode()
    sock.sendall(b"*2\r\n$6\r\nSELECT\r\n$%d\r\n%s\r\n" % (len(db), db))
    if _reply(sock) != b"OK":
        raise RuntimeError("SELECT failed")
    return sock


def _reply(sock: socket.socket) -> Any:
    reader = hiredis.Reader()
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("redis closed the connection")
        reader.feed(chunk)
        reply = reader.gets()
        if reply is not False:
            return reply


def redis_application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    global _redis
    if _redis is None:
        _redis = _redis_connect()
    _redis.sendall(_GET)
    body = _reply(_redis)
    start_response("200 OK", _HEADERS)
    return [body]
