"""Two quick-start servers side by side (as two `make run`s with different DATA_DIRs), over the real server: what a
local server says holds there (its text log, ranges of a file); under gunicorn (`make run SERVER=gunicorn`) each has
its own control socket."""

import io
import json
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from tests import server as live

pytestmark = pytest.mark.slow


def jpeg(colour: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[live.Server, live.Server]]:
    root = tmp_path_factory.mktemp("two-runs")
    env = {"LOG_FORMAT": "text"}
    first = live.start(root / "a", workers=1, extra_env=env, log_path=root / "a.log")
    try:
        second = live.start(root / "b", workers=1, extra_env=env, log_path=root / "b.log")
    except BaseException:
        first.stop()
        raise
    try:
        yield first, second
    finally:
        first.stop()
        second.stop()


def control(socket: Path, command: str) -> dict:
    answer = subprocess.run(
        [str(live.BIN / "gunicornc"), "-s", str(socket), "-c", command, "-j"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return json.loads(answer.stdout)


def test_each_gunicorn_has_its_own_control_socket(tmp_path: Path):
    two = [live.start(tmp_path / name, workers=1, server="gunicorn") for name in ("a", "b")]
    try:
        sockets = [running.data_dir / "gunicorn.ctl" for running in two]
        for socket in sockets:
            assert stat.S_ISSOCK(socket.stat().st_mode), socket
        arbiters = [control(socket, "show all") for socket in sockets]
        assert [answer["arbiter"]["pid"] for answer in arbiters] == [running.process.pid for running in two]
    finally:
        for running in two:
            running.stop()


def test_a_local_server_logs_route_duration_cache_and_bytes(two):
    running = two[0]
    status, _, body = running.upload(jpeg("teal"), "teal.jpg")
    assert status == 201, body
    original_id = json.loads(body)["id"]
    status, headers, _ = running.request("GET", f"/image/{original_id}/?w=16&fmt=png")
    assert status == 200
    log = (running.data_dir.parent / "a.log").read_text()
    line = next(line for line in log.splitlines() if f"GET /image/{original_id}/ 200" in line)
    assert " route=image " in line and "ms cache=miss " in line, line
    assert line.endswith(f"bytes={headers['content-length']}"), line


def test_ranges_of_the_original_file_over_the_server(two):
    running = two[1]
    data = jpeg("olive")
    status, _, body = running.upload(data, "olive.jpg")
    assert status == 201, body
    path = f"/api/v1/originals/{json.loads(body)['id']}/file/"
    status, headers, whole = running.request("GET", path)
    assert (status, whole, headers["content-disposition"]) == (200, data, 'inline; filename="olive.jpg"')
    assert "vary" not in headers and headers["accept-ranges"] == "bytes"
    status, headers, part = running.request("GET", path, headers={"Range": "bytes=100-199"})
    assert (status, part, headers["content-range"]) == (206, data[100:200], f"bytes 100-199/{len(data)}")
    status, headers, tail = running.request("GET", path, headers={"Range": "bytes=-10"})
    assert (status, tail) == (206, data[-10:])
    status, headers, _ = running.request("GET", path, headers={"If-None-Match": headers["etag"]})
    assert status == 304


@pytest.mark.parametrize(("depth", "socket"), [(1, True), (30, False)])
def test_a_data_dir_too_deep_for_a_socket_turns_it_off(tmp_path, depth, socket):
    data_dir = tmp_path.joinpath(*["deeper"] * depth)
    script = (
        "import runpy; c = runpy.run_path('server/gunicorn.py'); "
        "print(c.get('control_socket'), c.get('control_socket_disable'))"
    )
    env = {"PATH": "/usr/bin:/bin", "DARKROOM_ENV": "local", "DATA_DIR": str(data_dir)}
    out = subprocess.run(
        [str(live.BIN / "python"), "-c", script], cwd=live.ROOT, env=env, capture_output=True, text=True, check=True
    )
    expected = f"{data_dir / 'gunicorn.ctl'} None" if socket else "None True"
    assert out.stdout.strip() == expected
