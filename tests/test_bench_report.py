"""W1's verdicts: a hit from memory against the bare app, from Redis and from disk against their floors, by CPU."""

from typing import Any

from bench.report import BARE_DISK, BARE_REDIS, w1_rows


def run(subject: str, rps: float, cpu_us: float) -> dict[str, Any]:
    return {
        "subject": subject,
        "rps": rps,
        "cpu_ms_per_request": cpu_us / 1000,
        "runqueue_share": 0.5,
        "mean_ms": 1.0,
        "p50_ms": 1.0,
        "p99_ms": 2.0,
    }


def verdicts(judged: list[str] | None) -> dict[str, tuple[str, str]]:
    runs = []
    for server in ("gunicorn", "granian"):
        runs += [
            run(f"darkroom hit-memory ({server} x2)", 1000, 80),
            run(f"darkroom hit-redis, memory tier off ({server} x2)", 400, 180),
            run(f"darkroom hit-disk, no Redis, memory tier off ({server} x2)", 800, 120),
            run(f"bare WSGI ({server} x2)", 1500, 64),
            run(f"{BARE_REDIS} ({server} x2)", 500, 150),
            run(f"{BARE_DISK} ({server} x2)", 1200, 80),
        ]
    w1: dict[str, Any] = {"workers": 2, "bytes": 100, "runs": runs}
    if judged is not None:
        w1["judged"] = judged
    return {row.measurement: (row.ratio, row.result) for row in w1_rows(w1)}


def test_each_tier_is_judged_by_cpu_against_its_own_reference():
    rows = verdicts(["gunicorn", "granian"])
    assert rows["darkroom hit-memory (granian x2)"] == ("0.67 x bare granian (by CPU/req 0.80)", "PASS")
    assert rows["darkroom hit-redis, memory tier off (granian x2)"] == (
        "0.80 x bare + Redis GET (by CPU/req 0.83)",
        "PASS",
    )
    assert rows["darkroom hit-disk, no Redis, memory tier off (granian x2)"] == (
        "0.67 x bare + file read (by CPU/req 0.67)",
        "FAIL",
    )
    assert rows[f"{BARE_DISK} (granian x2)"][0].startswith("0.80 x bare granian: the floor of a disk hit")


def test_only_the_judged_servers_get_a_verdict():
    rows = verdicts(None)  # results from before --w1-servers: gunicorn alone
    assert rows["darkroom hit-memory (gunicorn x2)"][1] == "PASS"
    assert rows["darkroom hit-memory (granian x2)"][1] == ""
