"""Profile cache hits in-process, through Django's WSGI handler as gunicorn calls it, to show where a hit's
time goes: `python -m bench.profile_hit [--requests N] [--no-redis] [--pyinstrument]`."""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any


def _environ(path: str, query: str, method: str = "GET", body: bytes = b"", content_type: str = "") -> dict[str, Any]:
    return {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_ACCEPT": "image/avif,image/webp,*/*",
        "CONTENT_TYPE": content_type,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": "http",
        "wsgi.version": (1, 0),
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }


def call(app: Callable[..., Iterable[bytes]], environ: dict[str, Any]) -> tuple[str, dict[str, str], bytes]:
    status: list[str] = []
    headers: dict[str, str] = {}

    def start_response(s: str, h: list[tuple[str, str]], exc_info: object = None) -> None:
        status.append(s)
        headers.update({k.lower(): v for k, v in h})

    chunks = app(environ, start_response)
    body = b"".join(chunks)
    close = getattr(chunks, "close", None)
    if close is not None:
        close()  # fires request_finished: Django closes the DB connection here, as under gunicorn
    return status[0], headers, body


def setup(data_dir: Path, redis_url: str) -> Callable[..., Iterable[bytes]]:
    os.environ.update(
        DARKROOM_ENV="local",
        DATA_DIR=str(data_dir),
        REDIS_URL=redis_url,
        ANON_UPLOAD_RATE="1000000/hour",
        USER_UPLOAD_RATE="1000000/hour",
        RENDER_RATE="1000000/m",
        PROMETHEUS_MULTIPROC_DIR=str(data_dir / "prometheus"),
        DJANGO_SETTINGS_MODULE="server.settings",
    )
    os.environ.pop("DATABASE_URL", None)
    (data_dir / "prometheus").mkdir(parents=True, exist_ok=True)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", "--noinput", verbosity=0)
    from server.wsgi import application

    return application


def upload(app: Callable[..., Iterable[bytes]], data: bytes) -> str:
    import json

    boundary = "benchboundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="p.jpg"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    status, _, answer = call(
        app,
        _environ("/api/v1/originals/", "", "POST", body, f"multipart/form-data; boundary={boundary}"),
    )
    if not status.startswith(("200", "201")):
        raise RuntimeError(f"upload answered {status}: {answer[:200]!r}")
    return str(json.loads(answer)["id"])


def _each(fn: Callable[[], object], n: int, rounds: int = 5) -> float:
    """Seconds of one call of `fn`: the fastest of `rounds` rounds' means (other load on the machine only
    ever adds time, so the fastest round is the best estimate of the cost itself)."""
    for _ in range(min(20, n)):
        fn()
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(max(1, n // rounds)):
            fn()
        best = min(best, (time.perf_counter() - started) / max(1, n // rounds))
    return best


def breakdown(app: Callable[..., Iterable[bytes]], original_id: str, query: str, n: int) -> list[tuple[str, float]]:
    """Where a hit's time goes, part by part, each timed on its own (no profiler overhead)."""
    from django.db import connection
    from django.test import RequestFactory

    from bench import bare_wsgi
    from originals import selectors
    from transforms.cache import redis_tier
    from transforms.spec import parse
    from transforms.variants import variant_resolve
    from transforms.views import ImageView

    path = f"/image/{original_id}/"
    view = ImageView.as_view()
    factory = RequestFactory()
    original = selectors.original_get(original_id)
    assert original is not None
    variant = variant_resolve(parse([("w", query.split("=")[1])]), original)

    def lookup_new_connection() -> None:
        selectors.original_get(original_id)
        connection.close()  # what request_finished does after every request (CONN_MAX_AGE = 0)

    return [
        (
            "bare WSGI app (bench/bare_wsgi.py), same bytes",
            _each(lambda: call(bare_wsgi.application, _environ("/", "")), n),
        ),
        ("whole hit through Django's WSGI handler", _each(lambda: call(app, _environ(path, query)), n)),
        (
            "a refused query (400, no DB) through the same handler: middleware, URL resolver, JSON error",
            _each(lambda: call(app, _environ(path, "w=abc")), n),
        ),
        (
            "ImageView alone, no middleware (RequestFactory request)",
            _each(lambda: view(factory.get(path, {"w": query.split("=")[1]}), original_id=original_id), n),
        ),
        ("  original_get + connection.close() (new SQLite connection per request)", _each(lookup_new_connection, n)),
        ("  original_get on an open connection", _each(lambda: selectors.original_get(original_id), n)),
        ("  Redis GET of the variant (redis_tier.get)", _each(lambda: redis_tier.get(original_id, variant.key), n)),
        (
            "  parse + variant_resolve (spec, cache key)",
            _each(lambda: variant_resolve(parse([("w", query.split("=")[1])]), original), n),
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--no-redis", action="store_true", help="disk-only cache (hit-disk)")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--pyinstrument", action="store_true", help="a call tree from pyinstrument instead of cProfile")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="darkroom-profile-"))
    real_stderr = sys.stderr
    sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - the request log would drown the report
    try:
        app = setup(data_dir, "" if args.no_redis else args.redis_url)
        from bench.images import camera_jpeg

        original_id = upload(app, camera_jpeg((1200, 800), orientation=1, nonce=str(time.time())))
        path, query = f"/image/{original_id}/", "w=500"
        for _ in range(5):
            _, headers, _ = call(app, _environ(path, query))
        tier = headers.get("x-cache")
        started = time.perf_counter()
        for _ in range(args.requests):
            call(app, _environ(path, query))
        plain = (time.perf_counter() - started) / args.requests
        print(f"{args.requests} hits ({tier}) of {path}?{query}: {plain * 1e3:.2f} ms each, unprofiled, one process")
        print("\nWhere the time of a hit goes (each part timed alone; fastest of 5 rounds, per call):")
        for label, seconds in breakdown(app, original_id, query, args.requests):
            print(f"  {seconds * 1e3:8.3f} ms  {label}")
        print()
        if args.pyinstrument:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0002)
            profiler.start()
            for _ in range(args.requests):
                call(app, _environ(path, query))
            profiler.stop()
            print(profiler.output_text(unicode=True, color=False, show_all=False))
        else:
            profile = cProfile.Profile()
            profile.enable()
            for _ in range(args.requests):
                call(app, _environ(path, query))
            profile.disable()
            out = io.StringIO()
            stats = pstats.Stats(profile, stream=out).strip_dirs()
            stats.sort_stats("cumulative").print_stats(args.top)
            stats.sort_stats("tottime").print_stats(args.top)
            print(out.getvalue())
    finally:
        sys.stderr.close()
        sys.stderr = real_stderr
        import shutil

        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
