"""server.metrics.count_of counts as prometheus_client's own inc() does, in one process and in forked workers."""

import subprocess
import sys
import textwrap
from pathlib import Path

from prometheus_client import Counter

from server.metrics import CountsOf, count_of

SCRIPT = textwrap.dedent(
    """
    import os, sys, threading
    from prometheus_client import CollectorRegistry, Counter, generate_latest, multiprocess
    from server.metrics import CountsOf, count_of

    hits = Counter("trial_hits", "Hits.", ["tier"])
    together = [CountsOf(*(count_of(hits, f"n{n}-{i}") for i in range(n))) for n in (1, 2, 3, 4)]
    for counts in together:
        counts.inc(*range(1, len(counts._children) + 1))  # in the parent, before the fork
    count_of(hits, "memory").inc()  # in the parent, before the fork: its file is the parent's
    pid = os.fork()
    if pid == 0:
        threads = [threading.Thread(target=lambda: [count_of(hits, "memory").inc() for _ in range(1000)])
                   for _ in range(4)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        count_of(hits, "disk").inc(2.5)
        for counts in together:  # each count's child file: its own value, not the parent's
            threads = [threading.Thread(target=lambda c=counts: [c.inc(*[0.5] * len(c._children)) for _ in range(500)])
                       for _ in range(4)]
            [t.start() for t in threads]
            [t.join() for t in threads]
        count_of(hits, "n3-1").inc(1)  # one of them alone, on the same value
        os._exit(0)
    os.waitpid(pid, 0)
    count_of(hits, "memory").inc()
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    sys.stdout.write(generate_latest(registry).decode())
    """
)


def test_counts_reach_the_metrics_in_one_process():
    hits = Counter("trial_single_hits", "Hits.", ["tier"])
    count_of(hits, "memory").inc()
    count_of(hits, "memory").inc(3)
    assert hits.labels("memory")._value.get() == 4
    for n in (1, 2, 3, 4):
        counts = CountsOf(*(count_of(hits, f"together{n}-{i}") for i in range(n)))
        counts.inc(*range(1, n + 1))
        counts.inc(*range(1, n + 1))
        assert [hits.labels(f"together{n}-{i}")._value.get() for i in range(n)] == [2 * (i + 1) for i in range(n)]


def test_each_forked_worker_counts_in_a_file_of_its_own(tmp_path: Path):
    env = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=root, env=env, capture_output=True, text=True, timeout=60, check=True
    )
    assert 'trial_hits_total{tier="memory"} 4002.0' in done.stdout, done.stdout + done.stderr
    assert 'trial_hits_total{tier="disk"} 2.5' in done.stdout
    assert len(list(tmp_path.glob("counter_*.db"))) == 2, "the parent's file and the child's"
    for n in (1, 2, 3, 4):  # the parent's i + 1, the child's 4 threads x 500 x 0.5
        for i in range(n):
            extra = 1 if (n, i) == (3, 1) else 0
            assert f'trial_hits_total{{tier="n{n}-{i}"}} {i + 1 + 1000 + extra}.0' in done.stdout, done.stdout
