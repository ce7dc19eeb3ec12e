"""W7 scale-out (issue 13's "W6"; W6 is the smart-crop study): what an original in the object store costs a cold
render, and hits and renders per second with one host against three on this machine.

It starts the three-host cluster of tests/cluster/hosts.py (PostgreSQL, Redis db 14, moto's S3 server) and one
more host as `make run` runs it, originals on its disk; every figure is a ratio measured in this run. The cores are
shared by all the hosts, so three hosts cannot be faster than one here: the only target is no 5xx.
`python -m bench.scaleout [--quick]` runs it alone.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.cold import summary
from bench.images import jpeg, photo
from tests import server as live
from tests.cluster.hosts import REDIS, start_cluster


def _get(host: live.Server, path: str) -> tuple[int, str, float]:
    started = time.perf_counter()
    conn = http.client.HTTPConnection(host.host, host.port, timeout=60)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status, response.getheader("X-Cache", ""), time.perf_counter() - started
    finally:
        conn.close()


def _upload(host: live.Server, data: bytes) -> str:
    status, _, body = host.upload(data)
    if status not in (200, 201):
        raise RuntimeError(f"upload answered {status}: {body[:200]!r}")
    return str(json.loads(body)["id"])


def cold_extra(local: live.Server, remote: live.Server, source: bytes, count: int) -> dict[str, Any]:
    """New widths rendered one at a time on each, interleaved: the original from the disk against the bucket."""
    local_id, remote_id = _upload(local, source), _upload(remote, source)
    times: dict[str, list[float]] = {"disk": [], "bucket": []}
    for _ in range(2):  # every worker's render process started, the bucket's client made
        _get(local, f"/image/{local_id}/?w=31"), _get(remote, f"/image/{remote_id}/?w=31")
    for i in range(count):
        width = 200 + 10 * i
        for name, host, original in (("disk", local, local_id), ("bucket", remote, remote_id)):
            status, tier, seconds = _get(host, f"/image/{original}/?w={width}&fmt=webp")
            if status != 200 or tier != "miss":
                raise RuntimeError(f"cold render on {name} answered {status} {tier}")
            times[name].append(seconds)
    disk, bucket = summary(times["disk"]), summary(times["bucket"])
    return {"disk": disk, "bucket": bucket, "extra_ms": bucket["mean_ms"] - disk["mean_ms"]}


def load(hosts: list[live.Server], paths: list[str], seconds: float, threads: int) -> dict[str, Any]:
    """`threads` clients, each request to the next host in turn, for `seconds`: req/s and statuses."""
    stop = time.monotonic() + seconds
    statuses: Counter[int] = Counter()
    latencies: list[float] = []
    lock = threading.Lock()
    counter = [0]

    def client() -> None:
        while time.monotonic() < stop:
            with lock:
                n = counter[0]
                counter[0] += 1
            try:
                status, _, took = _get(hosts[n % len(hosts)], paths[n % len(paths)])
            except OSError:
                status, took = 599, 0.0
            with lock:
                statuses[status] += 1
                latencies.append(took)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for _ in range(threads):
            pool.submit(client)
    wall = time.perf_counter() - started
    return {
        **summary(latencies),
        "rps": sum(statuses.values()) / wall,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "status_5xx": sum(v for k, v in statuses.items() if k >= 500),
    }


def run(quick: bool = False) -> dict[str, Any]:
    os.environ.setdefault("RENDER_RATE", "100000/m")  # one client (this) makes every render
    root = Path(tempfile.mkdtemp(prefix="darkroom-bench-w7-"))
    cluster = start_cluster(root)
    local = live.start(root / "local", redis_url=REDIS, workers=2)
    seconds, cold_count = (5.0, 6) if quick else (15.0, 20)
    try:
        nonce = os.urandom(8).hex()  # new bytes each run: nothing is a hit left over from another
        source = jpeg(photo((2400, 1600)), nonce=nonce)
        results: dict[str, Any] = {"cold": cold_extra(local, cluster.hosts[0], source, cold_count)}
        hit_id = _upload(cluster.hosts[0], jpeg(photo((1200, 800)), nonce=nonce))
        hit = f"/image/{hit_id}/?w=500"
        for host in cluster.hosts:
            for _ in range(4):
                _get(host, hit)
        results["hits_one"] = load(cluster.hosts[:1], [hit], seconds, 8)
        results["hits_three"] = load(cluster.hosts, [hit], seconds, 8)
        render_id = _upload(cluster.hosts[0], source)
        one = [f"/image/{render_id}/?w={w}&fmt=jpeg" for w in range(100, 2100, 3)]
        three = [f"/image/{render_id}/?w={w}&fmt=jpeg" for w in range(101, 2100, 3)]
        results["renders_one"] = load(cluster.hosts[:1], one, seconds, 4)
        results["renders_three"] = load(cluster.hosts, three, seconds, 4)
        return results
    finally:
        local.stop()
        cluster.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    print(json.dumps(run(parser.parse_args().quick), indent=2))


if __name__ == "__main__":
    main()
