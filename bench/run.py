"""`make bench`: start darkroom as `make run` does, run W1-W5 against it and its references, print one table."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import redis

from bench import anchor, cold, footprint, hit, images, memory, mixed, quality, report, scaleout, smart, thumbor, wrk
from bench.client import upload_id
from bench.procs import Fleet, Service, start_darkroom, start_redis, terminate_on_signals

WORKERS = 2  # the calibration's worker count (issue 6); W4 runs one worker so that it is known
SERVER = "granian"  # make run's (README, "Why granian"); W1 also measures the hits on gunicorn, the trial's other
HIT_QUERY = "w=500"  # of the 1200x800 photo: a JPEG of about 15 KB, the size of the calibration (issue 6)
HERD_QUERY = "w=1234&fmt=webp"
W4_CASES = [(1200, "jpeg"), (1200, "webp"), (3000, "jpeg")]
MAX_SECONDS = 900  # a run that takes longer than this is stopped (and cleaned up)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__)
    parser.add_argument("--duration", type=int, default=60, help="seconds of W5's mixed load (default 60)")
    parser.add_argument("--wrk-seconds", type=int, default=4, help="seconds of each W1 wrk run (default 4)")
    parser.add_argument("--wrk-rounds", type=int, default=3, help="interleaved wrk runs per W1 subject (default 3)")
    parser.add_argument("--quick", action="store_true", help="a short run: 10 s of W5, one 5 s wrk run, fewer widths")
    parser.add_argument(
        "--w1-servers",
        default="granian,gunicorn",
        help="comma-separated servers whose hits W1 judges (granian, as make run, and gunicorn; default both)",
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14", help="Redis for the service (its DB 14)")
    parser.add_argument("--keep-data", action="store_true", help="keep the DATA_DIRs and images in the run directory")
    parser.add_argument(
        "--only", default="w1,w2,w3,w4,w5,smart,thumbor,w7", help="comma-separated workloads to run (default all)"
    )
    args = parser.parse_args()
    if args.quick:
        args.duration, args.wrk_seconds, args.wrk_rounds = min(args.duration, 10), 5, 1
    args.only = {w.strip().lower() for w in args.only.split(",")}
    args.w1_servers = [s.strip().lower() for s in args.w1_servers.split(",") if s.strip()]
    if not set(args.w1_servers) <= {"gunicorn", "granian"} or SERVER not in args.w1_servers:
        parser.error(f"--w1-servers takes {SERVER} (always: the other workloads run on it) and gunicorn")
    return args


def _version(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except OSError:
        return "missing"
    text = (done.stdout + done.stderr).strip().splitlines()
    return text[0] if text else "?"


def machine() -> str:
    import django
    import PIL

    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    return (
        f"{os.cpu_count()} CPUs ({model}), {memory_gb:.0f} GB, Linux {platform.release()}, "
        f"Python {platform.python_version()}, Pillow {PIL.__version__}, Django {django.__version__}, "
        f"granian {_granian_version()}, {_version([sys.executable, '-m', 'gunicorn', '--version'])}, "
        f"{_version(['nginx', '-v'])}, "
        f"{_version(['wrk', '-v']).split(' [')[0]}"
    )


def _granian_version() -> str:
    try:
        from importlib.metadata import version

        return version("granian")
    except Exception:  # noqa: BLE001 - reported as missing
        return "missing"


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


class Bench:
    """One run: its directory, its fleet of processes, its results."""

    def __init__(self, args: argparse.Namespace, fleet: Fleet, run_dir: Path) -> None:
        self.args = args
        self.fleet = fleet
        self.dir = run_dir
        self.logs = run_dir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.nonce = uuid.uuid4().hex[:12]
        self.results: dict[str, Any] = {"meta": {}}
        self.redis_ids: list[str] = []  # originals whose variants this run put in Redis, removed at the end
        self.redis_url = args.redis_url

    def step(self, message: str) -> None:
        print(f"bench [{time.strftime('%H:%M:%S')}] {message}", flush=True)

    def save(self) -> Path:
        path = self.dir / "results.json"
        path.write_text(json.dumps(self.results, indent=2, default=str))
        return path

    def make_images(self) -> dict[str, Any]:
        self.step("generating photographic test images (1200x800, 4000x3000 EXIF 6, 6000x4000)")
        made: dict[str, Any] = {
            "hit": images.camera_jpeg((1200, 800), orientation=1, nonce=self.nonce, seed=1),
            "cold": images.camera_jpeg((4000, 3000), orientation=6, nonce=self.nonce, seed=2),
            "warm": images.camera_jpeg((320, 240), orientation=1, nonce=self.nonce, seed=3),
            "mixed": [
                images.camera_jpeg((800, 600), orientation=1, nonce=f"{self.nonce}-{i}", seed=10 + i)
                for i in range(12 if self.args.quick else 32)
            ],
        }
        if "w4" in self.args.only:
            made["big"] = self.dir / "images" / "24mp.jpg"
            made["big"].parent.mkdir(exist_ok=True)
            made["big"].write_bytes(images.camera_jpeg((6000, 4000), orientation=1, nonce=self.nonce, seed=4))
        return made

    def start(self, name: str, *, redis: bool, workers: int = WORKERS, memory_tier: bool = True) -> Service:
        extras = (", Redis" if redis else "") + ("" if memory_tier else ", memory tier off")
        self.step(f"starting {name} ({SERVER}, as make run, {workers} worker(s){extras})")
        url = self.redis_url if redis else ""
        data = self.dir / f"data-{name}"
        return start_darkroom(
            self.fleet, name, data, self.logs, redis_url=url, workers=workers, server=SERVER, memory_tier=memory_tier
        )

    def widths(self) -> tuple[list[int], list[int]]:
        """Concurrency 1 and 8 each get their own widths, so every request is a new variant."""
        if self.args.quick:
            return cold.widths(100, 10, 200), cold.widths(101, 10, 200)
        return cold.widths(100, 19), cold.widths(101, 19) + cold.widths(102, 19)

    def run(self) -> None:
        only = self.args.only
        self.results["meta"] = {
            "started": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": machine(),
            "loadavg_before": loadavg(),
            "args": {k: sorted(v) if isinstance(v, set) else v for k, v in vars(self.args).items()},
            "run_dir": str(self.dir),
            "wrk": f"{wrk.THREADS} threads, {wrk.CONNECTIONS} connections, "
            f"{self.args.wrk_rounds} x {self.args.wrk_seconds} s per subject, interleaved",
        }
        if "smart" in only:
            self.step("W6: smart crops of generated pictures whose subject is known, beside the centre (in process)")
            self.results["smart"] = smart.run(quick=self.args.quick)
        if "w7" in only:
            self.step("W7 scale-out: three hosts on S3 (moto), PostgreSQL and Redis against one, and disk vs bucket")
            try:
                self.results["w7"] = scaleout.run(quick=self.args.quick)
            except Exception as exc:  # noqa: BLE001 - reported in the table (PostgreSQL missing, say)
                self.results["w7"] = {"error": f"{type(exc).__name__}: {exc}"}
        if not only & {"w1", "w2", "w3", "w4", "w5", "thumbor"}:
            self.results["meta"]["loadavg_after"] = loadavg()
            return  # nothing else asked for: no service to start
        self.redis_url = start_redis(self.fleet, self.args.redis_url, self.logs)
        pictures = self.make_images()
        main = self.start("darkroom-redis", redis=True)
        self.results["footprint"] = footprint.begin(main, WORKERS)
        hit_id = upload_id(main.port, pictures["hit"], "hit.jpg")
        cold_id = upload_id(main.port, pictures["cold"], "cold-exif6.jpg")
        self.redis_ids += [hit_id, cold_id]
        disk = self.start("darkroom-disk", redis=False, memory_tier=False) if only & {"w1", "w3"} else None
        if "w1" in only and disk is not None:
            self.w1(main, disk, hit_id, pictures["hit"])
            footprint.after(self.results, "after_w1", main)
        if "thumbor" in only:
            self.results["thumbor"] = thumbor.run(self, main, f"/image/{hit_id}/?{HIT_QUERY}", pictures["hit"])
        if "w2" in only:
            self.w2(main, cold_id, pictures["cold"])
            footprint.after(self.results, "after_w2", main)
            self.results["footprint"]["tier_full"] = footprint.fill_memory_tier(main, hit_id, WORKERS)
        if "w3" in only and disk is not None:
            self.w3(main, disk, cold_id, pictures["cold"])
        if disk is not None:
            self.fleet.stop(disk)
        if "w5" in only:
            self.w5(main, hit_id, cold_id, pictures["mixed"])
        self.fleet.stop(main)
        if "w4" in only:
            self.w4(pictures["warm"], pictures["big"])
        self.results["meta"]["loadavg_after"] = loadavg()

    def w1(self, main: Service, disk: Service, hit_id: str, picture: bytes) -> None:
        path = f"/image/{hit_id}/?{HIT_QUERY}"
        target = hit.warm_hit(main, path, "hit-memory")
        redis_only = self.start("darkroom-redis-only", redis=True, memory_tier=False)
        redis_id = upload_id(redis_only.port, picture, "hit.jpg")
        self.redis_ids.append(redis_id)
        redis_target = hit.warm_hit(redis_only, f"/image/{redis_id}/?{HIT_QUERY}", "hit-redis")
        disk_id = upload_id(disk.port, picture, "hit.jpg")
        disk_target = hit.warm_hit(disk, f"/image/{disk_id}/?{HIT_QUERY}", "hit-disk")
        if not disk_target.body == redis_target.body == target.body:
            raise RuntimeError("the instances rendered different bytes for the same variant")
        judged = self.args.w1_servers
        self.step(
            f"W1 hit: starting the references (on {' and '.join(judged)}: bare WSGI alone, with a Redis GET and with a "
            f"file read; darkroom's tiers on each server but {SERVER}, which serves the rest; nginx)"
        )
        subjects = [
            hit.Subject(f"darkroom hit-memory, as make run ({SERVER} x{WORKERS})", main, path),
            hit.Subject(
                f"darkroom hit-redis, memory tier off ({SERVER} x{WORKERS})",
                redis_only,
                redis_target.path,
                redis_url=self.redis_url,
            ),
            hit.Subject(f"darkroom hit-disk, no Redis, memory tier off ({SERVER} x{WORKERS})", disk, disk_target.path),
            *hit.references(
                self.fleet,
                target,
                self.dir,
                workers=WORKERS,
                redis_url=self.redis_url,
                judged=judged,
                main_server=SERVER,
                picture=picture,
                query=HIT_QUERY,
            ),
        ]
        rounds, seconds = self.args.wrk_rounds, self.args.wrk_seconds
        self.results["w1"] = {
            "workers": WORKERS,
            "bytes": len(target.body),
            "path": path,
            "rounds": rounds,
            "judged": judged,
        }
        try:
            self.results["w1"]["runs"] = hit.measure(subjects, rounds=rounds, seconds=seconds, progress=self.step)
        finally:
            redis.Redis.from_url(self.redis_url).delete(hit.bare_redis_key(self.dir))
        for subject in subjects[3:]:
            self.fleet.stop(subject.service)
        self.fleet.stop(redis_only)

    def w2(self, main: Service, cold_id: str, source: bytes) -> None:
        c1, c8 = self.widths()
        cold.warm_workers(main, cold_id, WORKERS)
        formats: dict[str, Any] = {}
        self.results["w2"] = {"source": "4000x3000 JPEG, EXIF orientation 6", "widths_c1": c1, "formats": formats}
        for fmt in cold.FORMATS:
            self.step(f"W2 cold -> {fmt}: the guarded anchor's decode scale at each width (SSIM, untimed)")
            finer = {width: anchor.guarded_finer(source, width, fmt) for width in c1}
            guarded = {"guarded": anchor.guarded(finer)}
            self.step(
                f"W2 cold -> {fmt}: {len(c1)} new widths at concurrency 1, each followed by the same render "
                "in-process (the anchor, the guarded anchor, textbook Pillow, pipeline.render)"
            )
            block = formats[fmt] = cold.interleaved(main, cold_id, fmt, c1, source, guarded)
            block["guarded_finer"] = finer
            self.step(f"W2 cold -> {fmt}: {len(c8)} new widths at concurrency 8")
            block["http_c8"] = cold.http_cold(main, cold_id, fmt, c8, 8)
        self.step("W2 quality: SSIM of the service's variants against the full-quality render")
        self.results["w2"]["quality"] = quality.served(source, c1)

    def w3(self, main: Service, disk: Service, cold_id: str, source: bytes) -> None:
        self.step("W3 herd: 50 concurrent requests for one cold variant, with Redis, then with the file lock")
        disk_cold_id = upload_id(disk.port, source, "cold-exif6.jpg")
        self.results["w3"] = {
            "Redis lock": cold.herd(main, f"/image/{cold_id}/?{HERD_QUERY}"),
            "file lock, no Redis": cold.herd(disk, f"/image/{disk_cold_id}/?{HERD_QUERY}"),
        }

    def w4(self, warm: bytes, big: Path) -> None:
        service = self.start("darkroom-w4", redis=True, workers=1)
        self.results["footprint"]["idle_w4"] = footprint.idle(service, 1)
        big_id = upload_id(service.port, big.read_bytes(), "24mp.jpg")
        warm_id = upload_id(service.port, warm, "warm.jpg")
        self.redis_ids += [big_id, warm_id]
        self.step(f"W4 memory: {len(W4_CASES)} renders from 24 MP, each on a fresh worker and in a fresh process")
        self.results["w4"] = memory.run(service, big_id, warm_id, big, W4_CASES)
        footprint.after(self.results, "after_w4", service)
        self.fleet.stop(service)

    def w5(self, main: Service, hit_id: str, cold_id: str, uploads: list[bytes]) -> None:
        hit_paths = [f"/image/{hit_id}/?{q}" for q in (HIT_QUERY, "w=320&fmt=webp", "w=200&h=200&fit=cover")]
        hit_paths.append(f"/image/{cold_id}/?w=800")
        for path in hit_paths:
            hit.warm_hit(main, path, "hit-memory", attempts=2)
        self.step(
            f"W5 mixed: {mixed.THREADS} threads for {self.args.duration} s (hits, misses, uploads, API, bad requests)"
        )
        plan = mixed.Plan(hit_paths, [hit_id], uploads)
        self.results["w5"] = mixed.run(main, plan, self.args.duration)

    def cleanup_redis(self) -> None:
        """Remove this run's variants from Redis (its keys are unique to the run's originals)."""
        if not self.redis_ids:
            return
        try:
            client = redis.Redis.from_url(self.redis_url, socket_timeout=2)
            for original_id in self.redis_ids:
                keys = list(client.scan_iter(match=f"darkroom:v:{original_id}:*", count=500))
                if keys:
                    client.delete(*keys)
        except Exception as exc:  # noqa: BLE001 - the keys expire anyway (REDIS_VARIANT_TTL)
            print(f"bench: could not remove this run's Redis keys: {exc}", file=sys.stderr)

    def cleanup_data(self) -> None:
        if self.args.keep_data:
            return
        for path in self.dir.iterdir():
            if path.is_dir() and (path.name.startswith("data-") or path.name in ("images", "static", "thumbor")):
                shutil.rmtree(path, ignore_errors=True)


def _time_is_up(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"time limit of {MAX_SECONDS} s")


def main() -> int:
    args = parse_args()
    run_dir = Path(tempfile.mkdtemp(prefix="darkroom-bench-"))
    print(f"bench: run directory {run_dir}", flush=True)
    failed = False
    with terminate_on_signals(), Fleet() as fleet:
        bench = Bench(args, fleet, run_dir)
        signal.signal(signal.SIGALRM, _time_is_up)
        signal.alarm(MAX_SECONDS)
        try:
            bench.run()
        except KeyboardInterrupt as exc:
            print(f"\nbench: interrupted ({exc or 'Ctrl-C'}); stopping every process it started", file=sys.stderr)
            failed = True
        except Exception as exc:  # noqa: BLE001 - report it, then clean up and print what was measured
            print(f"\nbench: failed: {type(exc).__name__}: {exc}; logs in {bench.logs}", file=sys.stderr)
            failed = True
            bench.results["error"] = f"{type(exc).__name__}: {exc}"
        finally:
            signal.alarm(0)
            fleet.stop_all()
            bench.cleanup_redis()
            bench.cleanup_data()
            path = bench.save()
    print()
    print(report.table(bench.results))
    passed, failing = report.verdict(bench.results)
    print(f"\n{passed} PASS, {failing} FAIL. Results: {path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
