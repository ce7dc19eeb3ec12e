"""W4: the peak RSS growth of the process that renders (a worker's render process) while it renders from a
24 MP JPEG, and the worker's own, beside the same render in a fresh Python process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.client import request
from bench.inprocess import reset_peak, status_kb
from bench.procs import ROOT, Service


def _only_worker(service: Service, not_pid: int | None = None, timeout: float = 30.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = service.worker_pids()
        if len(pids) == 1 and pids[0] != not_pid:
            return pids[0]
        time.sleep(0.1)
    raise RuntimeError(f"{service.name}: expected one worker, found {service.worker_pids()}")


def fresh_worker(service: Service, warm_path: str) -> int:
    """Replace the (single) worker with a new one and warm it up with a small render of the same format:
    each measurement starts from a process whose allocator has not yet seen a 24 MP image."""
    old = _only_worker(service)
    os.kill(old, signal.SIGTERM)  # gunicorn's master starts a new worker in its place
    pid = _only_worker(service, not_pid=old)
    for _ in range(300):
        if request(service.port, "GET", "/healthz", timeout=10).status == 200:
            break
        time.sleep(0.1)
    warm = request(service.port, "GET", warm_path)
    if warm.status != 200:
        raise RuntimeError(f"warm-up {warm_path} answered {warm.status}")
    return pid


def _render_process(worker: int, timeout: float = 30.0) -> int:
    """The worker's render process (transforms/render_pool.py), started when the worker boots."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        children = Path(f"/proc/{worker}/task/{worker}/children").read_text().split()
        if len(children) == 1:
            return int(children[0])
        time.sleep(0.1)
    raise RuntimeError(f"worker {worker}: expected one render process")


def worker_growth(service: Service, path: str, warm_path: str) -> dict[str, Any]:
    pid = fresh_worker(service, warm_path)
    child = _render_process(pid)
    before = {}
    for process in (pid, child):
        reset = reset_peak(process)
        before[process] = status_kb(process, "VmRSS") if reset else status_kb(process, "VmHWM")
    response = request(service.port, "GET", path)
    if response.status != 200 or response.headers.get("x-cache") != "miss":
        raise RuntimeError(f"{path}: expected a 200 miss, got {response.status} {response.headers.get('x-cache')}")
    return {
        "growth_kb": status_kb(child, "VmHWM") - before[child],  # the process that rendered
        "worker_growth_kb": status_kb(pid, "VmHWM") - before[pid],
        "rss_kb": before[child],
        "bytes": len(response.body),
    }


def subprocess_growth(pipeline: str, source: Path, width: int, fmt: str) -> dict[str, Any]:
    argv = [sys.executable, "-m", "bench.inprocess", "peak", "--pipeline", pipeline]
    argv += ["--source", str(source), "--width", str(width), "--fmt", fmt]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"}
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def run(
    service: Service, original_id: str, warm_id: str, source: Path, cases: list[tuple[int, str]]
) -> list[dict[str, Any]]:
    """One row per (width, format): worker growth, textbook and darkroom-pipeline growth in a fresh process."""
    rows = []
    for index, (width, fmt) in enumerate(cases):
        warm_path = f"/image/{warm_id}/?w={40 + index}&fmt={fmt}"  # a new width each time: a render, not a hit
        worker = worker_growth(service, f"/image/{original_id}/?w={width}&fmt={fmt}", warm_path)
        rows.append(
            {
                "width": width,
                "fmt": fmt,
                "worker": worker,
                "textbook": subprocess_growth("textbook", source, width, fmt),
                "pipeline": subprocess_growth("darkroom", source, width, fmt),
            }
        )
    return rows
