"""Slow clients are harmless (issue 15): 32 clients each dribbling a multipart upload at about 1 KB/s, while wrk
measures cache hits of an existing variant on the same server, started as `make run` starts it (4 workers, as on 4
CPUs; no proxy in front to buffer bodies). The hits' p99 stays under 50 ms, no hit fails and every slow upload is
stored."""

import json
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from transforms.tests import images

from . import server as live

pytestmark = pytest.mark.slow

SLOW_CLIENTS = 32
BYTES_PER_SECOND = 1024
CHUNK = 256  # sent every CHUNK / BYTES_PER_SECOND seconds
WRK_SECONDS = 5
P99_MS = 50.0


def picture(seed: int) -> bytes:
    """A distinct JPEG of about 10 KB: ten seconds of a slow client."""
    photo = images.photo((160, 120))
    photo.paste(((seed * 53) % 256, (seed * 101) % 256, 7), (0, 0, 8, 8))
    data = images.encode(photo, "JPEG", quality=95)
    return data + b"\0" * max(0, 10_000 - len(data))  # bytes after the JPEG's end are ignored by decoders


class SlowUpload(threading.Thread):
    """POST /api/v1/originals/ over a raw socket: the headers at once, then the body at BYTES_PER_SECOND."""

    def __init__(self, port: int, seed: int) -> None:
        super().__init__(daemon=True)
        self.port, self.seed = port, seed
        self.status: int | str = "not sent"
        self.started_body = threading.Event()
        self.stop = threading.Event()

    def run(self) -> None:
        boundary = f"slow{self.seed}"
        body = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="slow{self.seed}.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        body += picture(self.seed) + f"\r\n--{boundary}--\r\n".encode()
        head = (
            f"POST /api/v1/originals/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\nConnection: close\r\n\r\n"
        ).encode()
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=60) as conn:
                conn.sendall(head)
                self.started_body.set()
                for offset in range(0, len(body), CHUNK):
                    if self.stop.wait(CHUNK / BYTES_PER_SECOND):
                        self.status = "stopped"
                        return
                    conn.sendall(body[offset : offset + CHUNK])
                answer = b""
                while chunk := conn.recv(65536):
                    answer += chunk
                self.status = int(answer.split(b" ", 2)[1]) if answer else "no answer"
        except OSError as error:
            self.status = f"{type(error).__name__}: {error}"


def wrk(url: str, seconds: int) -> dict[str, float]:
    """wrk's p99 (ms), requests, and failures (non-2xx and socket errors) of `seconds` of hits on `url`."""
    binary = shutil.which("wrk")
    assert binary, "wrk is not installed (.ci/run installs it)"
    argv = [binary, "-t2", "-c8", f"-d{seconds}s", "--timeout", "2s", "--latency", url]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30, check=True).stdout
    from bench.wrk import parse  # the bench's reading of wrk's summary

    result = parse(url, seconds, out)
    return {
        "p99_ms": result.p99_ms,
        "requests": result.requests,
        "rps": result.rps,
        "failures": result.non_2xx + result.socket_errors,
    }


def slow_clients_beside_hits(running: live.Server, hit_path: str) -> tuple[dict[str, float], list[int | str]]:
    clients = [SlowUpload(running.port, seed) for seed in range(SLOW_CLIENTS)]
    for client in clients:
        client.start()
    try:
        for client in clients:
            assert client.started_body.wait(10), "a slow client could not connect"
        time.sleep(1.0)  # every upload is now in its body, held wherever the server holds it
        hits = wrk(f"http://127.0.0.1:{running.port}{hit_path}", WRK_SECONDS)
        for client in clients:
            client.join(timeout=30)
    finally:
        for client in clients:
            client.stop.set()
    return hits, [client.status for client in clients]


@pytest.mark.parametrize("server", live.TRIAL)
def test_slow_uploads_do_not_stop_hits(tmp_path: Path, server: str):
    running = live.start(tmp_path / "data", workers=4, server=server)
    try:
        status, _, body = running.upload(picture(1000))
        assert status == 201, body
        hit_path = f"/image/{json.loads(body)['id']}/?w=100"
        for _ in range(8):  # every worker renders or reads it once: from then on each answers from memory
            assert running.request("GET", hit_path)[0] == 200
        hits, uploads = slow_clients_beside_hits(running, hit_path)
        summary = f"{server}: hits {hits}, slow uploads {uploads}"
        print(f"slow clients beside hits on {server} x4: {hits}")  # the README's table (pytest -s)
        assert hits["requests"] > 0 and hits["failures"] == 0, summary
        assert hits["p99_ms"] < P99_MS, summary
        assert uploads == [201] * SLOW_CLIENTS, summary
    finally:
        running.stop()
