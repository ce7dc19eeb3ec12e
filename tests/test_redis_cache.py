"""The Django cache in Redis stores JSON: what the throttles keep round-trips, and a planted pickle never runs."""

import os
import pickle
from pathlib import Path

import pytest
from django.core.cache import cache
from django_redis import get_redis_connection
from rest_framework.test import APIClient

from originals.tests.conftest import jpeg_bytes, upload

pytestmark = pytest.mark.django_db


class Payload:
    """Unpickling this makes a directory: the harmless stand-in for a payload that runs anything it likes."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.mkdir, (str(self.marker),)


def plant(key: str, marker: Path) -> None:
    """Writes a pickle under the cache's own name for key, as anyone who can write to Redis could."""
    get_redis_connection("default").set(cache.make_key(key), pickle.dumps(Payload(marker)))


@pytest.mark.parametrize("value", [[1764671234.5, 1764671200.25], [], 7, "text", {"a": [1, 2]}, None, True])
def test_what_the_cache_holds_round_trips_as_json(value):
    cache.set("roundtrip", value, 60)
    assert cache.get("roundtrip", "missing") == value
    raw = get_redis_connection("default").get(cache.make_key("roundtrip"))
    assert not raw.startswith(b"\x80"), "not a pickle"
    cache.delete("roundtrip")


def test_a_planted_pickle_is_not_unpickled(tmp_path: Path):
    plant("planted", tmp_path / "ran")
    assert cache.get("planted", "fallback") == "fallback", "a value that is not JSON is a miss"
    assert not (tmp_path / "ran").exists(), "the pickle ran"
    assert get_redis_connection("default").get(cache.make_key("planted")) is None, "and it is deleted"

    plant("planted", tmp_path / "ran")
    cache.set("genuine", [1.5], 60)
    assert cache.get_many(["planted", "genuine"]) == {"genuine": [1.5]}
    assert not (tmp_path / "ran").exists()
    cache.delete("genuine")


def test_a_pickle_planted_under_a_throttle_key_costs_a_miss_not_a_500(tmp_path: Path):
    key = "throttle_anon_upload_127.0.0.1"  # DRF's key for this client's upload history
    plant(key, tmp_path / "ran")
    response = APIClient().post("/api/v1/originals/", {"file": upload(jpeg_bytes(color="teal"))}, format="multipart")
    assert response.status_code == 201
    assert not (tmp_path / "ran").exists()
    assert isinstance(cache.get(key), list), "the throttle wrote its history again, as JSON"
    cache.delete(key)
