"""Limits that keep one request from taking the machine: render slots, the time budget, stored variants."""

import os
import random
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client, override_settings
from PIL import Image

from transforms.variants import render_slot

from . import images

pytestmark = pytest.mark.django_db


@pytest.fixture
def original(upload_original) -> dict:
    return upload_original(images.encode(images.photo((640, 480)), "JPEG"), "p.jpg")


@override_settings(MAX_CONCURRENT_RENDERS=1, RENDER_QUEUE_SECONDS=0.05)
def test_busy_render_slots_answer_503_with_retry_after(client: Client, original):
    with render_slot():  # another request of this worker is rendering
        response = client.get(f"/image/{original['id']}/?w=101")
    assert response.status_code == 503
    assert response.json()["code"] == "overloaded" and response["Retry-After"] == "2"
    assert response["Cache-Control"] == "no-store"
    assert client.get(f"/image/{original['id']}/?w=101").status_code == 200, "the slot is free again"


@override_settings(RENDER_TIME_BUDGET_SECONDS=0.0)
def test_the_time_budget_stops_a_render(client: Client, original):
    response = client.get(f"/image/{original['id']}/?w=102")
    assert response.status_code == 503
    assert response.json()["code"] == "render_timeout" and response["Retry-After"] == "5"
    directory = Path(settings.VARIANTS_DIR) / original["id"]
    assert not [p for p in directory.glob("*") if not p.name.startswith(".")], "nothing half-done is stored"


@override_settings(MAX_VARIANTS_PER_ORIGINAL=3)
def test_stored_variants_per_original_are_capped(client: Client, original):
    for width in (10, 20, 30, 40, 50):
        assert client.get(f"/image/{original['id']}/?w={width}").status_code == 200
    directory = Path(settings.VARIANTS_DIR) / original["id"]
    assert len([p for p in directory.glob("*") if not p.name.startswith(".")]) == 3


@override_settings(RENDER_RATE="3/m")
def test_renders_are_throttled_per_client_and_hits_are_not(original):
    client = Client(REMOTE_ADDR=f"198.51.100.{random.randrange(1, 255)}")  # a client of its own in the shared cache
    for width in (11, 12, 13):
        assert client.get(f"/image/{original['id']}/?w={width}").status_code == 200
    refused = client.get(f"/image/{original['id']}/?w=14")
    assert refused.status_code == 429
    assert refused.json()["code"] == "throttled" and 1 <= int(refused["Retry-After"]) <= 60
    assert refused["Cache-Control"] == "no-store"
    for width in (11, 12, 13):  # already rendered: hits are never counted
        response = client.get(f"/image/{original['id']}/?w={width}")
        assert response.status_code == 200 and response["X-Cache"].startswith("hit-")
    other = client.get(f"/image/{original['id']}/?w=14", REMOTE_ADDR="192.0.2.7")
    assert other.status_code == 200, "another client still renders"


def test_a_render_over_the_memory_limit_answers_422(client: Client, upload_original):
    noise = Image.frombytes("RGB", (2000, 1500), os.urandom(2000 * 1500 * 3))
    big = upload_original(images.encode(noise, "PNG"), "noise.png")
    with override_settings(RENDER_MEMORY_LIMIT=40 * 2**20):
        response = client.get(f"/image/{big['id']}/?fmt=avif&w=1600")
    assert response.status_code == 422
    assert response.json()["code"] == "render_too_large" and "40 MiB" in response.json()["error"]
    assert client.get(f"/image/{big['id']}/?w=40").status_code == 200, "the next render gets a fresh process"


@pytest.mark.parametrize(
    ("remote_addr", "key"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::"),  # one /64, one client: it holds every address in it
        ("2001:db8:1:2:bbbb::9", "2001:db8:1:2::"),
        ("", "unknown"),
        ("not-an-address", "unknown"),
    ],
)
def test_render_throttle_client_key(rf, remote_addr, key):
    from transforms.throttles import client_key

    assert client_key("g", rf.get("/", REMOTE_ADDR=remote_addr)) == key
