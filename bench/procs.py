"""The processes a bench run starts (gunicorn, granian, nginx), each stopped again whatever happens."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench.client import request

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"  # every server and every request of the bench stays on loopback
START_TIMEOUT = 45.0
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@dataclass
class Service:
    """One server process listening on HOST:port; `stop` ends it and its workers."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path
    data_dir: Path | None = None
    env: dict[str, str] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return f"http://{HOST}:{self.port}{path}"

    def worker_pids(self) -> list[int]:
        """The master's direct children (gunicorn's and granian's workers)."""
        pid = self.process.pid
        with contextlib.suppress(OSError):
            return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        return []

    def sched_ns(self) -> tuple[int, int]:
        """Nanoseconds the master and its workers have run on a CPU, and waited for one (/proc/<pid>/schedstat)."""
        on_cpu = waiting = 0
        for pid in [self.process.pid, *self.worker_pids()]:
            for task in Path(f"/proc/{pid}/task").glob("*"):  # every thread: granian works in several
                with contextlib.suppress(OSError, ValueError, IndexError):
                    fields = (task / "schedstat").read_text().split()
                    on_cpu, waiting = on_cpu + int(fields[0]), waiting + int(fields[1])
        return on_cpu, waiting

    def tree_cpu_ns(self) -> int:
        """Nanoseconds on a CPU of the master and every process under it (workers, their render processes), all
        their threads, those that ended among them: what serving cost, wherever in the tree it ran. Read from each
        process's /proc/<pid>/stat: its user and system time (every thread it has had) and its reaped children's
        (a render process retired and waited for). Counting the live threads' schedstat instead lost a render process
        retired during the request, and with it all it had run: a cold JPEG measured 88 ms of CPU a request against
        150 in the run before. Clock ticks (10 ms): a difference over one request is within a tick per process."""
        ticks, pending, seen = 0, [self.process.pid], set()
        while pending:
            pid = pending.pop()
            if pid in seen:
                continue
            seen.add(pid)
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                ticks += sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime (fields 14-17)
            for task in Path(f"/proc/{pid}/task").glob("*"):
                with contextlib.suppress(OSError, ValueError):
                    pending += [int(child) for child in (task / "children").read_text().split()]
        return ticks * 1_000_000_000 // _CLOCK_TICKS

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            for worker in self.worker_pids():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(worker, signal.SIGKILL)
            self.process.kill()
            self.process.wait(timeout=5)


class Fleet:
    """Every service started in one run; a context manager that stops them all on the way out."""

    def __init__(self) -> None:
        self.services: list[Service] = []

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()

    def stop_all(self) -> None:
        while self.services:
            service = self.services.pop()
            try:
                service.stop()
            except Exception as exc:  # noqa: BLE001 - keep stopping the others
                print(f"bench: could not stop {service.name} (pid {service.process.pid}): {exc}", file=sys.stderr)

    def stop(self, service: Service) -> None:
        if service in self.services:
            self.services.remove(service)
        service.stop()

    def spawn(
        self,
        name: str,
        argv: list[str],
        *,
        env: dict[str, str],
        log: Path,
        port: int,
        probe: str,
        data_dir: Path | None = None,
    ) -> Service:
        """Start `argv` and return once `probe` answers on `port` (any HTTP status counts)."""
        with open(log, "ab") as out:
            process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        service = Service(name, process, port, log, data_dir, env)
        self.services.append(service)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}; see {log}")
            try:
                request(port, "GET", probe, timeout=2)
                return service
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{name} did not answer within {START_TIMEOUT:.0f} s; see {log}")


def darkroom_env(data_dir: Path, *, redis_url: str, workers: int) -> dict[str, str]:
    """The environment `make run` gives the service, with a throwaway DATA_DIR."""
    env = {
        **os.environ,
        "DARKROOM_ENV": "local",
        "DATA_DIR": str(data_dir),
        "REDIS_URL": redis_url,
        "WEB_CONCURRENCY": str(workers),
        "HOST": HOST,
        "PROMETHEUS_MULTIPROC_DIR": str(data_dir / "prometheus"),
        # The upload throttles would turn W5's uploads into 429s: anonymous uploads pass both the anonymous
        # (120/hour) and the per-user one (1200/hour, keyed by IP for anonymous users), whose history is kept
        # in Redis for an hour, across runs.
        "ANON_UPLOAD_RATE": "1000000/hour",
        "USER_UPLOAD_RATE": "1000000/hour",
        "RENDER_RATE": "1000000/m",  # W2, W3 and W5 render from one address
    }
    env.pop("DATABASE_URL", None)
    return env


def migrate(env: dict[str, str], log: Path) -> None:
    with open(log, "ab") as out:
        done = subprocess.run(
            [str(BIN / "python"), "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
            timeout=120,
        )
    if done.returncode != 0:
        raise RuntimeError(f"manage.py migrate exited with {done.returncode}; see {log}")


def start_darkroom(
    fleet: Fleet,
    name: str,
    data_dir: Path,
    logs: Path,
    *,
    redis_url: str = "",
    workers: int = 2,
    server: str = "granian",
    memory_tier: bool = True,
) -> Service:
    """Migrate a fresh DATA_DIR, then serve it as `make run` does (granian; or gunicorn, for comparison).

    `memory_tier=False` turns off the workers' in-memory variant cache, to measure the Redis or disk tier.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    env = darkroom_env(data_dir, redis_url=redis_url, workers=workers)
    if not memory_tier:
        env["VARIANT_MEMORY_CACHE_BYTES"] = "0"
    log = logs / f"{name}.log"
    migrate(env, log)
    port = free_port()
    env["PORT"] = str(port)
    if server == "granian":
        argv = [str(BIN / "python"), "-m", "server.granian_serve"]  # as it will be run: server/granian_serve.py
        env["MAX_REQUESTS"] = "0"  # W1 serves more than 100,000 hits a worker here: no replacement mid-measurement
    else:
        argv = [str(BIN / "gunicorn"), "-c", "server/gunicorn.py", "server.wsgi:application"]
    return fleet.spawn(name, argv, env=env, log=log, port=port, probe="/healthz", data_dir=data_dir)


def start_bare(
    fleet: Fleet,
    name: str,
    body: Path,
    content_type: str,
    logs: Path,
    *,
    server: str,
    workers: int,
    redis: tuple[str, str] | None = None,
    disk: Path | None = None,
    headers: bool = False,
) -> Service:
    """bench/bare_wsgi.py on the same server, config and worker count as darkroom.

    `redis=(url, key)` serves the body from one Redis GET of `key` a request (redis_application), `disk` from one
    read of that file a request (disk_application), `headers` from memory with a hit's headers (headers_application);
    the three answer with a darkroom hit's headers, the bare app with three.
    """
    port = free_port()
    env = {
        **os.environ,
        "BENCH_BODY_FILE": str(body),
        "BENCH_CONTENT_TYPE": content_type,
        "HOST": HOST,
        "PORT": str(port),
        "WEB_CONCURRENCY": str(workers),
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    app = "headers_application" if headers else "application"
    if redis is not None:
        env["BENCH_REDIS_URL"], env["BENCH_REDIS_KEY"] = redis
        app = "redis_application"
    if disk is not None:
        env["BENCH_DISK_FILE"] = str(disk)
        app = "disk_application"
    if server == "granian":
        # granian_serve's master, workers and per-request wrapper, as darkroom's; it preloads Django's settings
        env.update(DARKROOM_ENV="local", DATA_DIR=str(body.parent / f"data-{name}"), MAX_REQUESTS="0")
        argv = [str(BIN / "python"), "-m", "bench.granian_bare", app]
    else:
        argv = [str(BIN / "gunicorn"), "-c", "server/gunicorn.py", f"bench.bare_wsgi:{app}"]
    return fleet.spawn(name, argv, env=env, log=logs / f"{name}.log", port=port, probe="/")


NGINX_CONF = """\
daemon off;
master_process on;
worker_processes {workers};
pid {run}/nginx.pid;
error_log {run}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    client_body_temp_path {run}/client_body;
    proxy_temp_path {run}/proxy;
    fastcgi_temp_path {run}/fastcgi;
    uwsgi_temp_path {run}/uwsgi;
    scgi_temp_path {run}/scgi;
    types {{ }}
    default_type {content_type};
    server {{
        listen {host}:{port};
        root {root};
        location / {{ add_header Cache-Control "public, max-age=31536000, immutable"; }}
    }}
}}
"""


def nginx_binary() -> str:
    found = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(found).exists():
        raise RuntimeError("nginx is not installed (make bench installs it with apt-get)")
    return found


def start_nginx(fleet: Fleet, root: Path, content_type: str, run_dir: Path, *, workers: int, probe: str) -> Service:
    """nginx in the foreground on a free loopback port, serving `root` (readable by its workers)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = run_dir / "nginx.conf"
    conf.write_text(
        NGINX_CONF.format(workers=workers, run=run_dir, content_type=content_type, host=HOST, port=port, root=root)
    )
    for directory in (root, *root.parents):  # nginx's workers run as an unprivileged user: let them in
        if directory == Path("/tmp") or directory == Path("/"):
            break
        directory.chmod(directory.stat().st_mode | 0o055)
    argv = [nginx_binary(), "-e", str(run_dir / "nginx-error.log"), "-p", str(run_dir), "-c", str(conf)]
    return fleet.spawn("nginx", argv, env=dict(os.environ), log=run_dir / "nginx.log", port=port, probe=probe)


@contextlib.contextmanager
def terminate_on_signals() -> Iterator[None]:
    """SIGTERM and SIGHUP unwind the stack like Ctrl-C does, so every `finally` stops its processes."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _redis_answers(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping())
    except redis.RedisError:
        return False


def start_redis(fleet: Fleet, url: str, logs: Path) -> str:
    """`url` if its Redis answers; else a private redis-server on a free loopback port (same DB number)."""
    from urllib.parse import urlsplit

    if _redis_answers(url):
        return url
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError(f"no Redis answers at {url} and redis-server is not installed")
    port = free_port()
    database = urlsplit(url).path.lstrip("/") or "0"
    argv = [binary, "--bind", HOST, "--port", str(port), "--save", "", "--appendonly", "no"]
    log = logs / "redis.log"
    with open(log, "ab") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    fleet.services.append(Service("redis-server", process, port, log))
    private = f"redis://{HOST}:{port}/{database}"
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited with {process.returncode}; see {log}")
        if _redis_answers(private):
            return private
        time.sleep(0.1)
    raise RuntimeError(f"redis-server did not answer within {START_TIMEOUT:.0f} s; see {log}")
