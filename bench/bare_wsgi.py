"""The smallest WSGI apps that return the same bytes as a darkroom cache hit: the ceilings and floors of W1."""

import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import redis

_BODY = Path(os.environ.get("BENCH_BODY_FILE", "/dev/null")).read_bytes()
_HEADERS = [
    ("Content-Type", os.environ.get("BENCH_CONTENT_TYPE", "image/jpeg")),
    ("Content-Length", str(len(_BODY))),
    ("Cache-Control", "public, max-age=31536000, immutable"),
]


# The headers a darkroom hit answers with (DESIGN.md section 7: caching, security, content, X-Cache, a Server-Timing
# made per request), as many and as long: what a hit must send, which the floors send too.
_HIT_HEADERS = [
    ("ETag", '"' + "0" * 64 + '"'),
    ("Cache-Control", "public, max-age=31536000, immutable"),
    ("Content-Security-Policy", "default-src 'none'; sandbox"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("X-Frame-Options", "DENY"),
    ("Content-Type", os.environ.get("BENCH_CONTENT_TYPE", "image/jpeg")),
]


def hit_headers(body: bytes, tier: str) -> list[tuple[str, str]]:
    timing = f'cache;desc="{tier}", total;dur={0.0:.1f}'
    return [*_HIT_HEADERS, ("Content-Length", str(len(body))), ("X-Cache", tier), ("Server-Timing", timing)]


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", _HEADERS)
    return [_BODY]


def headers_application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """The bare app answering with a hit's headers: the floor of a hit from memory."""
    start_response("200 OK", hit_headers(_BODY, "hit-memory"))
    return [_BODY]


# The same bytes fetched with one Redis GET per request, with a hit's headers: the least a Redis-served hit can cost.
# The client is darkroom's (redis-py's Connection, hiredis's parser) with darkroom's settings (REDIS_TIMEOUT_SECONDS
# for connect and read, 0.25 s by default), one connection per worker thread, and nothing else: no check of the value.
_REDIS_URL = os.environ.get("BENCH_REDIS_URL", "")
_REDIS_KEY = os.environ.get("BENCH_REDIS_KEY", "")
_REDIS_TIMEOUT = float(os.environ.get("REDIS_TIMEOUT_SECONDS", "0.25"))
_local = threading.local()


def _redis() -> Any:
    connection = getattr(_local, "redis", None)
    if connection is None:
        client = redis.Redis.from_url(_REDIS_URL, socket_timeout=_REDIS_TIMEOUT, socket_connect_timeout=_REDIS_TIMEOUT)
        pool = client.connection_pool
        connection = _local.redis = pool.connection_class(**pool.connection_kwargs)
    return connection


def redis_application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    connection = _redis()
    connection.send_command("GET", _REDIS_KEY)
    body = connection.read_response()
    start_response("200 OK", hit_headers(body, "hit-redis"))
    return [body]


# The same bytes read from a file per request, with a hit's headers: the least a disk-served hit can cost. The file is
# as deep below the run directory as a variant below DATA_DIR (variants/<id>/<key>.<format>); open, fstat (a reader
# must learn the size), read, close: what the kernel is asked for, and nothing around it.
_DISK_FILE = os.environ.get("BENCH_DISK_FILE", "")


def disk_application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    fd = os.open(_DISK_FILE, os.O_RDONLY)
    try:
        body = os.read(fd, os.fstat(fd).st_size)
    finally:
        os.close(fd)
    start_response("200 OK", hit_headers(body, "hit-disk"))
    return [body]
