"""The one table of a bench run, built from its results JSON (`python -m bench.report results.json` reprints it)."""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

W1_TARGET = 0.75  # darkroom hit >= 0.75 x bare WSGI on the same server and workers
# The floors of W1's hits: the bare app answering with a hit's headers (11 of them, where the bare app sends 3), and
# besides from Redis with one GET, or from a file with one read
BARE_HEADERS = "bare WSGI + a hit's headers"
BARE_REDIS = "bare WSGI + one Redis GET"
BARE_DISK = "bare WSGI + one file read"
W2_TARGET = 1.0  # HTTP cold mean (concurrency 1) <= 1.0 x the in-process anchor (bench/anchor.py; issue 15)
W4_TARGET = 1.3  # the rendering process's peak RSS growth <= 1.3 x the in-process textbook pipeline's


@dataclass
class Row:
    workload: str
    measurement: str
    rps: float | None = None
    mean_ms: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    other: str = ""
    ratio: str = ""
    target: str = ""
    result: str = ""  # PASS, FAIL, or "" for information


def _num(value: float | None, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{value:,.0f}" if value >= 1000 else f"{value:.{digits}f}"


def _judge(value: float | None, target: float, *, at_least: bool) -> str:
    if value is None:
        return "n/a"
    return "PASS" if (value >= target if at_least else value <= target) else "FAIL"


def _latency(stats: dict[str, Any]) -> dict[str, Any]:
    return {k: stats.get(k) for k in ("mean_ms", "p50_ms", "p99_ms")}


def _per_cpu(run: dict[str, Any], reference: dict[str, Any]) -> float | None:
    """run / reference by CPU per request (the reference's CPU/req over the run's): the ratio with other load out."""
    if run.get("cpu_ms_per_request") and reference.get("cpu_ms_per_request"):
        return float(reference["cpu_ms_per_request"]) / float(run["cpu_ms_per_request"])
    return None


def w1_rows(w1: dict[str, Any]) -> list[Row]:
    """A hit is judged against what it must do at least on the same server, answering with a hit's headers: from
    memory the bare app with them, from Redis with one GET besides, from disk with one file read (results from before
    a floor: the bare app)."""
    rows = []
    runs = {r["subject"]: r for r in w1.get("runs", [])}
    workers = w1.get("workers")
    judged = w1.get("judged", ["gunicorn"])
    nginx = next((r for name, r in runs.items() if name.startswith("nginx")), None)
    size = f"{w1.get('bytes', 0):,} B"
    for name, run in runs.items():
        spread = run.get("rps_rounds", [])
        other = f"{size}; rounds {' / '.join(f'{r:,.0f}' for r in spread)} req/s" if len(spread) > 1 else size
        if run.get("cpu_ms_per_request") is not None:
            other += f"; {run['cpu_ms_per_request'] * 1000:.1f} us CPU/req, CPU wait {run['runqueue_share']:.0%}"
        if run.get("redis_cpu_ms_per_request") is not None:
            other += f"; redis-server {run['redis_cpu_ms_per_request'] * 1000:.1f} us CPU/req"
        row = Row("W1 hit", name, run["rps"], **_latency(run), other=other)
        if run.get("non_2xx") or run.get("socket_errors"):
            row.other += f"; {run['non_2xx']} non-2xx, {run['socket_errors']} socket errors"
        server = "granian" if "granian" in name else "gunicorn"
        bare = runs.get(f"bare WSGI ({server} x{workers})")
        floors = {
            "hit-memory": (runs.get(f"{BARE_HEADERS} ({server} x{workers})"), "bare + a hit's headers"),
            "hit-redis": (runs.get(f"{BARE_REDIS} ({server} x{workers})"), "bare + Redis GET"),
            "hit-disk": (runs.get(f"{BARE_DISK} ({server} x{workers})"), "bare + file read"),
        }
        if name.startswith((BARE_HEADERS, BARE_REDIS, BARE_DISK)) and bare:
            what = {BARE_HEADERS: "memory", BARE_REDIS: "Redis", BARE_DISK: "disk"}[name.rsplit(" (", 1)[0]]
            row.ratio = f"{run['rps'] / bare['rps']:.2f} x bare {server}: the floor of a {what} hit"
            by_cpu = _per_cpu(run, bare)
            if by_cpu is not None:
                row.ratio += f" (by CPU/req {by_cpu:.2f})"
        elif name.startswith("darkroom") and bare:
            tier = next((t for t in floors if t in name), "hit-memory")
            reference, label = floors.get(tier, (None, ""))
            if reference is None:
                reference, label = bare, f"bare {server}"
            ratio = run["rps"] / reference["rps"]
            by_cpu = _per_cpu(run, reference)
            row.ratio = f"{ratio:.2f} x {label}" + (f" (by CPU/req {by_cpu:.2f})" if by_cpu is not None else "")
            if server in judged:  # by CPU per request, which other load on the machine hardly moves
                row.target = f">= {W1_TARGET:.2f}"
                row.result = _judge(by_cpu if by_cpu is not None else ratio, W1_TARGET, at_least=True)
            if reference is not bare:
                row.other += f"; {run['rps'] / bare['rps']:.2f} x bare {server}"
        elif name.startswith("bare") and nginx:
            row.ratio = f"{run['rps'] / nginx['rps']:.3f} x nginx"
        rows.append(row)
    return rows


def w2_rows(w2: dict[str, Any]) -> list[Row]:
    rows = []
    for fmt, block in w2.get("formats", {}).items():
        label = fmt.upper() if fmt == "webp" else "JPEG"
        reference = block.get("anchor") or block.get("textbook", {})  # results from before issue 15 have no anchor
        against = "anchor" if "anchor" in block else "textbook"
        for key, conc in (("http_c1", 1), ("http_c8", 8)):
            stats = block.get(key)
            if not stats:
                continue
            misses = stats["x_cache"].get("miss", 0)
            other = f"n={stats['n']}, misses {misses}, {stats['renders_per_s']:.1f} renders/s"
            if stats.get("server_total_mean_ms"):
                other += f", server {stats['server_total_mean_ms']:.0f} ms"
                if stats.get("render_stages_mean_ms"):
                    other += f" (render stages {stats['render_stages_mean_ms']:.0f})"
            if stats.get("server_cpu_mean_ms"):
                other += f", service CPU {stats['server_cpu_mean_ms']:.0f} ms a request"
            if stats["non_200"]:
                other += f", non-200: {stats['non_200']}"
            row = Row("W2 cold", f"HTTP -> {label}, concurrency {conc}", None, **_latency(stats), other=other)
            if conc == 1 and reference.get("mean_ms"):
                ratio = stats["mean_ms"] / reference["mean_ms"]
                row.ratio = f"{ratio:.2f} x {against}"
                if block.get("guarded", {}).get("mean_ms"):
                    row.ratio += f", {stats['mean_ms'] / block['guarded']['mean_ms']:.2f} x guarded"
                if stats.get("server_cpu_mean_ms") and reference.get("cpu_mean_ms"):  # the same work by CPU
                    row.ratio += f"; CPU {stats['server_cpu_mean_ms'] / reference['cpu_mean_ms']:.2f} x {against}"
                row.target, row.result = f"<= {W2_TARGET:.2f}", _judge(ratio, W2_TARGET, at_least=False)
            rows.append(row)
        for name, title in (
            ("anchor", "in-process anchor (draft to output, one Lanczos)"),
            ("guarded", "in-process guarded anchor (finer draft where the anchor breaks the guard)"),
            ("textbook", "in-process textbook Pillow"),
            ("darkroom", "in-process pipeline.render"),
        ):
            stats = block.get(name)
            if stats is None:
                continue
            if "error" in stats:
                rows.append(Row("W2 cold", f"{title} -> {label}", other=stats["error"][:60]))
                continue
            row = Row(
                "W2 cold",
                f"{title} -> {label}",
                None,
                **_latency(stats),
                other=f"{stats.get('mean_bytes', 0):,.0f} B mean"
                + (f", CPU {stats['cpu_mean_ms']:.0f} ms" if stats.get("cpu_mean_ms") else ""),
            )
            if name != against and reference.get("mean_ms"):
                row.ratio = f"{stats['mean_ms'] / reference['mean_ms']:.2f} x {against}"
                if name == "darkroom" and block.get("guarded", {}).get("mean_ms"):
                    row.ratio += f", {stats['mean_ms'] / block['guarded']['mean_ms']:.2f} x guarded"
            rows.append(row)
    for fmt, data in w2.get("quality", {}).items():
        scores = ", ".join(
            f"w={w}: {s['service']:.3f} vs {s['encoder_alone']:.3f}" for w, s in data["by_width"].items()
        )
        loss = data["max_extra_loss"]
        row = Row("W2 quality", f"{fmt.upper()} SSIM vs full-quality render", other=scores)
        row.ratio = f"{loss:+.4f} SSIM lost to fast paths"
        row.target, row.result = f"<= {data['allowed']}", _judge(loss, data["allowed"], at_least=False)
        rows.append(row)
    return rows


def w3_rows(w3: dict[str, Any]) -> list[Row]:
    rows = []
    for lock, herd in w3.items():
        other = f"all {herd['clients']} answered in {herd['all_answered_ms']:.0f} ms; {herd['x_cache']}"
        if set(herd["statuses"]) != {200} or herd["distinct_bodies"] != 1:
            other += f"; statuses {herd['statuses']}, {herd['distinct_bodies']} distinct bodies"
        ok = herd["renders"] == 1 and set(herd["statuses"]) == {200}
        rows.append(
            Row(
                "W3 herd",
                f"{herd['clients']} x one cold variant ({lock})",
                None,
                **_latency(herd),
                other=other,
                ratio=f"{herd['renders']} render(s)",
                target="= 1",
                result="PASS" if ok else "FAIL",
            )
        )
    return rows


def w4_rows(w4: list[dict[str, Any]]) -> list[Row]:
    rows = []
    for case in w4:
        what = f"w={case['width']} -> {case['fmt'].upper() if case['fmt'] == 'webp' else 'JPEG'}"
        worker, textbook, pipeline = case["worker"], case["textbook"], case["pipeline"]
        other = f"{worker['growth_kb'] / 1024:.1f} MB; the web worker itself {worker['worker_growth_kb'] / 1024:.1f} MB"
        row = Row("W4 memory", f"render process peak RSS growth, 24 MP {what}", other=other)
        if "growth_kb" in textbook and textbook["growth_kb"] > 0:
            ratio = worker["growth_kb"] / textbook["growth_kb"]
            row.ratio = f"{ratio:.2f} x textbook"
            row.target, row.result = f"<= {W4_TARGET:.2f}", _judge(ratio, W4_TARGET, at_least=False)
        rows.append(row)
        for name, data in (("textbook", textbook), ("pipeline.render", pipeline)):
            other = f"{data['growth_kb'] / 1024:.1f} MB" if "growth_kb" in data else data.get("error", "")[:60]
            row = Row("W4 memory", f"in-process {name} (fresh process), {what}", other=other)
            if name != "textbook" and data.get("growth_kb", 0) > 0:
                row.ratio = f"worker {worker['growth_kb'] / data['growth_kb']:.2f} x this"
            rows.append(row)
    return rows


def w5_rows(w5: dict[str, Any]) -> list[Row]:
    if not w5:
        return []
    statuses = ", ".join(f"{k}: {v}" for k, v in sorted(w5["statuses"].items()))
    rows = [
        Row("W5 mixed", f"all kinds, {w5['wall_s']:.0f} s", w5["rps"], **_latency(w5), other=statuses),
        Row(
            "W5 mixed",
            "5xx and unanswered",
            other=str(w5["unexpected"]) if w5["unexpected"] else "",
            ratio=str(w5["status_5xx"] + w5["no_answer"]),
            target="= 0",
            result="PASS" if w5["status_5xx"] + w5["no_answer"] == 0 else "FAIL",
        ),
        Row(
            "W5 mixed",
            "4xx other than the bad requests' own",
            ratio=str(w5["unexpected_4xx"]),
            target="= 0",
            result="PASS" if w5["unexpected_4xx"] == 0 else "FAIL",
        ),
    ]
    for kind, stats in w5["kinds"].items():
        other = ", ".join(f"{k}: {v}" for k, v in sorted(stats["statuses"].items()))
        if stats["x_cache"]:
            other += "; " + ", ".join(f"{k} {v}" for k, v in sorted(stats["x_cache"].items()))
        rows.append(Row("W5 mixed", f"  {kind} (n={stats['n']})", None, **_latency(stats), other=other))
    return rows


def smart_rows(smart: dict[str, Any]) -> list[Row]:
    """W6: how often gravity=smart keeps a known subject (the target), the centre's rate, and the render cost."""
    if not smart:
        return []
    n, held = smart["n"], smart["held"]
    kinds = ", ".join(f"{kind} {got}/{of}" for kind, (got, of) in smart["by_kind"].items())
    share = held["smart"] / n
    kept = Row("W6 smart", "subject kept, gravity=smart", other=f"{held['smart']}/{n}: {kinds}; {smart['pictures']}")
    kept.ratio, kept.target = f"{share:.1%}", f">= {smart['target']:.0%}"
    kept.result = _judge(share, smart["target"], at_least=True)
    centre = Row("W6 smart", "subject kept, centre crop", other=f"{held['center']}/{n}")
    centre.ratio = f"{held['center'] / n:.1%}"
    rows = [kept, centre]
    render = smart["render"]
    for gravity, title in (("smart", "render gravity=smart -> JPEG"), ("center", "render centre crop -> JPEG")):
        row = Row("W6 smart", f"in-process {title}", None, **_latency(render[gravity]))
        if gravity == "smart":
            row.ratio = f"{render['smart']['mean_ms'] / render['center']['mean_ms']:.2f} x centre"
            row.other = f"+{render['smart']['mean_ms'] - render['center']['mean_ms']:.1f} ms a render"
        rows.append(row)
    return rows


def w7_rows(w7: dict[str, Any]) -> list[Row]:
    """W7: a cold render's original from the bucket against the disk; one host against three (shared cores)."""
    if not w7:
        return []
    if "error" in w7:
        return [Row("W7 scale-out", "not run", other=w7["error"], result="FAIL")]
    cold = w7["cold"]
    rows = [
        Row("W7 scale-out", "cold render -> WebP, original on disk", None, **_latency(cold["disk"])),
        Row(
            "W7 scale-out",
            "cold render -> WebP, original in the bucket",
            None,
            **_latency(cold["bucket"]),
            other=f"{cold['extra_ms']:+.1f} ms a render",
            ratio=f"{cold['bucket']['mean_ms'] / cold['disk']['mean_ms']:.2f} x disk",
        ),
    ]
    for kind in ("hits", "renders"):
        one, three = w7[f"{kind}_one"], w7[f"{kind}_three"]
        rows.append(Row("W7 scale-out", f"{kind}, one host", one["rps"], **_latency(one), other=str(one["statuses"])))
        rows.append(
            Row(
                "W7 scale-out",
                f"{kind}, three hosts",
                three["rps"],
                **_latency(three),
                other=str(three["statuses"]),
                ratio=f"{three['rps'] / one['rps']:.2f} x one host",
            )
        )
    errors = sum(w7[f"{kind}_{n}"]["status_5xx"] for kind in ("hits", "renders") for n in ("one", "three"))
    rows.append(Row("W7 scale-out", "5xx", ratio=str(errors), target="0", result="PASS" if errors == 0 else "FAIL"))
    return rows


def rows(results: dict[str, Any]) -> list[Row]:
    from bench import footprint  # its rows are built from this module's Row

    return [
        *w1_rows(results.get("w1", {})),
        *w2_rows(results.get("w2", {})),
        *w3_rows(results.get("w3", {})),
        *w4_rows(results.get("w4", [])),
        *footprint.rows(results, results.get("w4", [])),
        *w5_rows(results.get("w5", {})),
        *smart_rows(results.get("smart", {})),
        *thumbor_rows(results.get("thumbor", {})),
        *w7_rows(results.get("w7", {})),
    ]


def thumbor_rows(result: dict[str, Any]) -> list[Row]:
    from bench import thumbor  # bench.thumbor imports bench.hit, which imports this module

    return thumbor.rows(result)


HEADERS = ("W", "measurement", "req/s", "mean ms", "p50 ms", "p99 ms", "other", "ratio", "target", "result")


def table(results: dict[str, Any]) -> str:
    """A Markdown table (it reads as plain text too): one line per figure, ratios beside what they judge."""
    cells = [
        (
            r.workload,
            r.measurement,
            _num(r.rps, 0),
            _num(r.mean_ms),
            _num(r.p50_ms),
            _num(r.p99_ms),
            r.other,
            r.ratio,
            r.target,
            r.result,
        )
        for r in rows(results)
    ]
    widths = (
        [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(HEADERS)]
        if cells
        else [len(h) for h in HEADERS]
    )
    numeric = {2, 3, 4, 5}

    def line(values: tuple[str, ...]) -> str:
        padded = [v.rjust(widths[i]) if i in numeric else v.ljust(widths[i]) for i, v in enumerate(values)]
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join(("-" * (w + 1) + ":") if i in numeric else "-" * (w + 2) for i, w in enumerate(widths)) + "|"
    meta = results.get("meta", {})
    title = (
        f"Darkroom bench, {meta.get('started', '?')}: {meta.get('machine', '?')}; "
        f"load average before {meta.get('loadavg_before', '?')}, after {meta.get('loadavg_after', '?')}"
    )
    return "\n".join([title, "", line(HEADERS), rule, *(line(c) for c in cells)])


def verdict(results: dict[str, Any]) -> tuple[int, int]:
    marks = [r.result for r in rows(results) if r.result in ("PASS", "FAIL")]
    return marks.count("PASS"), marks.count("FAIL")


if __name__ == "__main__":
    print(table(json.loads(Path(sys.argv[1]).read_text())))
