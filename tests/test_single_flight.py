"""50 concurrent requests for one uncached variant against the server's workers (as make run): exactly one render."""

import io
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from PIL import Image

from transforms.tests import images

from . import server as live

pytestmark = pytest.mark.slow


@pytest.fixture(params=["redis", "no-redis"])
def service(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[live.Server]:
    redis_url = "redis://127.0.0.1:6379/15" if request.param == "redis" else ""
    running = live.start(tmp_path, redis_url=redis_url, workers=4)
    yield running
    running.stop()


def test_fifty_concurrent_requests_render_once(service: live.Server):
    photo = images.encode(images.photo((4000, 3000)), "JPEG", quality=90)
    status, _, body = service.upload(photo)
    assert status == 201, body
    original = json.loads(body)
    path = f"/image/{original['id']}/?w=1200&fmt=webp"

    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(lambda _: service.request("GET", path), range(50)))

    statuses = [status for status, _, _ in answers]
    tiers = [headers["x-cache"] for _, headers, _ in answers]
    bodies = {body for _, _, body in answers}
    assert statuses == [200] * 50
    assert tiers.count("miss") == 1, tiers
    assert len(bodies) == 1
    assert Image.open(io.BytesIO(bodies.pop())).size == (1200, 900)
