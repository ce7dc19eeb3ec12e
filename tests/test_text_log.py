"""The local text log (LOG_FORMAT=text) carries a request's route, status, duration, cache tier and bytes, as the
JSON log does; read from the console handler the settings configure, with its own formatter."""

import io
import logging
import re
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.test import Client
from PIL import Image

pytestmark = pytest.mark.django_db

LINE = re.compile(
    r"INFO darkroom\.request \[[0-9a-f]{32}\] (?P<method>[A-Z]+) (?P<path>\S+) (?P<status>\d{3}) "
    r"route=(?P<route>\S+) (?P<ms>\d+(\.\d+)?)ms cache=(?P<cache>\S+) bytes=(?P<bytes>\S+)$"
)


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), "teal").save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def console() -> Iterator[io.StringIO]:
    """What the settings' console handler writes, formatter and all."""
    handler = next(h for h in logging.getLogger().handlers if isinstance(h, logging.StreamHandler))
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    try:
        yield buffer
    finally:
        handler.setStream(previous)


def logged(console: io.StringIO, path: str) -> dict[str, str]:
    for line in console.getvalue().splitlines():
        match = LINE.search(line)
        if match and match["path"].startswith(path):
            return match.groupdict()
    raise AssertionError(f"no request line for {path}")


def test_the_quick_start_logs_text():
    assert settings.LOG_FORMAT == "text"


def test_request_lines_carry_route_status_duration_cache_and_bytes(console):
    client = Client()
    created = client.post("/api/v1/originals/", {"file": io.BytesIO(png())})
    assert created.status_code == 201
    line = logged(console, "/api/v1/originals/")
    assert (line["method"], line["status"], line["route"], line["cache"]) == ("POST", "201", "original-list", "-")
    assert line["bytes"] == str(len(created.content))

    original_id = created.json()["id"]
    variant = client.get(f"/image/{original_id}/?w=20")
    line = logged(console, f"/image/{original_id}/")
    assert (line["status"], line["route"], line["cache"]) == ("200", "image", "miss")
    assert line["bytes"] == variant["Content-Length"] and float(line["ms"]) > 0

    client.get("/no/such/thing/")
    line = logged(console, "/no/such/thing/")
    assert (line["status"], line["route"]) == ("404", "unmatched")
