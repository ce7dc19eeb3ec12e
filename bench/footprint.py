"""Memory bounded by configuration (issue 15): the RSS of the service's process tree (master, workers, their render
processes) per worker idle before any request and once the memory tier is full, and the tree after W1, W2 and W4,
against workers x (idle + memory tier + one render's peak) + 10 %."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

from bench.client import request
from bench.procs import Service

MARGIN = 1.10
PNG_WIDTHS = range(1200, 1176, -1)  # 24 lossless variants of the 1200x800 photo, 1.6 MB each: more than a tier


def _status_kb(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def children(pid: int) -> list[int]:
    with contextlib.suppress(OSError):
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return []


def tree(service: Service) -> dict[str, Any]:
    """RSS in KiB of the master, of each worker with its render processes, and of the whole tree."""
    master = service.process.pid
    workers = []
    for pid in children(master):
        with contextlib.suppress(OSError):
            renders = [_status_kb(child) for child in children(pid)]
            workers.append({"pid": pid, "rss_kb": _status_kb(pid), "render_kb": sum(renders), "renders": len(renders)})
    master_kb = _status_kb(master)
    total = master_kb + sum(w["rss_kb"] + w["render_kb"] for w in workers)
    return {"master_kb": master_kb, "workers": workers, "total_kb": total}


def idle(service: Service, workers: int, timeout: float = 30.0) -> dict[str, Any]:
    """The tree before any request, once each worker has started its first render process (as it does at boot)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = tree(service)
        if len(found["workers"]) == workers and all(w["renders"] >= 1 for w in found["workers"]):
            return found
        time.sleep(0.1)
    return tree(service)


def fill_memory_tier(service: Service, original_id: str, workers: int) -> dict[str, Any]:
    """Render variants worth more than a memory tier, then ask for each on new connections until every worker
    has served (and kept, least recently used out) more than its tier holds; the tree after."""
    paths = [f"/image/{original_id}/?w={width}&fmt=png" for width in PNG_WIDTHS]
    served = 0
    for _ in range(3 * workers):
        for path in paths:
            answer = request(service.port, "GET", path, timeout=60)
            if answer.status != 200:
                raise RuntimeError(f"{path} answered {answer.status}")
            served += len(answer.body)
    return {**tree(service), "variant_bytes": served // (3 * workers)}


def bound(results: dict[str, Any], workers: int, tier_bytes: int, render_peak_kb: int | None) -> dict[str, Any] | None:
    idle_tree = results.get("idle")
    if not idle_tree or not idle_tree["workers"] or render_peak_kb is None:
        return None
    per_worker = max(w["rss_kb"] + w["render_kb"] for w in idle_tree["workers"])
    limit = idle_tree["master_kb"] + workers * (per_worker + tier_bytes // 1024 + render_peak_kb)
    return {"per_worker_idle_kb": per_worker, "bound_kb": int(limit * MARGIN)}


def _mb(kb: float) -> str:
    return f"{kb / 1024:,.0f} MB"


def rows(results: dict[str, Any], w4: list[dict[str, Any]]) -> list[Any]:
    from bench.report import Row, _judge

    footprint = results.get("footprint")
    if not footprint:
        return []
    out = []
    for label, key in (("idle, before any request", "idle"), ("memory tier full", "tier_full")):
        found = footprint.get(key)
        if not found:
            continue
        for index, worker in enumerate(found["workers"], 1):
            other = f"worker {_mb(worker['rss_kb'])} + its render process {_mb(worker['render_kb'])}"
            out.append(Row("memory", f"worker {index} RSS, {label}", other=other))
    peaks = [case["worker"]["growth_kb"] for case in w4 if "growth_kb" in case.get("worker", {})]
    peak = max(peaks) if peaks else None
    tier = footprint.get("tier_bytes", 0)
    for name, key, workers in (
        ("W1", "after_w1", footprint.get("workers", 0)),
        ("W2", "after_w2", footprint.get("workers", 0)),
        ("W4", "after_w4", 1),
    ):
        found = footprint.get(key)
        if not found:
            continue
        base = footprint if key != "after_w4" else {"idle": footprint.get("idle_w4")}
        limit = bound(base, workers, tier, peak)
        row = Row("memory", f"process tree RSS after {name} ({workers} worker(s))", other=_mb(found["total_kb"]))
        if limit is not None:
            row.ratio = f"bound {_mb(limit['bound_kb'])}"
            row.target = "<= bound"
            row.result = _judge(found["total_kb"] / limit["bound_kb"], 1.0, at_least=False)
            row.other += (
                f"; master + {workers} x (idle {_mb(limit['per_worker_idle_kb'])} + tier {_mb(tier // 1024)}"
                f" + render peak {_mb(peak or 0)}) + 10 %"
            )
        out.append(row)
    return out


TIER_DEFAULT = 32 * 1024 * 1024  # server/settings.py's VARIANT_MEMORY_CACHE_BYTES when the environment sets none


def begin(service: Service, workers: int) -> dict[str, Any]:
    """The footprint's record for a run: the service's idle tree, before any request."""
    tier = int(service.env.get("VARIANT_MEMORY_CACHE_BYTES", TIER_DEFAULT))
    return {"workers": workers, "tier_bytes": tier, "idle": idle(service, workers)}


def after(results: dict[str, Any], key: str, service: Service) -> None:
    if "footprint" in results:
        results["footprint"][key] = tree(service)
