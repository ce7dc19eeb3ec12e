"""The bench's verdicts: W1's hits against the bare app and their floors, by CPU; W2's cold renders."""

from typing import Any

import pytest

from bench.client import server_timing_stages, server_timing_total
from bench.report import BARE_DISK, BARE_HEADERS, BARE_REDIS, w1_rows, w2_rows


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


def verdicts(judged: list[str] | None, headers_floor: bool = True) -> dict[str, tuple[str, str]]:
    runs = []
    for server in ("gunicorn", "granian"):
        runs += [
            run(f"darkroom hit-memory ({server} x2)", 1000, 80),
            run(f"darkroom hit-redis, memory tier off ({server} x2)", 400, 180),
            run(f"darkroom hit-disk, no Redis, memory tier off ({server} x2)", 800, 120),
            run(f"bare WSGI ({server} x2)", 1500, 56),
            run(f"{BARE_REDIS} ({server} x2)", 500, 150),
            run(f"{BARE_DISK} ({server} x2)", 1200, 80),
        ]
        if headers_floor:
            runs.append(run(f"{BARE_HEADERS} ({server} x2)", 1250, 64))
    w1: dict[str, Any] = {"workers": 2, "bytes": 100, "runs": runs}
    if judged is not None:
        w1["judged"] = judged
    return {row.measurement: (row.ratio, row.result) for row in w1_rows(w1)}


def test_each_tier_is_judged_by_cpu_against_its_own_reference():
    rows = verdicts(["gunicorn", "granian"])
    assert rows["darkroom hit-memory (granian x2)"] == ("0.80 x bare + a hit's headers (by CPU/req 0.80)", "PASS")
    assert rows[f"{BARE_HEADERS} (granian x2)"][0] == "0.83 x bare granian: the floor of a memory hit (by CPU/req 0.88)"
    assert rows["darkroom hit-redis, memory tier off (granian x2)"] == (
        "0.80 x bare + Redis GET (by CPU/req 0.83)",
        "PASS",
    )
    assert rows["darkroom hit-disk, no Redis, memory tier off (granian x2)"] == (
        "0.67 x bare + file read (by CPU/req 0.67)",
        "FAIL",
    )
    assert rows[f"{BARE_DISK} (granian x2)"][0].startswith("0.80 x bare granian: the floor of a disk hit")


def test_results_from_before_the_headers_floor_judge_a_memory_hit_against_the_bare_app():
    rows = verdicts(["granian"], headers_floor=False)
    assert rows["darkroom hit-memory (granian x2)"] == ("0.67 x bare granian (by CPU/req 0.70)", "FAIL")


def test_only_the_judged_servers_get_a_verdict():
    rows = verdicts(None)  # results from before --w1-servers: gunicorn alone
    assert rows["darkroom hit-memory (gunicorn x2)"][1] == "PASS"
    assert rows["darkroom hit-memory (granian x2)"][1] == ""


def latency(mean_ms: float) -> dict[str, Any]:
    return {"n": 19, "mean_ms": mean_ms, "p50_ms": mean_ms, "p99_ms": mean_ms, "max_ms": mean_ms, "mean_bytes": 9}


def test_w2_judges_http_against_the_anchor_and_shows_the_guarded_anchor_and_the_serving_time():
    http = {
        **latency(110.0),
        "renders_per_s": 9.0,
        "x_cache": {"miss": 19},
        "non_200": [],
        "server_total_mean_ms": 105.0,
        "render_stages_mean_ms": 96.0,
        "server_cpu_mean_ms": 125.0,
    }
    anchor = {**latency(100.0), "cpu_mean_ms": 98.0}
    block = {"http_c1": http, "anchor": anchor, "guarded": latency(120.0), "darkroom": latency(99.0)}
    rows = {row.measurement: row for row in w2_rows({"formats": {"jpeg": block}})}
    judged = rows["HTTP -> JPEG, concurrency 1"]
    ratio = "1.10 x anchor, 0.92 x guarded; CPU 1.28 x anchor"
    assert (judged.ratio, judged.target, judged.result) == (ratio, "<= 1.00", "FAIL")
    assert "server 105 ms (render stages 96), service CPU 125 ms a request" in judged.other
    assert rows["in-process anchor (draft to output, one Lanczos) -> JPEG"].other == "9 B mean, CPU 98 ms"
    assert rows["in-process pipeline.render -> JPEG"].ratio == "0.99 x anchor, 0.82 x guarded"
    guarded = rows["in-process guarded anchor (finer draft where the anchor breaks the guard) -> JPEG"]
    assert guarded.ratio == "1.20 x anchor" and guarded.result in ("", None)


def test_server_timing_stages_are_the_durations_but_the_total():
    header = 'cache;desc="miss", decode;dur=30.5, transform;dur=12.0, encode;dur=2.5, total;dur=50.0'
    assert server_timing_stages(header) == pytest.approx(0.045)
    assert server_timing_stages('cache;desc="hit-memory", total;dur=0.1') is None
    assert server_timing_total(header) == pytest.approx(0.05)
    assert server_timing_total('cache;desc="miss", total;dur=x') is None
