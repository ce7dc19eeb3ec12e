"""gunicorn's configuration for `make run` and the container: bind, workers, and Prometheus across workers."""

import os
import shutil
from pathlib import Path
from typing import Any

from server.settings import TRUSTED_PROXIES

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
timeout = 60
graceful_timeout = 10
accesslog = None  # the request log is Django's own JSON line (server/middleware.py), with timings
# X-Forwarded-Proto sets the scheme only from these peers: the proxies Django trusts for the client's IP too.
forwarded_allow_ips = ",".join(str(network) for network in TRUSTED_PROXIES)


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
