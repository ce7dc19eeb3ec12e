"""Faults against real processes: Redis killed, frozen and restarted; the variant disk full or read-only;
a worker SIGKILLed mid-upload and mid-render; the database locked. No 500 where a fallback serves, no
partial file served, no original lost, and recovery without help once the fault ends."""

import contextlib
import hashlib
import io
import json
import os
import signal
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from transforms.tests import images

from .. import server as live

pytestmark = pytest.mark.slow


@pytest.fixture(params=live.TRIAL)
def server_name(request: pytest.FixtureRequest) -> str:
    """Every fault against each application server of the trial (tests/server.py), side by side."""
    return str(request.param)


def jpeg(size: tuple[int, int], seed: int = 0) -> bytes:
    picture = images.photo(size)
    picture.paste(((seed * 53) % 256, (seed * 101) % 256, 0), (0, 0, 16, 16))  # distinct pictures per seed
    return images.encode(picture, "JPEG", quality=90)


def worker_pids(server: live.Server) -> list[int]:
    children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children").read_text().split()
    return [int(pid) for pid in children]


def visible_files(directory: Path) -> list[Path]:
    """Files that could be served: not temporary, not lock files (both live under dot names)."""
    return [
        p
        for p in directory.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(directory).parts)
    ]


def upload(server: live.Server, data: bytes) -> dict:
    status, _, body = server.upload(data)
    assert status == 201, body
    return json.loads(body)


def timed_get(server: live.Server, path: str) -> tuple[int, dict[str, str], bytes, float]:
    started = time.monotonic()
    status, headers, body = server.request("GET", path)
    return status, headers, body, time.monotonic() - started


class RedisProcess:
    """A private redis-server on a free port, so it can be killed, frozen and restarted."""

    def __init__(self, directory: Path) -> None:
        self.port = live.free_port()
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait()


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisProcess]:
    process = RedisProcess(tmp_path)
    process.start()
    yield process
    if process.process is not None and process.process.poll() is None:
        os.kill(process.process.pid, signal.SIGCONT)
        process.kill()


def test_redis_killed_frozen_and_restarted(tmp_path: Path, server_name: str, redis: RedisProcess):
    server = live.start(tmp_path / "data", redis_url=redis.url, workers=2, server=server_name)
    try:
        original = upload(server, jpeg((800, 600)))
        path = f"/image/{original['id']}/?w=200"
        assert timed_get(server, path)[1]["x-cache"] == "miss"
        assert timed_get(server, path)[1]["x-cache"] == "hit-redis"

        redis.kill()
        for width in (201, 202, 203, 204):  # new variants and an upload while Redis is gone
            status, headers, _, seconds = timed_get(server, f"/image/{original['id']}/?w={width}")
            assert status == 200 and seconds < 1.5, (width, status, seconds)
        assert upload(server, jpeg((64, 48), seed=1))["id"]
        status, headers, _, seconds = timed_get(server, path)
        assert (status, headers["x-cache"]) == (200, "hit-disk") and seconds < 1.5
        assert server.request("GET", "/readyz")[0] == 503

        redis.start()  # same port, empty: the service finds it again by itself
        assert redis.process is not None
        os.kill(redis.process.pid, signal.SIGSTOP)  # frozen: accepts connections, never answers
        for width in (205, 206):
            status, _, _, seconds = timed_get(server, f"/image/{original['id']}/?w={width}")
            assert status == 200 and seconds < 1.5, (width, seconds)
        os.kill(redis.process.pid, signal.SIGCONT)

        deadline, tiers = time.monotonic() + 15, []
        while time.monotonic() < deadline:
            tiers.append(timed_get(server, path)[1]["x-cache"])
            if tiers[-1] == "hit-redis":
                break
            time.sleep(0.5)
        assert tiers[-1] == "hit-redis", tiers
        assert server.request("GET", "/readyz")[0] == 200
    finally:
        server.stop()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """DATA_DIR/variants on a 256 KiB tmpfs of its own, so it can be filled and made read-only."""
    variants = tmp_path / "data" / "variants"
    variants.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(variants)], check=True)
    yield variants
    subprocess.run(["umount", "-l", str(variants)], check=False)


def test_variant_disk_full_then_read_only_then_fixed(tmp_path: Path, server_name: str, small_disk: Path):
    server = live.start(tmp_path / "data", workers=2, server=server_name)
    try:
        original = upload(server, jpeg((2000, 1500)))
        filler = small_disk / "filler"
        filler.write_bytes(b"\0" * (250 * 1024))  # nearly full
        big = f"/image/{original['id']}/?w=1200&fmt=png"  # ~ MBs: cannot be stored
        status, headers, body, _ = timed_get(server, big)
        assert status == 200 and headers["x-cache"] == "miss"
        assert Image.open(io.BytesIO(body)).size == (1200, 900)
        assert timed_get(server, big)[1]["x-cache"] == "miss", "not stored, rendered again, still served"
        assert [p for p in visible_files(small_disk) if p != filler] == [], "no partial file left"

        filler.unlink()
        subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
        small = f"/image/{original['id']}/?w=100"
        assert [timed_get(server, small)[1]["x-cache"] for _ in range(2)] == ["miss", "miss"]

        subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)
        assert [timed_get(server, small)[1]["x-cache"] for _ in range(2)] == ["miss", "hit-disk"]
    finally:
        server.stop()


def test_worker_killed_mid_upload_and_mid_render(tmp_path: Path, server_name: str):
    server = live.start(tmp_path / "data", workers=1, server=server_name)
    originals_dir = tmp_path / "data" / "originals"
    try:
        data = jpeg((3000, 2000), seed=2)
        boundary = "killtest"
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="k.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        total = len(head) + len(data) + len(f"\r\n--{boundary}--\r\n")
        conn = socket.create_connection(("127.0.0.1", server.port))
        conn.sendall(
            f"POST /api/v1/originals/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {total}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\n\r\n".encode()
            + head
            + data[: len(data) // 2]
        )
        time.sleep(0.5)
        for pid in worker_pids(server):
            os.kill(pid, signal.SIGKILL)
        conn.close()
        assert visible_files(originals_dir) == [], "half an upload never becomes an original"

        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not worker_pids(server):
            time.sleep(0.1)
        original = upload(server, data)  # the master has started a new worker
        stored = visible_files(originals_dir)
        assert [hashlib.sha256(p.read_bytes()).hexdigest() for p in stored] == [original["sha256"]]

        path = f"/image/{original['id']}/?w=2400&fmt=avif"
        victim = threading.Thread(target=lambda: _ignore_errors(server, path))
        victim.start()
        time.sleep(0.4)  # inside the render (an AVIF of this size takes seconds)
        for pid in worker_pids(server):
            os.kill(pid, signal.SIGKILL)
        victim.join()
        time.sleep(1.0)
        status, _, body, _ = timed_get(server, path)
        assert status == 200
        assert Image.open(io.BytesIO(body)).size == (2400, 1600), "a complete variant, never a partial one"
        variants = visible_files(tmp_path / "data" / "variants")
        assert all(Image.open(p).size == (2400, 1600) for p in variants)
    finally:
        server.stop()


def _ignore_errors(server: live.Server, path: str) -> None:
    with contextlib.suppress(OSError):  # the worker is killed under this request: the connection drops
        server.request("GET", path)


def test_database_locked(tmp_path: Path, server_name: str):
    server = live.start(tmp_path / "data", workers=1, extra_env={"SQLITE_BUSY_SECONDS": "1"}, server=server_name)
    try:
        database = tmp_path / "data" / "darkroom.sqlite3"
        locker = sqlite3.connect(database, timeout=5, isolation_level=None, check_same_thread=False)
        locker.execute("BEGIN EXCLUSIVE")
        release = threading.Timer(0.6, locker.execute, args=("COMMIT",))
        release.start()  # a short lock: the upload waits for it and succeeds
        status, _, body = server.upload(jpeg((64, 48), seed=3))
        release.join()
        assert status == 201, body

        locker.execute("BEGIN EXCLUSIVE")  # a long lock: a clear 503 with Retry-After, not a 500
        status, headers, body = server.upload(jpeg((64, 48), seed=4))
        assert status == 503, body
        assert json.loads(body)["code"] == "database_unavailable" and headers["retry-after"] == "2"
        status, _, _ = server.request("GET", "/api/v1/originals/")
        assert status in (200, 503)  # WAL readers may still read
        locker.execute("COMMIT")
        locker.close()

        status, _, body = server.upload(jpeg((64, 48), seed=4))
        assert status == 201, body  # recovered by itself
    finally:
        server.stop()


def children(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def test_workers_are_recycled_and_their_render_processes_go_with_them(tmp_path: Path, server_name: str):
    server = live.start(tmp_path / "data", workers=1, extra_env={"MAX_REQUESTS": "20"}, server=server_name)
    try:
        (worker,) = worker_pids(server)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not children(worker):
            time.sleep(0.1)
        (render_process,) = children(worker)  # started at boot, ahead of the first render
        for _ in range(30):
            assert server.request("GET", "/healthz")[0] == 200
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (
            worker_pids(server) in ([], [worker]) or Path(f"/proc/{worker}").exists()
        ):
            time.sleep(0.1)
        assert worker_pids(server) and worker not in worker_pids(server), "the worker was replaced"
        # ended and reaped by the worker before it exited: orphaned, it would be a zombie of PID 1 in a container
        assert not Path(f"/proc/{render_process}").exists(), "its render process ended with it"
    finally:
        server.stop()


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def test_the_security_reviews_reproductions_do_not_take_the_worker(tmp_path: Path, server_name: str):
    """Issue 16's reproductions against a real worker: refused in milliseconds, or rendered by the worker's render
    process within the documented bound, while the worker itself does not grow."""
    from transforms.tests.test_budgets import SOURCES

    server = live.start(tmp_path / "data", workers=1, server=server_name)
    try:
        ids = {name: upload(server, SOURCES[name]())["id"] for name in ("animated gif", "tall strip", "wide strip")}
        (worker,) = worker_pids(server)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not children(worker):
            time.sleep(0.1)
        (renderer,) = children(worker)
        for pid in (worker, renderer):
            Path(f"/proc/{pid}/clear_refs").write_text("5")  # each peak from here on
        worker_rss, renderer_rss = status_kib(worker, "VmRSS"), status_kib(renderer, "VmRSS")
        refused = [
            (ids["animated gif"], "w=1500&h=8192&fit=pad&fmt=webp"),  # 3.3 GB and 17 s before
            (ids["tall strip"], "w=8192&h=8192&fit=pad&fmt=avif"),  # 1.6 GB
            (ids["wide strip"], "w=8192&h=8192&fit=pad&fmt=webp"),  # 1.3 GB
            (ids["tall strip"], "w=100&fmt=webp"),  # a 500 before: WebP holds 16383 px a side
        ]
        for original_id, query in refused:
            status, _, body, seconds = timed_get(server, f"/image/{original_id}/?{query}")
            assert status in (400, 422) and seconds < 1.0, (query, status, body[:200])
        status, headers, _, _ = timed_get(server, f"/image/{ids['animated gif']}/?w=1500&fmt=webp")
        assert status == 200 and headers["x-animation"] == "kept"
        worker_growth = status_kib(worker, "VmHWM") - worker_rss
        renderer_growth = status_kib(renderer, "VmHWM") - renderer_rss
        assert worker_growth < 32 * 1024, f"the web worker grew {worker_growth} KiB"
        assert renderer_growth < 256 * 1024, f"the render process grew {renderer_growth} KiB"
    finally:
        server.stop()
