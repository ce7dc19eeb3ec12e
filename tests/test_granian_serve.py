"""What server/granian_serve.py adds to granian's master beyond the trial's shared tests: a worker that cannot load the
application still stops the server (gunicorn's WORKER_BOOT_ERROR), where a worker that dies after loading it is
replaced however often (tests/faults: SIGKILLed mid-upload, then mid-render)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from . import server as live

pytestmark = pytest.mark.slow

FAILING_BOOT = """
from server import granian_serve

def cannot_load(target):
    raise RuntimeError("the application cannot be loaded")

granian_serve.main(loader=cannot_load)
"""


def test_a_worker_that_cannot_load_the_application_stops_granian(tmp_path: Path):
    env = {
        **os.environ,
        "DARKROOM_ENV": "local",
        "DATA_DIR": str(tmp_path / "data"),
        "PORT": str(live.free_port()),
        "WEB_CONCURRENCY": "1",
    }
    env.pop("DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", FAILING_BOOT],
        cwd=live.ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # granian's own lines and the workers' tracebacks, in order
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stdout[-2000:]
    assert "Worker crash loop detected" in done.stdout, done.stdout[-2000:]
    assert done.stdout.count("RuntimeError: the application cannot be loaded") == 2, "one respawn, then it stopped"
