"""W2 (every request a new variant, over HTTP and in-process) and W3 (a herd on one cold variant)."""

from __future__ import annotations

import statistics
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench import inprocess
from bench.client import Response, request, server_timing_stages, server_timing_total
from bench.procs import Service

FORMATS = ("jpeg", "webp")


def summary(seconds: list[float]) -> dict[str, float]:
    """mean, p50, p99 (nearest rank) and max, in milliseconds."""
    if not seconds:
        return {"n": 0, "mean_ms": float("nan"), "p50_ms": float("nan"), "p99_ms": float("nan"), "max_ms": float("nan")}
    ordered = sorted(seconds)

    def rank(p: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(p * len(ordered) + 0.5) - 1))] * 1000

    return {
        "n": len(ordered),
        "mean_ms": statistics.fmean(ordered) * 1000,
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": rank(0.99),
        "max_ms": ordered[-1] * 1000,
    }


def widths(first: int, count: int, step: int = 100) -> list[int]:
    return [first + step * i for i in range(count)]


def _http_summary(
    responses: list[Response], wall: float, concurrency: int, cpu: list[float] | None = None
) -> dict[str, Any]:
    tiers = Counter(r.headers.get("x-cache", f"status {r.status}") for r in responses)
    server_totals = [t for r in responses if (t := server_timing_total(r.headers.get("server-timing", ""))) is not None]
    stages = [t for r in responses if (t := server_timing_stages(r.headers.get("server-timing", ""))) is not None]
    return {
        **summary([r.seconds for r in responses]),
        "concurrency": concurrency,
        "wall_s": wall,
        "renders_per_s": len(responses) / wall,
        "x_cache": dict(tiers),
        "non_200": [r.status for r in responses if r.status != 200],
        "server_total_mean_ms": statistics.fmean(server_totals) * 1000 if server_totals else None,
        # The render process's stages (decode, transform, encode): the server's time beside them is serving a miss.
        "render_stages_mean_ms": statistics.fmean(stages) * 1000 if stages else None,
        "mean_bytes": statistics.fmean(len(r.body) for r in responses),
        # CPU of the whole service tree (workers, render processes, every thread) over each request, at concurrency 1
        "server_cpu_mean_ms": statistics.fmean(cpu) * 1000 if cpu else None,
    }


def http_cold(service: Service, original_id: str, fmt: str, ws: list[int], concurrency: int) -> dict[str, Any]:
    """GET one new width per request from `concurrency` threads; every answer should be a 200 miss."""

    def one(width: int) -> Response:
        return request(service.port, "GET", f"/image/{original_id}/?w={width}&fmt={fmt}")

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        responses = list(pool.map(one, ws))
    return _http_summary(responses, time.perf_counter() - started, concurrency)


def interleaved(
    service: Service,
    original_id: str,
    fmt: str,
    ws: list[int],
    source: bytes,
    extra: dict[str, inprocess.Renderer] | None = None,
) -> dict[str, Any]:
    """Concurrency 1: for each width, one HTTP request, then the in-process renders (the anchor, textbook Pillow,
    pipeline.render and any `extra`) in this process; interleaved, so that other load on the machine weighs on all
    alike."""
    renderers = {**inprocess.PIPELINES, **(extra or {})}
    for renderer in renderers.values():
        renderer(source, ws[0] + 7, fmt)  # untimed warm-up of this process's decoders and encoders
    responses: list[Response] = []
    seconds: dict[str, list[float]] = {name: [] for name in renderers}
    cpu: dict[str, list[float]] = {name: [] for name in renderers}
    sizes: dict[str, list[int]] = {name: [] for name in renderers}
    served_cpu: list[float] = []
    errors: dict[str, str] = {}
    wall = 0.0
    for width in ws:
        tree = service.tree_cpu_ns()
        started = time.perf_counter()
        responses.append(request(service.port, "GET", f"/image/{original_id}/?w={width}&fmt={fmt}"))
        wall += time.perf_counter() - started
        served_cpu.append((service.tree_cpu_ns() - tree) / 1e9)
        for name, renderer in renderers.items():
            if name in errors:
                continue
            try:
                started, started_cpu = time.perf_counter(), time.process_time()
                sizes[name].append(len(renderer(source, width, fmt)))
                seconds[name].append(time.perf_counter() - started)
                cpu[name].append(time.process_time() - started_cpu)
            except Exception as exc:  # noqa: BLE001 - darkroom's API may move under us; report, don't stop
                errors[name] = f"{type(exc).__name__}: {exc}"
    result: dict[str, Any] = {"http_c1": _http_summary(responses, wall, 1, served_cpu)}
    for name in renderers:
        result[name] = (
            {"error": errors[name]}
            if name in errors
            else {
                **summary(seconds[name]),
                "cpu_mean_ms": statistics.fmean(cpu[name]) * 1000,
                "mean_bytes": statistics.fmean(sizes[name]),
            }
        )
    return result


def warm_workers(service: Service, original_id: str, workers: int) -> None:
    """One render per format and worker, at widths W2 never asks for, so no worker pays its first-use costs."""
    ws = [33 + i for i in range(workers * 2)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for fmt in FORMATS:
            list(pool.map(lambda w, f=fmt: request(service.port, "GET", f"/image/{original_id}/?w={w}&fmt={f}"), ws))


def herd(service: Service, path: str, clients: int = 50) -> dict[str, Any]:
    """`clients` threads released together on one uncached variant: how many rendered, how long for all."""
    barrier = threading.Barrier(clients + 1)
    finished: list[float] = []

    def one() -> Response:
        barrier.wait(timeout=30)
        response = request(service.port, "GET", path, timeout=120)
        finished.append(time.perf_counter())
        return response

    with ThreadPoolExecutor(max_workers=clients) as pool:
        futures = [pool.submit(one) for _ in range(clients)]
        barrier.wait(timeout=30)
        started = time.perf_counter()
        responses = [f.result(timeout=180) for f in futures]
    tiers = Counter(r.headers.get("x-cache", f"status {r.status}") for r in responses)
    return {
        "clients": clients,
        "renders": tiers.get("miss", 0),
        "x_cache": dict(tiers),
        "statuses": dict(Counter(r.status for r in responses)),
        "distinct_bodies": len({r.body for r in responses}),
        "all_answered_ms": (max(finished) - started) * 1000,
        **{k: v for k, v in summary([r.seconds for r in responses]).items() if k != "n"},
    }
