"""W5: uploads, hits, misses, API reads and bad requests at once, from a bounded pool of threads."""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from bench.client import request, upload
from bench.cold import summary
from bench.procs import Service

THREADS = 8
REQUEST_TIMEOUT = 60.0
# kind: (share of requests, statuses that are the right answer)
KINDS: dict[str, tuple[int, frozenset[int]]] = {
    "hit": (55, frozenset({200})),
    "miss": (10, frozenset({200})),
    "upload": (10, frozenset({200, 201})),
    "api-list": (5, frozenset({200})),
    "bad-query": (10, frozenset({400})),
    "unknown-id": (10, frozenset({404})),
}
BAD_QUERIES = ("w=abc", "w=+300", "w=3_00", "fmt=tiff", "rotate=45", "w=300&w=400", "zoom=2")


@dataclass
class Outcome:
    kind: str
    status: int | str  # an int, or "error: <exception>" when no HTTP answer came
    seconds: float
    tier: str


class Plan:
    """What each request of the mixed load asks for; thread-safe counters make every miss a new width."""

    def __init__(self, hit_paths: list[str], miss_ids: list[str], uploads: list[bytes]) -> None:
        self.hit_paths = hit_paths
        self.miss_ids = miss_ids
        self.uploads = uploads
        self._widths = itertools.count()
        self._uploads = itertools.count()
        self._mutex = threading.Lock()

    def next_miss(self) -> tuple[int, str]:
        """Odd widths (the hits' are even), each to JPEG then WebP: never a variant asked for before."""
        with self._mutex:
            n = next(self._widths)
        return 101 + 2 * (n // 2), ("jpeg", "webp")[n % 2]

    def next_upload(self) -> bytes:
        with self._mutex:
            return self.uploads[next(self._uploads) % len(self.uploads)]


def _one(service: Service, plan: Plan, kind: str, rng: random.Random) -> Outcome:
    port = service.port
    started = time.perf_counter()
    try:
        if kind == "upload":
            response = upload(port, plan.next_upload(), "mixed.jpg", timeout=REQUEST_TIMEOUT)
        elif kind == "hit":
            response = request(port, "GET", rng.choice(plan.hit_paths), timeout=REQUEST_TIMEOUT)
        elif kind == "miss":
            width, fmt = plan.next_miss()
            path = f"/image/{rng.choice(plan.miss_ids)}/?w={width}&fmt={fmt}"
            response = request(port, "GET", path, timeout=REQUEST_TIMEOUT)
        elif kind == "api-list":
            response = request(port, "GET", "/api/v1/originals/?page_size=24", timeout=REQUEST_TIMEOUT)
        elif kind == "bad-query":
            path = f"/image/{rng.choice(plan.miss_ids)}/?{rng.choice(BAD_QUERIES)}"
            response = request(port, "GET", path, timeout=REQUEST_TIMEOUT)
        else:
            response = request(port, "GET", f"/image/NoSuchId{rng.randrange(10**6)}/?w=300", timeout=REQUEST_TIMEOUT)
    except OSError as exc:
        return Outcome(kind, f"error: {type(exc).__name__}", time.perf_counter() - started, "")
    return Outcome(kind, response.status, response.seconds, response.headers.get("x-cache", ""))


def _worker(service: Service, plan: Plan, deadline: float, seed: int) -> list[Outcome]:
    rng = random.Random(seed)
    kinds, weights = list(KINDS), [share for share, _ in KINDS.values()]
    outcomes = []
    while time.monotonic() < deadline:
        outcomes.append(_one(service, plan, rng.choices(kinds, weights)[0], rng))
    return outcomes


def run(service: Service, plan: Plan, seconds: float) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        futures = [pool.submit(_worker, service, plan, deadline, seed) for seed in range(THREADS)]
        outcomes = [o for f in futures for o in f.result(timeout=seconds + REQUEST_TIMEOUT + 30)]
    wall = time.perf_counter() - started
    return aggregate(outcomes, wall)


def aggregate(outcomes: list[Outcome], wall: float) -> dict[str, Any]:
    by_kind: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        by_kind[outcome.kind].append(outcome)
    kinds = {}
    unexpected: Counter[str] = Counter()
    for kind, items in sorted(by_kind.items()):
        allowed = KINDS[kind][1]
        wrong = [o for o in items if o.status not in allowed]
        unexpected.update(f"{o.status} on {kind}" for o in wrong)
        kinds[kind] = {
            **summary([o.seconds for o in items]),
            "statuses": {str(k): v for k, v in Counter(o.status for o in items).items()},
            "x_cache": {k: v for k, v in Counter(o.tier for o in items).items() if k},
            "unexpected": len(wrong),
        }
    statuses = Counter(str(o.status) for o in outcomes)
    return {
        **summary([o.seconds for o in outcomes]),
        "wall_s": wall,
        "rps": len(outcomes) / wall if wall else 0.0,
        "statuses": dict(statuses),
        "status_5xx": sum(1 for o in outcomes if isinstance(o.status, int) and o.status >= 500),
        "no_answer": sum(1 for o in outcomes if isinstance(o.status, str)),
        "unexpected_4xx": sum(n for key, n in unexpected.items() if key.startswith("4")),
        "unexpected": dict(unexpected),
        "kinds": kinds,
    }
