"""What the application server must keep (issue 15's trial), against each server of tests/server.py's TRIAL: graceful
restart and stop with requests in flight, /metrics summed over worker processes, the render time budget."""

import contextlib
import io
import json
import os
import re
import signal
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from transforms.tests import images

from . import server as live

pytestmark = pytest.mark.slow


@pytest.fixture(params=live.TRIAL)
def server_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def heavy_jpeg() -> bytes:
    """6000x4000 of noise smoothed by an upscale: as a full-size PNG, a render of several seconds on any machine
    (zlib over 24 MP that will not compress), where a 2400 px AVIF took under a second once drafts got faster."""
    small = Image.frombytes("RGB", (600, 400), os.urandom(600 * 400 * 3))
    return images.encode(small.resize((6000, 4000), Image.Resampling.BICUBIC), "JPEG", quality=90)


class InFlight(threading.Thread):
    """One request, its answer kept."""

    def __init__(self, running: live.Server, path: str) -> None:
        super().__init__(daemon=True)
        self.running, self.path = running, path
        self.answer: tuple[int, dict[str, str], bytes] | None = None
        self.error: OSError | None = None

    def run(self) -> None:
        try:
            self.answer = self.running.request("GET", self.path)
        except OSError as error:
            self.error = error


def render_in_flight(running: live.Server, original_id: str, width: int) -> InFlight:
    """An AVIF render of seconds (of heavy_jpeg: 1.8-2.4 s at 2300-2400 px on this machine, where a 3000x2000 photo's
    took 0.7-1.4 s and was over before the signal in 1 run of 4), started and given time to be inside its worker."""
    request = InFlight(running, f"/image/{original_id}/?w={width}&fmt=avif")
    request.start()
    time.sleep(0.5)
    assert request.is_alive(), "the render should take seconds"
    return request


def assert_complete(request: InFlight, width: int) -> None:
    request.join(timeout=60)
    assert request.error is None and request.answer is not None, request.error
    status, _, body = request.answer
    assert status == 200, body[:200]
    assert Image.open(io.BytesIO(body)).size[0] == width


def workers(running: live.Server) -> list[int]:
    pid = running.process.pid
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def test_sighup_replaces_the_workers_and_finishes_requests_in_flight(tmp_path: Path, server_name: str):
    running = live.start(tmp_path / "data", workers=2, server=server_name)
    try:
        status, _, body = running.upload(heavy_jpeg())
        assert status == 201, body
        original_id = json.loads(body)["id"]
        before = set(workers(running))
        in_flight = render_in_flight(running, original_id, 2400)
        running.process.send_signal(signal.SIGHUP)
        answers = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and (in_flight.is_alive() or before & set(workers(running))):
            answers.append(running.request("GET", "/healthz")[0])  # served throughout the restart
            time.sleep(0.05)
        assert_complete(in_flight, 2400)
        assert not before & set(workers(running)), "every worker was replaced"
        assert set(answers) == {200}, answers
        assert running.request("GET", f"/image/{original_id}/?w=2400&fmt=avif")[0] == 200
    finally:
        running.stop()


def test_sigterm_finishes_requests_in_flight_then_stops(tmp_path: Path, server_name: str):
    running = live.start(tmp_path / "data", workers=2, server=server_name)
    try:
        status, _, body = running.upload(heavy_jpeg())
        assert status == 201, body
        in_flight = render_in_flight(running, json.loads(body)["id"], 2300)
        running.process.send_signal(signal.SIGTERM)
        assert_complete(in_flight, 2300)
        assert running.process.wait(timeout=20) == 0
    finally:
        running.stop()


def counter(text: str, route: str) -> float:
    pattern = rf'^darkroom_http_responses_total\{{route="{route}",status="200"\}} ([0-9.e+]+)$'
    return sum(float(value) for value in re.findall(pattern, text, re.MULTILINE))


def test_metrics_count_the_requests_of_every_worker(tmp_path: Path, server_name: str):
    running = live.start(tmp_path / "data", workers=2, server=server_name)
    try:
        status, _, body = running.upload(images.encode(images.photo((64, 48)), "JPEG"))
        assert status == 201, body
        original_id = json.loads(body)["id"]
        # Concurrent requests: both workers answer some (each its own connection, several at once).
        threads = [InFlight(running, f"/image/{original_id}/?w={16 + i}") for i in range(24)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert [t.answer[0] if t.answer else t.error for t in threads] == [200] * 24
        files = list((tmp_path / "data" / "prometheus").glob("counter_*.db"))
        assert len(files) >= 2, "each worker process writes its own counters"
        status, _, text = running.request("GET", "/metrics")
        assert status == 200
        assert counter(text.decode(), "image") == 24, "every worker's responses, summed"
    finally:
        running.stop()


def test_the_render_time_budget_holds(tmp_path: Path, server_name: str):
    env = {"RENDER_TIME_BUDGET_SECONDS": "1"}
    running = live.start(tmp_path / "data", workers=1, server=server_name, extra_env=env)
    try:
        status, _, body = running.upload(heavy_jpeg())
        assert status == 201, body
        started = time.monotonic()
        status, headers, body = running.request("GET", f"/image/{json.loads(body)['id']}/?fmt=png")
        seconds = time.monotonic() - started
        assert (status, json.loads(body)["code"], headers.get("retry-after")) == (503, "render_timeout", "5"), body
        assert seconds < 2.5, seconds
        assert running.request("GET", "/healthz")[0] == 200
    finally:
        running.stop()


@pytest.mark.parametrize("replacement", ["sighup", "max_requests"])
def test_kept_alive_hits_do_not_fail_while_workers_are_replaced(tmp_path: Path, server_name: str, replacement: str):
    """wrk's 8 kept-alive connections on a cached variant while the workers are replaced (SIGHUP, or MAX_REQUESTS
    a few times over): no hit fails. A worker that closed a kept-alive connection as a request came in failed it."""
    from .test_slow_clients import wrk

    env = {"MAX_REQUESTS": "3000"} if replacement == "max_requests" else {}
    running = live.start(tmp_path / "data", workers=2, server=server_name, extra_env=env)
    try:
        status, _, body = running.upload(images.encode(images.photo((640, 480)), "JPEG"))
        assert status == 201, body
        path = f"/image/{json.loads(body)['id']}/?w=100"
        for _ in range(8):
            assert running.request("GET", path)[0] == 200
        before = set(workers(running))
        if replacement == "sighup":
            threading.Timer(1.0, running.process.send_signal, args=(signal.SIGHUP,)).start()
        hits = wrk(f"http://127.0.0.1:{running.port}{path}", 8)
        assert hits["requests"] > 3000 and hits["failures"] == 0, hits
        deadline = time.monotonic() + 20  # granian replaces one worker at a time, 3.5 s apart
        while time.monotonic() < deadline and before & set(workers(running)):
            time.sleep(0.1)
        assert not before & set(workers(running)), "every worker was replaced"
    finally:
        running.stop()


def test_workers_stop_when_their_master_dies(tmp_path: Path, server_name: str):
    """A master SIGKILLed (the OOM killer's choice, a crash): its workers stop instead of serving on, orphaned, with
    nothing left to replace or stop them."""
    running = live.start(tmp_path / "data", workers=2, server=server_name)
    orphans = workers(running)
    try:
        running.process.kill()
        running.process.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in orphans):
            time.sleep(0.1)
        assert not [pid for pid in orphans if Path(f"/proc/{pid}").exists()], "a worker outlived its master"
    finally:
        for pid in orphans:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
