"""fly.toml and the Dockerfile agree with the code: the port granian binds, the volume, the health checks."""

import json
import os
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import Resolver404, resolve

ROOT = Path(__file__).resolve().parent.parent
FLY = tomllib.loads((ROOT / "fly.toml").read_text())


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) for each instruction, continuation lines joined and comments dropped."""
    instructions, pending = [], ""
    for raw in (ROOT / "Dockerfile").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, arguments = (pending + line).partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    return instructions


def runtime_stage() -> list[tuple[str, str]]:
    """The instructions of the last stage: the image that runs."""
    instructions = dockerfile_instructions()
    start = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[start:]


def image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, arguments in runtime_stage():
        if keyword == "ENV":
            for token in shlex.split(arguments):
                name, _, value = token.partition("=")
                env[name] = value
    return env


def image_exec_form(keyword: str) -> list[str]:
    """The last CMD or ENTRYPOINT, which must be in exec (JSON) form so signals reach the server."""
    arguments = [arguments for kw, arguments in runtime_stage() if kw == keyword][-1]
    value = json.loads(arguments)
    assert isinstance(value, list), f"{keyword} must be a JSON list (exec form), got {arguments}"
    return value


def repo_path(image_path: str) -> Path:
    """The file in this repository that COPY . /app puts at image_path."""
    workdir = [arguments for kw, arguments in runtime_stage() if kw == "WORKDIR"][-1]
    return ROOT / Path(image_path).relative_to(workdir)


def fly_checks() -> list[dict[str, Any]]:
    """Every HTTP health check fly.toml declares, in any of the places it can declare one."""
    checks = list(FLY.get("http_service", {}).get("checks", []))
    for service in FLY.get("services", []):
        checks += service.get("http_checks", [])
    checks += [check for check in FLY.get("checks", {}).values() if check.get("type") == "http"]
    return checks


def test_fly_toml_names_the_app_the_build_and_no_release_command():
    assert FLY["app"] and FLY["primary_region"]
    assert FLY["build"].get("dockerfile", "Dockerfile") == "Dockerfile"
    # Fly's release_command runs on a Machine without the volume: migrating there would miss the database.
    assert "release_command" not in FLY.get("deploy", {})
    assert "migrate" in (ROOT / "docker-entrypoint.sh").read_text()


def image_server_options(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What the image's command starts granian with, under the image's env and fly.toml's."""
    command = image_exec_form("CMD")
    assert command == ["python", "-m", "server.granian_serve"], "the image serves with server/granian_serve.py"
    for name, value in {**image_env(), **FLY["env"]}.items():
        if name in ("HOST", "PORT", "WEB_CONCURRENCY", "WEB_THREADS", "WORKER_MAX_RSS_MB"):
            monkeypatch.setenv(name, value)
    from server import granian_serve

    return granian_serve.options()


def test_internal_port_is_the_port_granian_binds_in_the_image(monkeypatch):
    env = image_env()
    port = int(env["PORT"])
    assert FLY["http_service"]["internal_port"] == port
    assert int(FLY["env"].get("PORT", port)) == port
    exposed = [int(p.split("/")[0]) for kw, args in runtime_stage() if kw == "EXPOSE" for p in args.split()]
    assert exposed == [port]

    options = image_server_options(monkeypatch)
    assert (options["address"], options["port"]) == ("0.0.0.0", port), "the proxy reaches the Machine's own address"
    assert options["workers"] == int(FLY["env"].get("WEB_CONCURRENCY", env["WEB_CONCURRENCY"]))


def test_the_servers_are_runtime_requirements():
    """The image and `make run` install requirements.txt alone: both servers must be there, pinned."""
    pins = dict(
        line.split("#")[0].strip().split("==")
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if "==" in line.split("#")[0]
    )
    assert {"granian", "gunicorn"} <= set(pins), "the servers of make run (SERVER=granian|gunicorn)"


def test_the_image_runs_under_an_init_that_reaps_orphans():
    """granian's master would be PID 1, and does not reap processes it did not start (a render process whose worker
    was SIGKILLed is re-parented to PID 1): tini is, and passes signals on."""
    entrypoint = image_exec_form("ENTRYPOINT")
    assert entrypoint[:2] == ["/usr/bin/tini", "--"]
    installs = " ".join(args for kw, args in runtime_stage() if kw == "RUN")
    assert "install" in installs and " tini" in installs


def test_entrypoint_is_in_the_image_and_executable():
    entrypoint = repo_path(image_exec_form("ENTRYPOINT")[-1])
    assert entrypoint.is_file()
    assert entrypoint.stat().st_mode & 0o111, f"{entrypoint.name} must be executable"


def test_the_volume_is_the_data_dir():
    mounts = FLY["mounts"] if isinstance(FLY["mounts"], list) else [FLY["mounts"]]
    assert len(mounts) == 1
    destination = mounts[0]["destination"]
    assert image_env()["DATA_DIR"] == destination
    assert FLY["env"].get("DATA_DIR", destination) == destination
    volumes = [args for kw, args in runtime_stage() if kw == "VOLUME"]
    assert volumes and destination in json.loads(volumes[-1])


def test_both_stages_share_one_pinned_base():
    bases = {args.split()[0] for kw, args in dockerfile_instructions() if kw == "FROM"}
    assert len(bases) == 1, f"the virtualenv is copied between stages, so they need the same Python: {bases}"
    (base,) = bases
    assert ":" in base and not base.endswith(":latest"), f"pin the base image's tag: {base}"


@pytest.mark.parametrize("path", [check["path"] for check in fly_checks()] + ["/healthz"])
def test_health_check_paths_exist(path):
    try:
        resolve(path)
    except Resolver404:
        pytest.fail(f"health check path {path} is not in the URLconf")


def test_fly_checks_and_the_image_healthcheck_use_liveness():
    assert [check["path"] for check in fly_checks()] == ["/healthz"]
    healthcheck = " ".join(args for kw, args in runtime_stage() if kw == "HEALTHCHECK")
    assert "/healthz" in healthcheck


def test_health_checks_answer_whatever_host_the_prober_sends(settings):
    # Fly's checks (and the image's HEALTHCHECK) use the Machine's own address as the Host header, which
    # ALLOWED_HOSTS rightly refuses elsewhere; a 400 there would take the Machine out of routing.
    settings.ALLOWED_HOSTS = ["darkroom.fly.dev"]
    for host in ("172.19.17.130:8080", "127.0.0.1:8080", "[fdaa:0:1::2]:8080"):
        response = Client().get("/healthz", HTTP_HOST=host)
        assert response.status_code == 200, f"/healthz with Host {host}: {response.status_code}"


def test_fly_trusts_its_proxy_not_everyone_and_signs_urls():
    """Django, started with the image's and fly.toml's env, believes the proxy's headers from Fly's private ranges
    alone; granian's scheme is taken from the same list (server/granian_serve.py: WorkerApplication asks
    server.middleware.is_trusted_proxy, tests/test_operations.py checks it live)."""
    assert "FORWARDED_ALLOW_IPS" not in FLY["env"], "TRUSTED_PROXIES is the one list"
    env = {k: v for k, v in os.environ.items() if k not in ("DARKROOM_ENV", "URL_SIGNING", "TRUSTED_PROXIES")}
    env.update({**image_env(), **FLY["env"], "SECRET_KEY": "s" * 50, "DATA_DIR": os.environ["DATA_DIR"]})
    probe = (
        "import json; from server import settings as s; "
        "print(json.dumps([[str(n) for n in s.TRUSTED_PROXIES], s.URL_SIGNING, s.CLIENT_IP_HEADER]))"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    trusted_proxies, signing, header = json.loads(out.stdout)
    assert trusted_proxies == FLY["env"]["TRUSTED_PROXIES"].split(",")
    assert all(not n.endswith("/0") for n in trusted_proxies)
    assert signing == "presets" and header == "Fly-Client-IP"


def test_fly_sends_a_machine_no_more_requests_than_its_threads(monkeypatch):
    """A slow upload holds one of a worker's threads: Fly's hard limit fits the workers' threads."""
    options = image_server_options(monkeypatch)
    concurrency = FLY["http_service"]["concurrency"]
    assert concurrency["soft_limit"] <= concurrency["hard_limit"] <= options["workers"] * options["blocking_threads"]
