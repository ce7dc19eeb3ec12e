"""What server/granian_serve.py adds to granian's master beyond the trial's shared tests: a worker that cannot load the
application still stops the server (gunicorn's WORKER_BOOT_ERROR), where a worker that dies after loading it is
replaced however often (tests/faults: SIGKILLed mid-upload, then mid-render)."""

import contextlib
import ctypes
import os
import platform
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from . import server as live

pytestmark = pytest.mark.slow
SYS_TGKILL = {"x86_64": 234, "aarch64": 131}[platform.machine()]  # a signal to one thread of a process

FAILING_BOOT = """
from server import granian_serve

def cannot_load(target):
    raise RuntimeError("the application cannot be loaded")

granian_serve.main(loader=cannot_load)
"""


def test_a_worker_that_cannot_load_the_application_stops_granian(tmp_path: Path):
    env = {
        **os.environ,
        "DARKROOM_ENV": "local",
        "DATA_DIR": str(tmp_path / "data"),
        "PORT": str(live.free_port()),
        "WEB_CONCURRENCY": "1",
    }
    env.pop("DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", FAILING_BOOT],
        cwd=live.ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # granian's own lines and the workers' tracebacks, in order
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stdout[-2000:]
    assert "Worker crash loop detected" in done.stdout, done.stdout[-2000:]
    assert done.stdout.count("RuntimeError: the application cannot be loaded") == 2, "one respawn, then it stopped"


def _group_members(group: int) -> list[int]:
    """The live processes of a process group (zombies, which are only waiting to be reaped, left out)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if fields[0] != "Z" and int(fields[2]) == group:
                members.append(int(stat.parent.name))
    return members


def _seconds_to_stop(running: live.Server, interrupt: Callable[[int, list[int]], None]) -> float:
    """Once a worker has answered, `interrupt(master, workers)`; then the seconds until no process of the server's
    group is left (20 at most), which is SIGKILLed whole after."""
    group = os.getpgid(running.process.pid)
    try:
        assert running.upload(b"\xff\xd8" + b"0" * 64, "not.jpg")[0] == 415  # a worker that has answered something
        master = running.process.pid
        workers = [int(pid) for pid in Path(f"/proc/{master}/task/{master}/children").read_text().split()]
        assert len(workers) == 2, workers
        started = time.monotonic()
        interrupt(master, workers)
        while _group_members(group) and time.monotonic() - started < 20:
            time.sleep(0.05)
        return time.monotonic() - started
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)
        running.process.wait()


def test_a_ctrl_c_stops_the_server_and_its_workers_at_once(tmp_path: Path):
    """A Ctrl-C reaches every process of the terminal's group: each worker stops by itself while its master stops
    them too, and may be replacing one meanwhile. A worker started then took the master's stop signal with the
    handler it inherited and served on until it was killed 10 s later (1 Ctrl-C in 3 under make run; every time when
    the workers are interrupted 50 ms before their master, as here)."""

    def workers_first(master: int, workers: list[int]) -> None:
        for pid in workers:
            os.kill(pid, signal.SIGINT)
        time.sleep(0.05)
        os.kill(master, signal.SIGINT)

    running = live.start(tmp_path / "data", workers=2, server="granian", own_group=True)
    stopped = _seconds_to_stop(running, workers_first)
    assert stopped < 5, f"the server and its workers took {stopped:.1f} s to stop"


def test_a_terminals_ctrl_c_stops_a_busy_server_at_once(tmp_path: Path):
    """A terminal's Ctrl-C is SIGINT to the whole group. A signal to a process may be taken by any of its threads,
    and on busy CPUs a worker's often went to one of its tokio threads: CPython's handler only marked it there, the
    main thread (in granian's Event.wait) never ran it, and the master killed the worker 10 s later (3 Ctrl-Cs in 4
    in a newcomer's trial; here, without stop_signals, 4 stops in 8 on busy CPUs, none in 12 with it). Four Ctrl-Cs,
    every CPU busy."""
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in os.sched_getaffinity(0)]
    try:
        for attempt in range(4):
            running = live.start(tmp_path / f"data-{attempt}", workers=2, server="granian", own_group=True)
            stopped = _seconds_to_stop(running, lambda master, workers: os.killpg(os.getpgid(master), signal.SIGINT))
            assert stopped < 5, f"Ctrl-C {attempt + 1}: the server and its workers took {stopped:.1f} s to stop"
    finally:
        for process in busy:
            process.kill()
            process.wait()


def test_a_worker_told_it_is_replaced_closes_its_connections_whichever_thread_took_the_signal(tmp_path: Path):
    """Before the master replaces a worker it sends it SIGUSR1, and from then on the worker answers with
    `Connection: close` (WorkerApplication). The signal may be taken by any of the worker's threads: sent here to one
    of the others than the main one (tgkill, as the kernel may choose), it leads to the close. Without the relay,
    CPython's handler waited for the main thread, asleep in granian's Event.wait, and the worker kept its connections
    open to the end."""
    libc = ctypes.CDLL(None, use_errno=True)
    running = live.start(tmp_path / "data", workers=1, server="granian")
    try:
        pid = int(Path(f"/proc/{running.process.pid}/task/{running.process.pid}/children").read_text().split()[0])
        assert "connection" not in running.request("GET", "/healthz")[1]
        others = sorted(int(tid) for tid in os.listdir(f"/proc/{pid}/task") if int(tid) != pid)
        assert others, "the worker has threads besides its main one"
        tid = others[-1]
        assert libc.syscall(SYS_TGKILL, pid, tid, signal.SIGUSR1) == 0, ctypes.get_errno()
        deadline = time.monotonic() + 5
        while running.request("GET", "/healthz")[1].get("connection") != "close" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert running.request("GET", "/healthz")[1].get("connection") == "close", f"thread {tid}: no drain"
    finally:
        running.stop()


def test_a_second_server_on_a_port_in_use_fails_instead_of_sharing_it(tmp_path: Path):
    """granian's listeners set SO_REUSEPORT: a second `make run` on a port already served started and took every other
    connection of the first. server/granian_serve.py binds its one socket without it, and stops as gunicorn does."""
    first = live.start(tmp_path / "first", workers=1, server="granian")
    try:
        env = {**os.environ, "DARKROOM_ENV": "local", "DATA_DIR": str(tmp_path / "second"), "WEB_CONCURRENCY": "1"}
        env.update(HOST=first.host, PORT=str(first.port))
        env.pop("DATABASE_URL", None)
        second = subprocess.run(
            live.COMMANDS["granian"], cwd=live.ROOT, env=env, capture_output=True, text=True, timeout=60
        )
        assert second.returncode != 0
        assert f"cannot listen at {first.host}:{first.port}: Address already in use" in second.stderr, second.stderr
        assert first.request("GET", "/healthz")[0] == 200
    finally:
        first.stop()
