"""Start the service the way `make run` does (real server processes, several workers) in a throwaway DATA_DIR,
for tests; `server=` picks another of the application servers the trial compares (README, "Why <server>")."""

import http.client
import os
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


# The command line of each application server of issue 15's trial, configured alike (WEB_CONCURRENCY worker processes
# of WEB_THREADS threads; HOST and PORT from the environment), as the Makefile's SERVE_<name>. MAKE_RUN is the one
# `make run`, the Dockerfile and fly.toml use; the others stay to repeat the trial (README, "Why granian").
COMMANDS: dict[str, list[str]] = {
    "granian": [str(BIN / "python"), "-m", "server.granian_serve"],
    "gunicorn": [str(BIN / "gunicorn"), "-c", "server/gunicorn.py", "server.wsgi:application"],
}
MAKE_RUN = "granian"
# The servers the trial's tests run against, side by side (the slow clients, tests/faults, tests/test_server_trial.py,
# JSON logs, proxy headers): make run's alone in `make test`; `make trial` names them all.
TRIAL = [name.strip() for name in os.environ.get("TRIAL_SERVERS", MAKE_RUN).split(",") if name.strip()]
if unknown := set(TRIAL) - set(COMMANDS):
    raise ValueError(f"TRIAL_SERVERS names no server of tests/server.py: {sorted(unknown)}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    data_dir: Path
    host: str = "127.0.0.1"

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            conn.close()

    def raw(self, request: bytes, timeout: float = 30) -> tuple[int, dict[str, str], bytes]:
        """Bytes sent as they are, no client library to tidy them; the answer read to the connection's end and parsed
        by hand (status, headers by lower-case name, the body as sent: chunked framing left in)."""
        with socket.create_connection((self.host, self.port), timeout=timeout) as conn:
            conn.sendall(request)
            answer = b""
            while piece := conn.recv(65536):
                answer += piece
        head, _, body = answer.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in header_lines)}
        return int(status_line.split()[1]), headers, body

    def superuser(self, password: str) -> str:
        """A new staff user in this server's own database (`manage.py createsuperuser`, as the README makes one);
        its name."""
        name = f"staff{uuid.uuid4().hex[:6]}"
        env = {
            **os.environ,
            "DARKROOM_ENV": "local",
            "DATA_DIR": str(self.data_dir),
            "DJANGO_SUPERUSER_USERNAME": name,
            "DJANGO_SUPERUSER_PASSWORD": password,
            "DJANGO_SUPERUSER_EMAIL": f"{name}@example.com",
        }
        env.pop("DATABASE_URL", None)
        subprocess.run(
            [str(BIN / "python"), "manage.py", "createsuperuser", "--noinput"], cwd=ROOT, env=env, check=True
        )
        return name

    def upload(
        self, data: bytes, name: str = "photo.jpg", headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        boundary = uuid.uuid4().hex
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
                f"Content-Type: application/octet-stream\r\n\r\n"
            ).encode()
            + data
            + f"\r\n--{boundary}--\r\n".encode()
        )
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}", **(headers or {})}
        return self.request("POST", "/api/v1/originals/", body, headers)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start(
    data_dir: Path,
    *,
    redis_url: str = "",
    workers: int = 4,
    extra_env: dict[str, str] | None = None,
    log_path: Path | None = None,
    server: str = MAKE_RUN,
    host: str = "127.0.0.1",
    port: int | None = None,
    database_url: str = "",
    own_group: bool = False,
) -> Server:
    """Migrate, then run `server` (make run's by default) like `make run`; returns once it answers. `database_url`
    shares a database (else each DATA_DIR has its SQLite); `own_group` puts the server and its workers in a process
    group of their own, which a test may SIGKILL whole (os.killpg), as a host that dies."""
    env = {
        **os.environ,
        "DARKROOM_ENV": "local",
        "DATA_DIR": str(data_dir),
        "REDIS_URL": redis_url,
        "ANON_UPLOAD_RATE": "100000/hour",
        **(extra_env or {}),
    }
    env.pop("DATABASE_URL", None)
    if database_url:
        env["DATABASE_URL"] = database_url
    subprocess.run([str(BIN / "python"), "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    port = port or free_port()
    env.update(HOST=host, PORT=str(port), WEB_CONCURRENCY=str(workers))
    env["PROMETHEUS_MULTIPROC_DIR"] = str(data_dir / "prometheus")
    log = open(log_path, "ab") if log_path is not None else None  # noqa: SIM115 - owned by the process
    process = subprocess.Popen(
        COMMANDS[server],
        cwd=ROOT,
        env=env,
        stderr=log,
        start_new_session=own_group,
    )
    running = Server(process, port, data_dir, host)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{server} exited with {process.returncode}")
        try:
            running.request("GET", "/api/v1/originals/")
            return running
        except OSError:
            time.sleep(0.1)
    running.stop()
    raise RuntimeError(f"{server} did not answer within 30 s")
