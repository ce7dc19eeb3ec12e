"""Limits that keep one request from taking the machine: render slots, the time budget, stored variants."""

from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client, override_settings

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
