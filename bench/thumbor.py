"""thumbor 7.8 beside Darkroom's cache hit, in the same run (issue 15).

thumbor is installed from PyPI into a venv of its own in the run directory (never the project's .venv), and
started in its best configuration: 2 processes, EXIF orientation respected, the file loader and its file result
storage. The same variant as W1's (`w=500` of the 1200x800 photo, `/unsafe/500x0/hit.jpg`) is rendered once,
then served from the result storage; wrk (W1's threads and connections) measures it and Darkroom's memory hit in
interleaved rounds, and the table prints Darkroom / thumbor (the goal: >= 4).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench import hit, wrk
from bench.client import request
from bench.procs import HOST, Service, free_port

if TYPE_CHECKING:
    from bench.report import Row
    from bench.run import Bench

VERSION = "7.8.0"
PROCESSES = 2
TARGET = 4.0  # Darkroom's hit >= 4 x thumbor's (issue 15)
QUALITY = 82  # Darkroom's JPEG default, so both answer about the same bytes
CONF = """\
LOADER = 'thumbor.loaders.file_loader'
FILE_LOADER_ROOT_PATH = {originals!r}
STORAGE = 'thumbor.storages.no_storage'
RESULT_STORAGE = 'thumbor.result_storages.file_storage'
RESULT_STORAGE_FILE_STORAGE_ROOT_PATH = {results!r}
RESULT_STORAGE_STORES_UNSAFE = True
RESULT_STORAGE_EXPIRATION_SECONDS = 0
ALLOW_UNSAFE_URL = True
RESPECT_ORIENTATION = True
QUALITY = {quality}
"""


def install(work: Path) -> Path:
    """thumbor==VERSION in `work`/venv (made with this interpreter's base Python); its `thumbor` script."""
    venv = work / "venv"
    script = venv / "bin" / "thumbor"
    if not script.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
        done = subprocess.run(
            [str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check", f"thumbor=={VERSION}"],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"pip install thumbor=={VERSION} failed: {(done.stderr or done.stdout)[-800:]}")
    version = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60, check=False)
    if VERSION not in version.stdout + version.stderr:
        raise RuntimeError(f"{script} --version says {version.stdout + version.stderr!r}, not {VERSION}")
    return script


def start(bench: Bench, script: Path, work: Path, picture: bytes) -> Service:
    originals, results = work / "originals", work / "results"
    originals.mkdir(parents=True, exist_ok=True)
    results.mkdir(parents=True, exist_ok=True)
    (originals / "hit.jpg").write_bytes(picture)
    conf = work / "thumbor.conf"
    conf.write_text(CONF.format(originals=str(originals), results=str(results), quality=QUALITY))
    port = free_port()
    argv = [str(script), "-i", HOST, "-p", str(port), "-c", str(conf), "-l", "warning", "--processes", str(PROCESSES)]
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    return bench.fleet.spawn(
        "thumbor", argv, env=env, log=bench.logs / "thumbor.log", port=port, probe="/healthcheck", data_dir=work
    )


def stop(bench: Bench, service: Service) -> None:
    """tornado's forked processes outlive their parent's SIGTERM: end them too."""
    children = service.worker_pids()
    bench.fleet.stop(service)
    for pid in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)


def warm(service: Service, path: str, results: Path) -> int:
    """Render the variant, then wait until the result storage holds it; its size in bytes."""
    first = request(service.port, "GET", path, timeout=60)
    if first.status != 200:
        raise RuntimeError(f"thumbor answered {first.status} for {path}: {first.body[:200]!r}")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if any(p.is_file() for p in results.rglob("*")):
            return len(first.body)
        time.sleep(0.1)
    raise RuntimeError(f"thumbor's result storage ({results}) is still empty after rendering {path}")


def run(bench: Bench, darkroom: Service, darkroom_path: str, picture: bytes) -> dict[str, Any]:
    """Install and start thumbor, then measure both hits in interleaved wrk rounds."""
    work = bench.dir / "thumbor"
    bench.step(f"thumbor {VERSION}: installing it from PyPI into {work / 'venv'}")
    script = install(work)
    service = start(bench, script, work, picture)
    try:
        path = "/unsafe/500x0/hit.jpg"
        size = warm(service, path, work / "results")
        for _ in range(PROCESSES * 4):  # each process reads the stored result at least once before wrk
            request(service.port, "GET", path)
        hit.warm_hit(darkroom, darkroom_path, "hit-memory", attempts=2)
        subjects = [
            hit.Subject(f"darkroom hit-memory ({darkroom.name})", darkroom, darkroom_path),
            hit.Subject(f"thumbor {VERSION} result storage (x{PROCESSES})", service, path),
        ]
        rounds, seconds = bench.args.wrk_rounds, bench.args.wrk_seconds
        bench.step(f"thumbor: {rounds} interleaved rounds of {seconds} s of wrk, Darkroom's hit and thumbor's")
        runs = hit.measure(
            subjects, rounds=rounds, seconds=seconds, progress=lambda m: bench.step(m.replace("W1 hit", "thumbor"))
        )
    finally:
        stop(bench, service)
    return {"version": VERSION, "processes": PROCESSES, "bytes": size, "connections": wrk.CONNECTIONS, "runs": runs}


def rows(result: dict[str, Any]) -> list[Row]:
    from bench.report import Row, _judge, _latency

    if not result.get("runs"):
        return []
    darkroom, thumbor = result["runs"]
    out = []
    for run in (darkroom, thumbor):
        other = f"rounds {' / '.join(f'{r:,.0f}' for r in run['rps_rounds'])} req/s"
        if run.get("cpu_ms_per_request") is not None:
            other += f"; {run['cpu_ms_per_request']:.2f} ms CPU/req"
        if run.get("non_2xx") or run.get("socket_errors"):
            other += f"; {run['non_2xx']} non-2xx, {run['socket_errors']} socket errors"
        out.append(Row("thumbor", run["subject"], run["rps"], **_latency(run), other=other))
    ratio = darkroom["rps"] / thumbor["rps"]
    out[0].ratio = f"{ratio:.2f} x thumbor"
    out[0].target, out[0].result = f">= {TARGET:.0f}", _judge(ratio, TARGET, at_least=True)
    out[1].other += f"; {result['bytes']:,} B, {result['processes']} processes, file result storage"
    return out
