"""`make run` without Redis: a moved focal point or a delete on one worker reaches the host's other workers
within half a second, through the host's event log (transforms/event_log.py), not after KNOWN_ORIGINALS_SECONDS."""

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from transforms.tests import images

from . import server as live

pytestmark = pytest.mark.slow

WORKERS = 4
PASSWORD = "events-password-1"
BOUND_SECONDS = 0.5  # every worker answers the new state this long after the change was answered
WATCH_SECONDS = 1.5  # how long new connections keep asking after the change


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[live.Server]:
    """make run's server: four workers, no Redis, its memory tier on (make run's default, which pytest turns off)."""
    root = tmp_path_factory.mktemp("local-events")
    running = live.start(
        root / "data",
        workers=WORKERS,
        extra_env={"VARIANT_MEMORY_CACHE_BYTES": str(32 * 2**20)},
        log_path=root / "server.log",
    )
    yield running
    running.stop()


@pytest.fixture(scope="module")
def token(service: live.Server) -> str:
    """A staff user in the server's own database, and an access token of theirs (deletes and PATCH need one)."""
    name = service.superuser(PASSWORD)
    body = json.dumps({"username": name, "password": PASSWORD}).encode()
    status, _, answer = service.request("POST", "/api/v1/token/", body, {"Content-Type": "application/json"})
    assert status == 200, answer
    return str(json.loads(answer)["access"])


def upload(service: live.Server, token: str) -> str:
    picture = images.marker((320, 200))
    picture.putpixel((0, 0), tuple(os.urandom(3)))  # new bytes each time: the same bytes again are the same original
    status, _, body = service.upload(images.encode(picture, "PNG"), "marker.png", {"Authorization": f"Bearer {token}"})
    assert status == 201, body
    return str(json.loads(body)["id"])


def warm_every_worker(service: live.Server, path: str) -> str:
    """Ask on new connections until every worker has answered the variant (each one's first answer is the render or a
    disk hit, then its memory tier's): every worker now remembers the original. Returns the ETag."""
    tiers: list[str] = []
    etags = set()
    while tiers.count("miss") + tiers.count("hit-disk") < WORKERS:
        assert len(tiers) < 400, f"new connections did not reach {WORKERS} workers: {tiers}"
        status, headers, _ = service.request("GET", path)
        assert status == 200
        tiers.append(headers["x-cache"])
        etags.add(headers["etag"])
    assert len(etags) == 1, etags
    return etags.pop()


def watch(service: live.Server, path: str, since: float) -> list[tuple[float, int, str, str]]:
    """(seconds after `since`, status, ETag, X-Cache) of each answer on a new connection for WATCH_SECONDS."""
    answers = []
    while time.monotonic() - since < WATCH_SECONDS:
        status, headers, _ = service.request("GET", path)
        answers.append((time.monotonic() - since, status, headers.get("etag", ""), headers.get("x-cache", "")))
    return answers


def test_a_moved_focal_point_is_used_by_every_worker_within_half_a_second(service: live.Server, token: str):
    original_id = upload(service, token)
    path = f"/image/{original_id}/?w=60&h=60&fit=cover&gravity=focal"
    old = warm_every_worker(service, path)

    body = json.dumps({"focal_x": 0.9, "focal_y": 0.1}).encode()
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    status, _, answer = service.request("PATCH", f"/api/v1/originals/{original_id}/", body, headers)
    moved = time.monotonic()
    assert status == 200, answer

    answers = watch(service, path, moved)
    stale = [at for at, _, etag, _ in answers if etag == old]
    late = [answer for answer in answers if answer[0] > BOUND_SECONDS and answer[2] == old]
    assert not late, f"{len(late)} of {len(answers)} answers still used the old point after {BOUND_SECONDS} s"
    assert {status for _, status, _, _ in answers} == {200}
    tiers = [tier for _, _, _, tier in answers]
    # One worker renders the new variant, every other one reads it from the disk once: all of them answered it.
    assert tiers.count("miss") + tiers.count("hit-disk") >= WORKERS, tiers
    last = f"{max(stale) * 1000:.0f} ms after the PATCH" if stale else "none after the PATCH"
    print(f"{len(answers)} answers; the last with the old point: {last}")


def test_a_deleted_original_is_a_404_from_every_worker_within_half_a_second(service: live.Server, token: str):
    original_id = upload(service, token)
    path = f"/image/{original_id}/?w=60"
    warm_every_worker(service, path)

    status, _, answer = service.request(
        "DELETE", f"/api/v1/originals/{original_id}/", headers={"Authorization": f"Bearer {token}"}
    )
    deleted = time.monotonic()
    assert status == 204, answer

    answers = watch(service, path, deleted)
    served = [at for at, status, _, _ in answers if status == 200]
    late = [answer for answer in answers if answer[0] > BOUND_SECONDS and answer[1] != 404]
    assert not late, f"{len(late)} of {len(answers)} answers were not 404 {BOUND_SECONDS} s after the delete"
    assert len(answers) > 4 * WORKERS
    last = f"{max(served) * 1000:.0f} ms after the DELETE" if served else "none after the DELETE"
    print(f"{len(answers)} answers; the last 200: {last}")


def test_the_workers_log_holds_one_line_per_change(service: live.Server, token: str):
    """What the two tests above relied on: the log beside the data, one `<kind>:<id>` line per change."""
    log: Path = service.data_dir / "events.log"
    before = log.read_bytes() if log.exists() else b""
    original_id = upload(service, token)
    status, _, _ = service.request(
        "DELETE", f"/api/v1/originals/{original_id}/", headers={"Authorization": f"Bearer {token}"}
    )
    assert status == 204
    assert log.read_bytes()[len(before) :] == f"deleted:{original_id}\n".encode()
    assert oct(log.stat().st_mode & 0o777) == oct(0o600)
