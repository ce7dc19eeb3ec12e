"""make bench's floors of a hit (bench/bare_wsgi.py) answer as a darkroom hit does: the same headers, as long."""

import pytest
from django.test import RequestFactory

from bench import bare_wsgi
from server.wsgi import application

from . import images

pytestmark = pytest.mark.django_db


def test_the_floors_answer_with_a_hits_headers(client, upload_original):
    original = upload_original(images.encode(images.photo((400, 300)), "JPEG"), "photo.jpg")
    path = f"/image/{original['id']}/?w=200"
    assert client.get(path)["X-Cache"] == "miss"
    answered: list[tuple[str, str]] = []
    # Hits are answered by the WSGI fast path ahead of Django (transforms/fastpath.py), as the servers call it.
    for _ in range(2):  # the first hit of a URL remembers it; the second takes the hot path
        answered.clear()
        body = b"".join(
            application(RequestFactory().get(path).environ, lambda status, headers: answered.extend(headers))
        )
    hit = dict(answered)
    assert hit["X-Cache"].startswith("hit-")
    floor = dict(bare_wsgi.hit_headers(body, hit["X-Cache"]))
    assert sorted(floor) == sorted(hit)
    assert sum(map(len, floor.values())) == pytest.approx(sum(map(len, hit.values())), abs=4)
