"""bench/footprint.py: the process tree it reads, and the bound its memory rows judge against."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from bench import footprint
from bench.procs import Service

GRANDCHILD = "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)']); "
CHILD = f"import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', {GRANDCHILD + 'time.sleep(30)'!r}]); "


def test_tree_reads_master_workers_and_their_render_processes(tmp_path: Path):
    master = subprocess.Popen([sys.executable, "-c", CHILD + "time.sleep(30)"])
    try:
        service = Service("tree", master, 0, tmp_path / "log")
        found = footprint.idle(service, workers=1, timeout=20)
        ((worker,),) = [found["workers"]]
        assert worker["renders"] == 1 and worker["rss_kb"] > 1000 and worker["render_kb"] > 1000
        assert found["total_kb"] == found["master_kb"] + worker["rss_kb"] + worker["render_kb"]
    finally:
        for pid in footprint.children(master.pid):  # the processes this test started, by pid
            for grandchild in footprint.children(pid):
                os.kill(grandchild, signal.SIGKILL)
            os.kill(pid, signal.SIGKILL)
        master.kill()
        master.wait()


def idle_tree(master_kb: int, *per_worker: tuple[int, int]) -> dict:
    workers = [
        {"pid": pid, "rss_kb": rss, "render_kb": render, "renders": 1} for pid, (rss, render) in enumerate(per_worker)
    ]
    return {"master_kb": master_kb, "workers": workers, "total_kb": master_kb + sum(a + b for a, b in per_worker)}


def test_the_bound_is_workers_times_idle_tier_and_render_peak_plus_a_tenth():
    results = {"idle": idle_tree(80_000, (90_000, 20_000), (100_000, 20_000))}
    limit = footprint.bound(results, workers=2, tier_bytes=32 * 2**20, render_peak_kb=200_000)
    assert limit == {"per_worker_idle_kb": 120_000, "bound_kb": int((80_000 + 2 * (120_000 + 32_768 + 200_000)) * 1.1)}
    assert footprint.bound(results, workers=2, tier_bytes=0, render_peak_kb=None) is None, "no W4, no bound"


def test_rows_judge_each_tree_against_its_bound():
    idle = idle_tree(80_000, (90_000, 20_000), (90_000, 20_000))
    big = idle_tree(80_000, (900_000, 20_000), (900_000, 20_000))
    results = {
        "footprint": {"workers": 2, "tier_bytes": 32 * 2**20, "idle": idle, "after_w1": idle, "after_w2": big},
    }
    rows = footprint.rows(results, [{"worker": {"growth_kb": 100_000}}])
    judged = {row.measurement: row.result for row in rows if row.result}
    assert judged == {
        "process tree RSS after W1 (2 worker(s))": "PASS",
        "process tree RSS after W2 (2 worker(s))": "FAIL",
    }
    assert [row.measurement for row in rows if not row.result] == [
        "worker 1 RSS, idle, before any request",
        "worker 2 RSS, idle, before any request",
    ]


BURNS = """
import subprocess, sys, threading, time
from pathlib import Path
here = Path(sys.argv[1])
burn = "import time\\nwhile time.process_time() < 0.3: pass"
(here / "ready").touch()
while not (here / "go").exists():
    time.sleep(0.01)
worker = threading.Thread(target=lambda: exec("while time.thread_time() < 0.3: pass", {"time": time}))
worker.start()
worker.join()  # a thread that ran 0.3 s and ended
subprocess.run([sys.executable, "-c", burn], check=True)  # a child that ran 0.3 s, waited for
(here / "done").touch()
time.sleep(30)
"""


def test_tree_cpu_counts_threads_that_ended_and_children_that_were_reaped(tmp_path: Path):
    """What a render process retired during a request ran, and what a thread that ended ran, are in the tree's CPU."""
    master = subprocess.Popen([sys.executable, "-c", BURNS, str(tmp_path)])
    try:
        service = Service("burns", master, 0, tmp_path / "log")
        while not (tmp_path / "ready").exists():
            time.sleep(0.01)
        before = service.tree_cpu_ns()
        (tmp_path / "go").touch()
        while not (tmp_path / "done").exists():
            time.sleep(0.01)
        spent = (service.tree_cpu_ns() - before) / 1e9
        assert 0.55 <= spent < 2.0, spent
    finally:
        master.kill()
        master.wait()
