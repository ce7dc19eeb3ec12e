"""The README's management-command lines, run as a newcomer runs them: a shell, no terminal, a DATA_DIR of their
own, the server started with `make run`. Each must act on that server's data, or fail loudly."""

import io
import json
import os
import re
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from tests import server as live

pytestmark = pytest.mark.slow

README = (live.ROOT / "README.md").read_text()
PASSWORD = "a-long-password-1"


def readme_lines() -> list[str]:
    """The shell block of the README's management commands, one command a line."""
    section = README[README.index("- Management commands act on the data") :]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert block is not None
    return [line.strip() for line in block[1].splitlines() if line.strip()]


LINES = readme_lines()


def the_line(*words: str) -> str:
    found = [line for line in LINES if all(word in line for word in words)]
    assert len(found) == 1, (words, LINES)
    return found[0]


@dataclass
class Newcomer:
    data_dir: Path
    port: int
    env: dict[str, str]
    server: live.Server

    def run(self, line: str, **replace: str) -> subprocess.CompletedProcess[str]:
        """A README line in bash, without a terminal, with the newcomer's paths put in."""
        line = line.replace("/tmp/darkroom", str(self.data_dir)).replace("'…'", f"'{PASSWORD}'")
        for old, new in replace.items():
            line = line.replace(old, new)
        return subprocess.run(
            ["bash", "-c", line],
            cwd=live.ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=300,
        )


@pytest.fixture(scope="module")
def newcomer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Newcomer]:
    root = tmp_path_factory.mktemp("newcomer")
    home = root / "home"
    home.mkdir()
    # Nothing of the test run's own settings: what a shell has, plus one worker to spare the machine.
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "LANG": "C.UTF-8", "WEB_CONCURRENCY": "1"}
    port = live.free_port()
    data_dir = root / "darkroom"
    line = the_line("make run").replace("PORT=9000", f"PORT={port}").replace("/tmp/darkroom", str(data_dir))
    log = open(root / "run.log", "wb")  # noqa: SIM115 - the server's, closed below
    process = subprocess.Popen(
        ["bash", "-c", line],
        cwd=live.ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    server = live.Server(process, port, data_dir)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (root / "run.log").read_text()
            try:
                server.request("GET", "/api/v1/originals/")
                break
            except OSError:
                assert time.monotonic() < deadline, "make run did not answer within 60 s"
                time.sleep(0.2)
        yield Newcomer(data_dir, port, env, server)
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # make and the server it started, the group this test made
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def test_the_readme_shows_each_kind_of_command():
    assert len(LINES) == 6, LINES
    assert all(line.startswith(("DATA_DIR=/tmp/darkroom ", "PORT=9000 DATA_DIR=/tmp/darkroom ")) for line in LINES)


def token(newcomer: Newcomer, username: str) -> int:
    body = json.dumps({"username": username, "password": PASSWORD}).encode()
    status, _, _ = newcomer.server.request("POST", "/api/v1/token/", body, {"Content-Type": "application/json"})
    return status


def test_superuser_without_a_terminal_fails_loudly(newcomer):
    answer = newcomer.run(the_line("make superuser", "asks"))
    assert answer.returncode != 0, answer.stdout
    assert "DJANGO_SUPERUSER_USERNAME" in answer.stderr and "DJANGO_SUPERUSER_PASSWORD" in answer.stderr
    assert "skipped" not in answer.stdout + answer.stderr


def test_superuser_from_the_environment_is_in_the_servers_database(newcomer):
    answer = newcomer.run(the_line("make superuser", "DJANGO_SUPERUSER_USERNAME"))
    assert answer.returncode == 0, answer.stderr
    assert token(newcomer, "admin") == 200, "the running server knows the new user"
    again = newcomer.run(the_line("make superuser", "DJANGO_SUPERUSER_USERNAME"))
    assert again.returncode != 0 and "already taken" in again.stderr


def test_warm_and_prune_act_on_the_servers_variants(newcomer):
    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), "navy").save(buffer, "JPEG")
    status, _, body = newcomer.server.upload(buffer.getvalue(), "navy.jpg")
    assert status == 201, body
    original_id = json.loads(body)["id"]
    warmed = newcomer.run(the_line("warm_variants"), Xb3k9Q2mZr1a=original_id)
    assert warmed.returncode == 0, warmed.stderr
    assert "rendered 2, already cached 0, failed 0" in warmed.stdout
    status, headers, _ = newcomer.server.request("GET", f"/image/{original_id}/?fmt=webp&w=300")
    assert status == 200 and headers["x-cache"] == "hit-disk", "the server serves what the command rendered"
    pruned = newcomer.run(the_line("prune_variants"))
    assert pruned.returncode == 0, pruned.stderr
    counted = re.search(r"^(\d+) variants, (\d+) bytes", pruned.stdout, re.MULTILINE)
    assert counted is not None and int(counted[1]) >= 2, pruned.stdout  # an empty DATA_DIR would have none


def test_backfill_makes_the_placeholders_the_server_shows(newcomer):
    """As after an upgrade: originals without placeholders get them from the command, and the server shows them; one
    whose file is gone is named, and the command fails."""
    made = []
    for colour in ("red", "blue"):
        buffer = io.BytesIO()
        Image.new("RGB", (320, 240), colour).save(buffer, "PNG")
        status, _, body = newcomer.server.upload(buffer.getvalue(), f"{colour}.png")
        assert status == 201, body
        made.append(json.loads(body))
    with sqlite3.connect(newcomer.data_dir / "darkroom.sqlite3") as database:  # as the upgrade's migration leaves them
        database.execute("UPDATE originals_original SET blurhash = NULL, dominant_color = NULL")
    filled = newcomer.run(the_line("backfill_placeholders"))
    assert filled.returncode == 0, filled.stderr
    assert re.search(r"^made \d+, already had one 0, deleted meanwhile 0, failed 0$", filled.stdout, re.MULTILINE)
    for original, colour in zip(made, ("#ff0000", "#0000ff"), strict=True):
        status, _, body = newcomer.server.request("GET", f"/api/v1/originals/{original['id']}/")
        assert (json.loads(body)["blurhash"], json.loads(body)["dominant_color"]) == (original["blurhash"], colour)
    (newcomer.data_dir / "originals" / made[0]["sha256"][:2] / f"{made[0]['sha256']}.png").unlink()
    failed = newcomer.run(the_line("backfill_placeholders").replace("placeholders", "placeholders --force"))
    assert failed.returncode != 0
    assert f"{made[0]['id']}: its file is missing from the store" in failed.stderr
    assert "1 placeholder(s) could not be made" in failed.stderr


def test_another_data_dir_is_refused_not_created(newcomer, tmp_path):
    elsewhere = tmp_path / "typo"
    answer = newcomer.run(the_line("prune_variants").replace("/tmp/darkroom", str(elsewhere)))
    assert answer.returncode != 0
    assert f"DATA_DIR={elsewhere} does not exist" in answer.stderr
    assert not elsewhere.exists(), "refused without leaving an empty DATA_DIR behind"
    elsewhere.mkdir()  # a directory, but not the server's: its database is not there
    answer = newcomer.run(the_line("prune_variants").replace("/tmp/darkroom", str(elsewhere)))
    assert answer.returncode != 0
    assert f"No migrated database for DATA_DIR={elsewhere}" in answer.stderr


def test_make_manage_takes_arguments_with_double_quotes(newcomer):
    """ARGS goes to the shell as written: its own double quotes broke the Makefile's check of it (a newcomer's
    `make manage ARGS="shell -c \\"…\\""` was a bash syntax error); with no ARGS it still says what to give."""
    quoted = newcomer.run(f'DATA_DIR={newcomer.data_dir} make -s manage ARGS="shell -c \\"print(\'quoted ok\')\\""')
    assert quoted.returncode == 0 and quoted.stdout.splitlines()[-1] == "quoted ok", quoted.stderr
    bare = newcomer.run(f"DATA_DIR={newcomer.data_dir} make -s manage")
    assert bare.returncode != 0 and "make manage needs ARGS" in bare.stderr
