"""granian, configured as server/gunicorn.py configures gunicorn, for the server trial of issue 15 (README, "Why
gunicorn"): `python -m server.granian_serve` serves server.wsgi:application on HOST:PORT with WEB_CONCURRENCY worker
processes of WEB_THREADS threads each.

What gunicorn's configuration does and how it is done here:
- preload_app: the application is imported here, in the master, before granian forks its workers (granian forks on
  Linux), so they share its memory;
- on_starting: a fresh PROMETHEUS_MULTIPROC_DIR;
- post_fork and post_worker_init: each worker closes inherited database connections and starts its first render
  process before it serves (the loader below runs in the worker);
- max_requests: granian has none. A worker that ends itself is "failed" to granian's master, and two such ends within
  5.5 s stop the whole server (its crash-loop guard), so recycling by request count cannot be built on it;
  WORKER_MAX_RSS_MB (granian's --workers-max-rss) replaces a worker by its memory instead;
- timeout: granian has no worker timeout; the render time budget (transforms/render_pool.py) bounds renders.
"""

import importlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

THREADS_DEFAULT = 32  # as server/gunicorn.py's threads


def threads() -> int:
    return int(os.environ.get("WEB_THREADS", str(THREADS_DEFAULT)))


def load_application(target: str) -> Callable[..., Any]:
    """Runs in each worker after the fork: the preloaded application, with what gunicorn's hooks do."""
    from django.db import connections

    from server.wsgi import application
    from transforms.render_pool import render_pool

    connections.close_all()
    try:
        render_pool.warm()
    except Exception:
        import logging

        logging.getLogger("darkroom").exception("could not start a render process ahead of the first render")
    return application


def main() -> None:
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        shutil.rmtree(directory, ignore_errors=True)
        Path(directory).mkdir(parents=True, exist_ok=True)

    from granian.constants import Interfaces
    from granian.server import Server

    importlib.import_module("server.wsgi")  # preload: the application, imported once before the fork

    workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
    options: dict[str, Any] = {}
    max_rss = os.environ.get("WORKER_MAX_RSS_MB")
    if max_rss:
        options.update(workers_max_rss=int(max_rss), rss_sample_interval=5)
    granian_server = Server(
        "server.wsgi:application",
        address=os.environ.get("HOST", "127.0.0.1"),
        port=int(os.environ.get("PORT", "8000")),
        interface=Interfaces.WSGI,
        workers=workers,
        blocking_threads=threads(),
        backpressure=threads(),
        websockets=False,
        log_access=False,  # the request log is Django's own line (server/middleware.py)
        respawn_failed_workers=True,
        workers_kill_timeout=10,  # gunicorn's graceful_timeout
        **options,
    )
    granian_server.serve(target_loader=load_application)


if __name__ == "__main__":
    main()
