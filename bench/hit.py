"""W1: one cached variant under wrk, from Redis and from disk, beside a bare WSGI app and nginx with the same bytes.

Every subject is started first, then measured in interleaved rounds (A B C … A B C …), so that load from
other processes on a shared machine falls on all of them alike instead of on whichever ran at the wrong time.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from bench import wrk
from bench.client import request, upload_id
from bench.procs import Fleet, Service, start_bare, start_darkroom, start_nginx
from bench.report import BARE_DISK, BARE_HEADERS, BARE_REDIS


@dataclass
class HitTarget:
    """A variant URL already rendered and cached on `service`, and the bytes it answers with."""

    service: Service
    path: str
    body: bytes
    content_type: str
    tier: str


BARE_REDIS_KEY = "darkroom:bench:bare-redis"  # holds the hit's bytes during W1 (and expires within the hour)


def bare_redis_key(run_dir: Path) -> str:
    """The run's own key: two runs sharing a Redis (two engineers' benches) must not serve each other's bytes."""
    return f"{BARE_REDIS_KEY}:{run_dir.name}"


@dataclass
class Subject:
    name: str
    service: Service
    path: str
    redis_url: str = ""  # the Redis its hits read: that server's CPU is measured beside the service's


def redis_cpu_seconds(url: str) -> float:
    """redis-server's own CPU time so far (INFO cpu: user + system, all its threads)."""
    info = redis.Redis.from_url(url, socket_timeout=2).info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def warm_hit(service: Service, path: str, expected_tier: str, attempts: int = 6, limit: int = 200) -> HitTarget:
    """Render the variant, then request it until `attempts` answers in a row come from `expected_tier`.

    Each worker's first hit fills its memory tier from Redis or disk, and which worker accepts a
    connection is up to the kernel, so the run of expected answers may take a while to start.
    """
    first = request(service.port, "GET", path)
    if first.status != 200:
        raise RuntimeError(f"{path} answered {first.status}: {first.body[:200]!r}")
    tiers: list[str] = []
    for _ in range(limit):
        tiers.append(request(service.port, "GET", path).headers.get("x-cache", "?"))
        if tiers[-attempts:] == [expected_tier] * attempts:
            return HitTarget(service, path, first.body, first.headers.get("content-type", "image/jpeg"), expected_tier)
    raise RuntimeError(f"{path} on {service.name}: expected X-Cache {expected_tier}, got {tiers[-attempts * 2 :]}")


def _same_bytes(service: Service, path: str, body: bytes) -> None:
    answer = request(service.port, "GET", path)
    if answer.status != 200 or answer.body != body:
        raise RuntimeError(f"{service.name} does not answer the variant's bytes at {path}")


def floors(
    fleet: Fleet, target: HitTarget, run_dir: Path, *, server: str, workers: int, redis_url: str
) -> list[Subject]:
    """The bare app on `server`: alone (three headers: the server's own floor), and the floors of a hit, which answer
    with a hit's headers: from memory, with one Redis GET of the hit's bytes, with one read of a file of them."""
    body_dir = run_dir / "static"
    body_dir.mkdir(parents=True, exist_ok=True)
    body = body_dir / "hit.bin"
    body.write_bytes(target.body)
    deep = run_dir / "floor" / "variants" / "AAAAAAAAAAAA" / f"{'0' * 64}.jpeg"  # as deep as a variant's file
    deep.parent.mkdir(parents=True, exist_ok=True)
    deep.write_bytes(target.body)
    redis.Redis.from_url(redis_url).set(bare_redis_key(run_dir), target.body, ex=3600)
    logs, size = run_dir / "logs", f"{server} x{workers}"
    subjects = []
    for label, options in (
        ("bare WSGI", {}),
        (BARE_HEADERS, {"headers": True}),
        (BARE_REDIS, {"redis": (redis_url, bare_redis_key(run_dir))}),
        (BARE_DISK, {"disk": deep}),
    ):
        name = f"bare-{server}-{label.split()[-1].lower()}" if options else f"bare-{server}"
        bare = start_bare(fleet, name, body, target.content_type, logs, server=server, workers=workers, **options)
        _same_bytes(bare, "/", target.body)
        subjects.append(Subject(f"{label} ({size})", bare, "/", redis_url=redis_url if "redis" in options else ""))
    return subjects


def darkroom_tiers(
    fleet: Fleet, run_dir: Path, picture: bytes, query: str, *, server: str, workers: int, redis_url: str
) -> tuple[list[Subject], HitTarget]:
    """darkroom's three hits on `server`, each from an instance of its own (fresh DATA_DIRs): from memory as it runs,
    from Redis with the memory tier off, from disk with no Redis and the memory tier off."""
    subjects, target = [], None
    size = f"{server} x{workers}"
    for tier, url, memory_tier, title in (
        ("hit-memory", redis_url, True, f"darkroom hit-memory ({size})"),
        ("hit-redis", redis_url, False, f"darkroom hit-redis, memory tier off ({size})"),
        ("hit-disk", "", False, f"darkroom hit-disk, no Redis, memory tier off ({size})"),
    ):
        name = f"darkroom-{server}-{tier}"
        service = start_darkroom(
            fleet,
            name,
            run_dir / f"data-{name}",
            run_dir / "logs",
            redis_url=url,
            workers=workers,
            server=server,
            memory_tier=memory_tier,
        )
        original_id = upload_id(service.port, picture, "hit.jpg")
        warmed = warm_hit(service, f"/image/{original_id}/?{query}", tier)
        if target is not None and warmed.body != target.body:
            raise RuntimeError(f"{name} rendered other bytes for the same variant")
        target = target or warmed
        subjects.append(Subject(title, service, warmed.path, redis_url=url if tier == "hit-redis" else ""))
    assert target is not None
    return subjects, target


def references(
    fleet: Fleet,
    target: HitTarget,
    run_dir: Path,
    *,
    workers: int,
    redis_url: str,
    judged: list[str],
    main_server: str,
    picture: bytes,
    query: str,
) -> list[Subject]:
    """The floors on each judged server; darkroom's tiers on each judged server but `main_server` (run.py starts
    those, as make run); nginx."""
    subjects = []
    for server in judged:
        if server != main_server:
            subjects += darkroom_tiers(
                fleet, run_dir, picture, query, server=server, workers=workers, redis_url=redis_url
            )[0]
        subjects += floors(fleet, target, run_dir, server=server, workers=workers, redis_url=redis_url)
    body_dir = run_dir / "static"
    nginx = start_nginx(fleet, body_dir, target.content_type, run_dir / "nginx", workers=workers, probe="/hit.bin")
    _same_bytes(nginx, "/hit.bin", target.body)
    subjects.append(Subject(f"nginx static file (x{workers})", nginx, "/hit.bin"))
    return subjects


def measure(subjects: list[Subject], *, rounds: int, seconds: int, progress: Any = print) -> list[dict[str, Any]]:
    """`rounds` interleaved wrk runs of `seconds` each per subject; rps over all rounds, median p50/p99."""
    runs: dict[str, list[wrk.WrkResult]] = {s.name: [] for s in subjects}
    cpu: dict[str, list[int]] = {s.name: [0, 0] for s in subjects}  # ns on a CPU, ns runnable but waiting
    redis_cpu: dict[str, float] = {s.name: 0.0 for s in subjects}
    for number in range(rounds):
        progress(f"W1 hit: round {number + 1} of {rounds}, {seconds} s of wrk per subject")
        for subject in subjects:
            redis_before = redis_cpu_seconds(subject.redis_url) if subject.redis_url else 0.0
            before = subject.service.sched_ns()
            runs[subject.name].append(wrk.run(subject.service.url(subject.path), seconds))
            after = subject.service.sched_ns()
            if subject.redis_url:
                redis_cpu[subject.name] += redis_cpu_seconds(subject.redis_url) - redis_before
            cpu[subject.name][0] += after[0] - before[0]
            cpu[subject.name][1] += after[1] - before[1]
    rows = []
    for name, results in runs.items():
        total_seconds = sum(r.seconds for r in results)
        requests = sum(r.requests for r in results)
        on_cpu, waiting = cpu[name]
        rows.append(
            {
                "subject": name,
                "url": results[0].url,
                "seconds": total_seconds,
                "requests": requests,
                # Server CPU per request hardly moves with other load on the machine, unlike req/s.
                "cpu_ms_per_request": on_cpu / 1e6 / requests if requests else None,
                "cpu_ns": on_cpu,
                # The Redis server's CPU while the subject was loaded (it answers nothing else meanwhile).
                "redis_cpu_ms_per_request": redis_cpu[name] * 1e3 / requests if requests and redis_cpu[name] else None,
                "cpu_wait_ns": waiting,
                # Of the time the server's threads were runnable, the share they waited for a CPU.
                "runqueue_share": waiting / (on_cpu + waiting) if on_cpu + waiting else 0.0,
                "rps": sum(r.rps * r.seconds for r in results) / total_seconds,
                "mean_ms": statistics.median(r.mean_ms for r in results),
                "p50_ms": statistics.median(r.p50_ms for r in results),
                "p99_ms": statistics.median(r.p99_ms for r in results),
                "rps_rounds": [round(r.rps, 1) for r in results],
                "non_2xx": sum(r.non_2xx for r in results),
                "socket_errors": sum(r.socket_errors for r in results),
            }
        )
    return rows
