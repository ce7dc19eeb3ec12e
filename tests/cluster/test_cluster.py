"""Three app hosts sharing PostgreSQL, Redis and an S3-compatible bucket (tests/cluster/hosts.py): what one host does
every host sees, one render per variant across them, a delete gone everywhere within a second, a host killed
mid-render, and the object store away and back."""

import contextlib
import hashlib
import io
import json
import os
import re
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from PIL import Image

from tests import server as live
from transforms.tests import images

from .hosts import REDIS, Cluster, start_cluster

pytestmark = [pytest.mark.cluster, pytest.mark.slow]
ADMIN = ("cluster-admin", "cluster-admin-password-1")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    running = start_cluster(tmp_path_factory.mktemp("cluster"))
    try:
        env = {
            **os.environ,
            "DARKROOM_ENV": "local",
            "DATABASE_URL": running.database_url,
            "DATA_DIR": str(running.hosts[0].data_dir),
            "DJANGO_SUPERUSER_USERNAME": ADMIN[0],
            "DJANGO_SUPERUSER_PASSWORD": ADMIN[1],
            "DJANGO_SUPERUSER_EMAIL": "admin@example.com",
        }
        subprocess.run(
            [str(live.BIN / "python"), "manage.py", "createsuperuser", "--noinput"],
            cwd=live.ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        yield running
    finally:
        running.stop()


def token(host: live.Server) -> str:
    status, _, body = host.request(
        "POST",
        "/api/v1/token/",
        json.dumps({"username": ADMIN[0], "password": ADMIN[1]}).encode(),
        {"Content-Type": "application/json"},
    )
    assert status == 200, body
    return str(json.loads(body)["access"])


def upload(host: live.Server, data: bytes) -> dict:
    status, _, body = host.upload(data)
    assert status == 201, body
    return dict(json.loads(body))


def renders(host: live.Server) -> float:
    """The host's rendered variants (misses), from its /metrics."""
    status, _, body = host.request("GET", "/metrics")
    assert status == 200
    match = re.search(rb'^darkroom_variant_requests_total\{tier="miss"\} ([0-9.e+]+)$', body, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def photo(seed: int, size: tuple[int, int] = (1600, 1200)) -> bytes:
    image = images.photo(size)
    image.putpixel((seed % size[0], 0), (seed % 256, 7, 9))  # bytes of their own: a fresh original per test
    return images.encode(image, "JPEG", quality=90)


def test_an_upload_on_one_host_is_served_byte_identical_by_the_others(cluster: Cluster) -> None:
    a, b, c = cluster.hosts
    data = photo(1)
    original = upload(a, data)
    sha = hashlib.sha256(data).hexdigest()
    assert f"{sha[:2]}/{sha}.jpg" in cluster.store.objects()
    assert not any((host.data_dir / "originals" / sha[:2]).exists() for host in cluster.hosts)
    path = f"/image/{original['id']}/?w=300&fmt=png"
    answers = [host.request("GET", path) for host in (b, c, a)]
    assert [status for status, _, _ in answers] == [200, 200, 200]
    assert len({body for _, _, body in answers}) == 1
    assert Image.open(io.BytesIO(answers[0][2])).size == (300, 225)
    status, _, body = c.request("GET", f"/api/v1/originals/{original['id']}/file/")
    assert status == 200 and body == data


def test_fifty_concurrent_requests_over_three_hosts_render_once(cluster: Cluster) -> None:
    original = upload(cluster.hosts[0], photo(2, (3000, 2000)))
    path = f"/image/{original['id']}/?w=1000&fmt=webp"
    before = sum(renders(host) for host in cluster.hosts)
    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(lambda i: cluster.hosts[i % 3].request("GET", path), range(50)))
    assert [status for status, _, _ in answers] == [200] * 50
    tiers = [headers["x-cache"] for _, headers, _ in answers]
    assert tiers.count("miss") == 1, tiers
    assert len({body for _, _, body in answers}) == 1
    assert sum(renders(host) for host in cluster.hosts) - before == 1


def test_a_variant_too_large_for_redis_is_rendered_once_and_shared_through_the_bucket(cluster: Cluster) -> None:
    a, b, c = cluster.hosts
    data = photo(7, (2400, 1800))
    original = upload(a, data)
    path = f"/image/{original['id']}/?w=2000&fmt=png"  # megabytes: over REDIS_VARIANT_MAX_BYTES
    before = sum(renders(host) for host in cluster.hosts)
    status, headers, first = a.request("GET", path)
    assert status == 200 and headers["x-cache"] == "miss" and len(first) > 512 * 1024
    stored = [key for key in cluster.store.objects() if key.startswith(f"results/{original['id']}/")]
    assert len(stored) == 1, stored
    for host in (b, c):
        status, headers, body = host.request("GET", path)
        assert status == 200 and headers["x-cache"] == "hit-store" and body == first
        assert host.request("GET", path)[1]["x-cache"] in ("hit-disk", "hit-memory")  # then from its own disk
    assert sum(renders(host) for host in cluster.hosts) - before == 1
    status, _, body = b.request(
        "DELETE", f"/api/v1/originals/{original['id']}/", headers={"Authorization": f"Bearer {token(b)}"}
    )
    assert status == 204, body
    sha = hashlib.sha256(data).hexdigest()
    assert not [key for key in cluster.store.objects() if original["id"] in key or sha in key]


def test_a_delete_on_one_host_is_gone_from_every_host_within_a_second(cluster: Cluster) -> None:
    a, b, c = cluster.hosts
    data = photo(3)
    original = upload(a, data)
    sha = hashlib.sha256(data).hexdigest()
    paths = [f"/image/{original['id']}/?w=200", f"/image/{original['id']}/?w=120&fmt=png"]
    for host in (b, c):
        for path in paths:
            for _ in range(6):  # every worker of the host learns the original and holds the variant in memory
                assert host.request("GET", path)[0] == 200
    tiers = [host.request("GET", paths[0])[1]["x-cache"] for host in (b, c) for _ in range(4)]
    assert "hit-memory" in tiers, tiers
    status, _, body = a.request(
        "DELETE", f"/api/v1/originals/{original['id']}/", headers={"Authorization": f"Bearer {token(a)}"}
    )
    assert status == 204, body
    deleted = time.monotonic()
    gone: dict[str, float] = {}
    while len(gone) < 2 and time.monotonic() - deleted < 5:
        for host in (b, c):
            if host.host not in gone and all(host.request("GET", path)[0] == 404 for path in paths):
                gone[host.host] = time.monotonic() - deleted
        time.sleep(0.01)
    print(f"404 on the other hosts after {', '.join(f'{h}: {s * 1000:.0f} ms' for h, s in gone.items())}")
    assert len(gone) == 2 and max(gone.values()) < 1.0, gone
    for _ in range(20):  # and it stays gone on every worker
        for host in cluster.hosts:
            assert host.request("GET", paths[0])[0] == 404
    assert not [key for key in cluster.store.objects() if sha in key], "the bucket still holds the original"
    time.sleep(0.2)
    leftovers = [host.data_dir / "variants" / original["id"] for host in cluster.hosts]
    assert not [path for path in leftovers if path.exists()], "a host's disk still holds its variants"


def test_uploads_on_one_host_racing_deletes_on_another_never_leave_a_record_without_its_object(
    cluster: Cluster,
) -> None:
    """The same bytes put-and-recorded on A while B counts-and-unlinks them: PostgreSQL's advisory lock on the hash
    holds across hosts (a file lock would not), so every record left has its object and no object outlives them."""
    a, b, _ = cluster.hosts
    data = photo(8, (300, 200))
    sha = hashlib.sha256(data).hexdigest()
    bearer = {"Authorization": f"Bearer {token(b)}"}
    stop = time.monotonic() + 8
    failures: list[str] = []
    done: Counter[str] = Counter()

    def uploads() -> None:
        while time.monotonic() < stop:
            status, _, body = a.upload(data)
            done[f"upload {status}"] += 1
            if status not in (200, 201):
                failures.append(f"upload {status} {body[:100]!r}")

    def deletes() -> None:
        while time.monotonic() < stop:
            status, _, body = b.request("GET", "/api/v1/originals/?page_size=100")
            for item in json.loads(body)["results"]:
                if item["sha256"] == sha:
                    status, _, body = b.request("DELETE", f"/api/v1/originals/{item['id']}/", headers=bearer)
                    done[f"delete {status}"] += 1
                    if status not in (204, 404):
                        failures.append(f"delete {status} {body[:100]!r}")

    threads = [threading.Thread(target=uploads) for _ in range(2)] + [threading.Thread(target=deletes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures[:5]
    print(dict(done))
    assert done["upload 201"] >= 3 and done["delete 204"] >= 3, done  # it raced: records came and went
    _, _, body = a.request("GET", "/api/v1/originals/?page_size=100")
    records = [item for item in json.loads(body)["results"] if item["sha256"] == sha]
    objects = [key for key in cluster.store.objects() if sha in key]
    assert objects == ([f"{sha[:2]}/{sha}.jpg"] if records else []), (records, objects)
    for item in records:
        assert b.request("GET", f"/api/v1/originals/{item['id']}/file/")[2] == data


def test_the_object_store_away_and_back(cluster: Cluster) -> None:
    a, b, c = cluster.hosts
    kept = upload(a, photo(4))
    cached = f"/image/{kept['id']}/?w=240"
    for host in cluster.hosts:
        assert host.request("GET", cached)[0] == 200
    status, _, body = a.request("GET", "/api/v1/originals/?page_size=100")
    records = json.loads(body)["count"]
    cluster.relay.stop()
    try:
        status, headers, body = b.upload(photo(5))
        assert status == 503, body
        assert json.loads(body)["code"] == "storage_unavailable" and int(headers["retry-after"]) > 0
        for host in cluster.hosts:  # cached variants are still served
            assert host.request("GET", cached)[0] == 200
        status, headers, body = c.request("GET", f"/image/{kept['id']}/?w=77")  # an uncached one cannot be
        assert status == 503 and json.loads(body)["code"] == "storage_unavailable" and "retry-after" in headers
        status, _, body = a.request("GET", "/api/v1/originals/?page_size=100")
        assert json.loads(body)["count"] == records, "an upload was recorded without its object"
    finally:
        cluster.relay.start()
    again = upload(b, photo(5))
    assert c.request("GET", f"/image/{again['id']}/?w=77")[0] == 200
    assert c.request("GET", f"/image/{kept['id']}/?w=77")[0] == 200
    status, _, body = a.request("GET", "/api/v1/originals/?page_size=100")
    assert json.loads(body)["count"] == records + 1
    result = subprocess.run(
        [str(live.BIN / "python"), "manage.py", "darkroom_check", "--storage"],
        cwd=live.ROOT,
        env={
            **os.environ,
            **cluster.env(),
            "DARKROOM_ENV": "local",
            "DATABASE_URL": cluster.database_url,
            "DATA_DIR": str(a.data_dir),
            "REDIS_URL": REDIS,
        },
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 records without objects, 0 objects without records" in result.stdout, result.stdout


def test_a_host_killed_mid_render_leaves_the_others_serving(cluster: Cluster) -> None:
    a, b, c = cluster.hosts
    original = upload(a, photo(6, (4000, 3000)))
    warm = f"/image/{original['id']}/?w=100"
    assert a.request("GET", warm)[0] == 200
    slow = f"/image/{original['id']}/?w=3000&fmt=webp&q=95"  # a second or more of encoding
    locks = redis.Redis.from_url(REDIS)
    before = set(locks.scan_iter(match="darkroom:lock:*"))
    threading.Thread(target=lambda: _quietly(b.request, "GET", slow), daemon=True).start()
    deadline = time.monotonic() + 20
    while not set(locks.scan_iter(match="darkroom:lock:*")) - before:
        assert time.monotonic() < deadline, "host B never started the render"
        time.sleep(0.01)
    cluster.kill_host(1)
    try:
        for host in (a, c):
            assert host.request("GET", warm)[0] == 200
            assert host.request("GET", f"/image/{original['id']}/?w=64&fmt=png")[0] == 200
        started = time.monotonic()
        status, _, body = c.request("GET", slow)
        assert status == 200, body
        image = Image.open(io.BytesIO(body))
        image.load()  # the whole image decodes: nothing half-written was served
        assert image.size == (3000, 2250)
        print(f"the killed host's variant rendered on C in {time.monotonic() - started:.1f} s")
    finally:
        cluster.start_host(1)
    assert cluster.hosts[1].request("GET", slow)[0] == 200


def _quietly(call, *args: object) -> None:
    with contextlib.suppress(OSError):  # the host was killed under it
        call(*args)
