"""`make soak`: a bounded mixed load against the service as `make run` starts it (4 workers, Redis), with
errors by status, latency percentiles, and each worker's memory before and after (loopback only)."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench import images, mixed
from bench.client import request, upload_id
from bench.inprocess import status_kb
from bench.procs import Fleet, Service, start_darkroom, start_redis, terminate_on_signals

WORKERS = 4  # make run's default WEB_CONCURRENCY
MAX_SECONDS = 1800


def memory(service: Service) -> dict[int, dict[str, int]]:
    return {
        pid: {"rss_kb": status_kb(pid, "VmRSS"), "hwm_kb": status_kb(pid, "VmHWM")} for pid in service.worker_pids()
    }


def prepare(service: Service, nonce: str) -> mixed.Plan:
    photos = [images.camera_jpeg((1600, 1200), orientation=1 + i % 8, nonce=f"{nonce}-{i}", seed=i) for i in range(24)]
    ids = [upload_id(service.port, photo, f"soak-{i}.jpg") for i, photo in enumerate(photos[:4])]
    hits = [f"/image/{i}/?{q}" for i in ids for q in ("w=640", "w=320&fmt=webp", "w=200&h=200&fit=cover")]
    for path in hits:  # rendered once; which worker answers later is the kernel's choice, so no tier is required
        status = request(service.port, "GET", path).status
        if status != 200:
            raise RuntimeError(f"{path} answered {status}")
    return mixed.Plan(hits, ids, photos[4:])


def report(result: dict[str, Any], before: dict[int, dict[str, int]], after: dict[int, dict[str, int]]) -> str:
    lines = [
        f"requests: {sum(result['statuses'].values())} in {result['wall_s']:.0f} s ({result['rps']:.0f} req/s)",
        f"statuses: {dict(sorted(result['statuses'].items()))}",
        f"5xx: {result['status_5xx']}, unanswered: {result['no_answer']}, wrong 4xx: {result['unexpected_4xx']}",
        f"latency: p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms, max {result['max_ms']:.1f} ms",
    ]
    for kind, data in result["kinds"].items():
        lines.append(
            f"  {kind:<11} n={sum(data['statuses'].values()):<6} "
            f"p50 {data['p50_ms']:7.1f} ms  p99 {data['p99_ms']:7.1f} ms"
            f"  {data['statuses']} {data['x_cache'] or ''}"
        )
    lines.append("worker memory (RSS before -> after, peak):")
    for pid in sorted(set(before) | set(after)):
        b, a = before.get(pid), after.get(pid)
        if b and a:
            lines.append(
                f"  pid {pid}: {b['rss_kb'] / 1024:.1f} -> {a['rss_kb'] / 1024:.1f} MiB, "
                f"peak {a['hwm_kb'] / 1024:.1f} MiB"
            )
        else:
            lines.append(f"  pid {pid}: {'started' if a else 'gone'} during the soak (a restart)")
    return "\n".join(lines)


def _time_is_up(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"time limit of {MAX_SECONDS} s")


def main() -> int:
    parser = argparse.ArgumentParser(prog="make soak", description=__doc__)
    parser.add_argument("--duration", type=int, default=180, help="seconds of mixed load (default 180)")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    args = parser.parse_args()
    run_dir = Path(tempfile.mkdtemp(prefix="darkroom-soak-"))
    print(f"soak: run directory {run_dir}", flush=True)
    signal.signal(signal.SIGALRM, _time_is_up)
    signal.alarm(MAX_SECONDS)
    with terminate_on_signals(), Fleet() as fleet:
        logs = run_dir / "logs"
        logs.mkdir()
        url = start_redis(fleet, args.redis_url, logs)
        service = start_darkroom(fleet, "darkroom-soak", run_dir / "data", logs, redis_url=url, workers=WORKERS)
        plan = prepare(service, uuid.uuid4().hex[:8])
        before = memory(service)
        print(f"soak: {mixed.THREADS} threads for {args.duration} s against {WORKERS} workers", flush=True)
        started = time.monotonic()
        result = mixed.run(service, plan, args.duration)
        after = memory(service)
        fleet.stop_all()
    text = report(result, before, after)
    (run_dir / "soak.json").write_text(json.dumps({"result": result, "before": before, "after": after}, indent=2))
    print(f"\nsoak finished in {time.monotonic() - started:.0f} s\n{text}\nresults: {run_dir / 'soak.json'}")
    failed = result["status_5xx"] or result["no_answer"] or result["unexpected_4xx"] or set(before) != set(after)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
