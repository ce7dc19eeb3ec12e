"""gunicorn's configuration for `make run` and the container: bind, workers, and Prometheus across workers."""

import json
import os
import shutil
import socket
from pathlib import Path
from typing import Any

from gunicorn import util

from server.settings import DATA_DIR, TRUSTED_PROXIES

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
# Threads, not one sync worker per request: a sync worker is held for as long as its client takes to send its body,
# so four clients uploading at 1 KB/s stopped every hit on four workers (tests/test_slow_clients.py). A gthread worker
# waits for a request's first bytes in its event loop and reads a body in one of its threads: WEB_THREADS slow uploads
# per worker are harmless. Renders stay bounded per worker (MAX_CONCURRENT_RENDERS), each in a render process.
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "32"))
timeout = 60
graceful_timeout = 10
accesslog = None  # the request log is Django's own JSON line (server/middleware.py), with timings
# X-Forwarded-Proto sets the scheme only from these peers: the proxies Django trusts for the client's IP too.
forwarded_allow_ips = ",".join(str(network) for network in TRUSTED_PROXIES)
# The application is loaded once, in the master, and the workers are forked from it: they share its memory
# (Django, Pillow, the app) and a new worker starts in milliseconds instead of a second of imports.
preload_app = True
# A worker is replaced after this many requests (plus up to a tenth more, so they do not all go at once):
# whatever fragmentation a long-lived process gathers cannot grow without bound. Renders, which fragment
# memory most, run in render processes that replace themselves (transforms/render_pool.py); a worker
# only serves, so the bound can be high: at 5000 a hot server replaced a worker every second (make bench).
max_requests = int(os.environ.get("MAX_REQUESTS", "100000"))
max_requests_jitter = max_requests // 10
# gunicornc's control socket, one per server beside its data: gunicorn's default, ~/.gunicorn/gunicorn.ctl, is one
# for all of a user's servers, so a second `make run` took it over, and removed it when it stopped. A Unix socket's
# path is at most 107 bytes; under a DATA_DIR too deep for that there is none (the command line may still name one).
CONTROL_SOCKET = DATA_DIR / "gunicorn.ctl"
if len(os.fsencode(CONTROL_SOCKET)) <= 107:
    control_socket = str(CONTROL_SOCKET)
else:
    control_socket_disable = True


def on_starting(server: Any) -> None:
    """Give the workers a fresh shared directory for their Prometheus counters."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        shutil.rmtree(directory, ignore_errors=True)
        Path(directory).mkdir(parents=True, exist_ok=True)


def child_exit(server: Any, worker: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def post_fork(server: Any, worker: Any) -> None:
    """A worker must not share a database connection with the master or its siblings (preload_app)."""
    from django.conf import settings

    if settings.configured:  # not for another WSGI app run with this configuration (bench/bare_wsgi.py)
        from django.db import connections

        connections.close_all()


def post_worker_init(worker: Any) -> None:
    """Start the worker's first render process now, so the first cache miss does not wait for its imports."""
    from django.conf import settings

    if not settings.configured:
        return
    from transforms.render_pool import render_pool

    try:
        render_pool.warm()
    except Exception:  # a render process can still be started on demand
        worker.log.exception("could not start a render process ahead of the first render")


# gunicorn's own refusals, made before Django sees a request (a request line over limit_request_line, headers over
# their limits, bytes that are not HTTP), in the house's JSON shape (server.errors.error_payload) instead of its HTML
# page. gunicorn writes them with util.write_error from the worker (workers/base.py, handle_error); it has no hook of
# its own for the body, so this configuration replaces that one function for the master and the workers it forks.
_REFUSALS = {
    400: ("bad_request", "The request is not valid HTTP"),
    403: ("forbidden", "The request is refused"),
    414: (
        "uri_too_long",
        "The request line (method, URL, version) is longer than this server reads",
    ),
    417: ("expectation_failed", "The request's Expect header cannot be met"),
    431: ("headers_too_large", "The request's headers are more or longer than this server reads"),
    501: ("not_implemented", "The request uses a transfer coding this server does not read"),
    500: ("server_error", "The server could not answer this request"),
}


def write_json_error(sock: socket.socket, status_int: int, reason: str, mesg: str) -> None:
    code, message = _REFUSALS.get(status_int, _REFUSALS[500])
    body = json.dumps({"error": f"{message}: {mesg}." if mesg else f"{message}.", "code": code}, separators=(",", ":"))
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
        f"Cache-Control: no-store\r\nContent-Length: {len(body.encode())}\r\n\r\n"
    )
    util.write_nonblock(sock, head.encode("latin-1") + body.encode())


util.write_error = write_json_error
