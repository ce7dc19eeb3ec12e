"""The originals API as a client sees it: upload, list, detail, download, dedupe, delete, auth, throttle."""

import hashlib
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import override_settings
from rest_framework.test import APIClient

from originals.models import Original

from .conftest import jpeg_bytes, upload

pytestmark = pytest.mark.django_db


def post(client: APIClient, data: bytes, name: str = "photo.jpg"):
    return client.post("/api/v1/originals/", {"file": upload(data, name)}, format="multipart")


def stored_files() -> list[Path]:
    return [p for p in Path(settings.ORIGINALS_DIR).rglob("*") if p.is_file() and not p.name.startswith(".")]


def test_upload_records_what_the_bytes_say(client):
    data = jpeg_bytes((64, 48))
    response = post(client, data, "holiday.jpg")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["width"] == 64 and body["height"] == 48
    assert body["format"] == "JPEG" and body["mime_type"] == "image/jpeg"
    assert body["bytes"] == len(data)
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    assert body["frames"] == 1 and body["has_alpha"] is False
    assert body["filename"] == "holiday.jpg"
    assert body["url"].endswith(f"/image/{body['id']}/")
    assert response["Location"].endswith(f"/api/v1/originals/{body['id']}/")
    assert len(body["id"]) == 12 and not body["id"].isdigit()


def test_exif_orientation_gives_displayed_size(client):
    body = post(client, jpeg_bytes((64, 48), orientation=6)).json()
    assert (body["width"], body["height"]) == (48, 64)


def test_detail_list_and_download(client):
    data = jpeg_bytes()
    created = post(client, data).json()
    detail = client.get(f"/api/v1/originals/{created['id']}/")
    assert detail.status_code == 200 and detail.json() == created
    listing = client.get("/api/v1/originals/").json()
    assert listing["count"] >= 1 and listing["results"][0]["id"] == created["id"]
    download = client.get(created["original_url"])
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == data
    assert download["Content-Type"] == "image/jpeg"
    assert download["X-Content-Type-Options"] == "nosniff"


def test_list_is_newest_first_paginated_and_filtered(client):
    ids = [post(client, jpeg_bytes(color=c)).json()["id"] for c in ("red", "green", "white")]
    png = client.post(
        "/api/v1/originals/",
        {"file": upload(__import__("originals.tests.conftest", fromlist=["x"]).image_bytes("PNG"), "a.png")},
        format="multipart",
    ).json()
    page = client.get("/api/v1/originals/?page_size=2").json()
    assert [o["id"] for o in page["results"]] == [png["id"], ids[2]]
    assert page["next"] is not None
    jpegs = client.get("/api/v1/originals/?format=JPEG&page_size=100").json()
    assert {o["id"] for o in jpegs["results"]} >= set(ids) and png["id"] not in {o["id"] for o in jpegs["results"]}
    since = client.get("/api/v1/originals/", {"created_after": png["created"]}).json()
    assert [o["id"] for o in since["results"]] == [png["id"]]


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("format=TGA", "format"),
        ("created_after=yesterday", "created_after"),
        ("created_before=0001-01-01T00:00:06%2B01:00", "created_before"),  # before year 1 in UTC
        ("created_after=9999-12-31T23:59:00-01:00", "created_after"),  # after year 9999 in UTC
        ("page=abc", "page"),
        ("page=0", "page"),
        ("page_size=-1", "page_size"),
        ("page_size=0", "page_size"),
        ("page_size=101", "page_size"),  # not clamped to 100
        ("page_size=99999999999999999999", "page_size"),
        ("format=", "format"),
        ("created_before=", "created_before"),
    ],
)
def test_list_refuses_bad_parameters(client, query, param):
    response = client.get(f"/api/v1/originals/?{query}")
    assert response.status_code == 400, response.content
    assert response.json()["param"] == param


def test_unknown_id_is_404_json(client):
    for path in ("/api/v1/originals/nope/", "/api/v1/originals/nope/file/", "/api/v1/originals/" + "x" * 300 + "/"):
        response = client.get(path)
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"


def test_same_bytes_are_stored_once(client, alice_client):
    data = jpeg_bytes(color="purple")
    first = post(client, data)
    second = post(client, data, "again.jpg")
    assert first.status_code == 201 and second.status_code == 200
    assert first.json()["id"] == second.json()["id"]
    third = post(alice_client, data)  # another owner: its own record, the same file
    assert third.status_code == 201 and third.json()["id"] != first.json()["id"]
    sha = hashlib.sha256(data).hexdigest()
    assert [p.name for p in stored_files() if p.name.startswith(sha)] == [f"{sha}.jpg"]


def test_delete_needs_owner_or_staff_and_removes_the_file(client, alice_client, staff_client):
    data = jpeg_bytes(color="orange")
    mine = post(alice_client, data).json()
    anon = post(client, data).json()
    sha = mine["sha256"]
    assert client.delete(f"/api/v1/originals/{mine['id']}/").status_code == 401
    assert alice_client.delete(f"/api/v1/originals/{anon['id']}/").status_code == 403
    assert alice_client.delete(f"/api/v1/originals/{mine['id']}/").status_code == 204
    assert any(p.name.startswith(sha) for p in stored_files()), "still used by the anonymous upload"
    response = staff_client.delete(f"/api/v1/originals/{anon['id']}/")
    assert response.status_code == 204
    assert not any(p.name.startswith(sha) for p in stored_files())
    assert not Original.objects.filter(sha256=sha).exists()
    assert client.get(f"/api/v1/originals/{anon['id']}/").status_code == 404


@override_settings(ANONYMOUS_UPLOADS=False)
def test_anonymous_uploads_can_be_turned_off(client, alice_client):
    response = post(client, jpeg_bytes())
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert post(alice_client, jpeg_bytes()).status_code == 201


@override_settings(ANON_UPLOAD_RATE="2/minute")
def test_anonymous_uploads_are_throttled(client):
    cache.delete("throttle_anon_upload_127.0.0.1")
    statuses = [post(client, jpeg_bytes(color=c)).status_code for c in ("red", "blue", "gray")]
    assert statuses[:2] == [201, 201]
    assert statuses[2] == 429
    cache.delete("throttle_anon_upload_127.0.0.1")


def test_session_auth_upload_requires_csrf(alice):
    browser = APIClient(enforce_csrf_checks=True)
    browser.login(username="alice", password="alice-password-1")
    response = post(browser, jpeg_bytes())
    assert response.status_code == 403
    assert "CSRF" in response.json()["error"]


def test_schema_and_docs_are_served_locally(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/originals/" in schema.content
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "swagger-ui" in html and "cdn" not in html.lower()


def test_uploads_succeed_while_redis_hangs(client):
    """Throttling keeps its counters in Redis; a hanging Redis must cost a moment, not the upload."""
    import socket
    import time

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)  # accepts into the backlog and never answers
    url = f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    assert settings.CACHES["default"]["BACKEND"] == "django_redis.cache.RedisCache"
    caches = {"default": {**settings.CACHES["default"], "LOCATION": url}}  # the project's own options
    try:
        with override_settings(REDIS_URL=url, CACHES=caches):
            started = time.monotonic()
            response = post(client, jpeg_bytes(color="teal"))
            elapsed = time.monotonic() - started
    finally:
        server.close()
    assert response.status_code == 201
    assert elapsed < 1.5, f"upload took {elapsed:.2f}s with Redis hanging"


@override_settings(ANON_UPLOAD_RATE="100/minute", USER_UPLOAD_RATE="1/minute")
def test_the_user_throttle_does_not_count_anonymous_uploads(client, alice, alice_client):
    cache.delete("throttle_anon_upload_127.0.0.1")
    cache.delete(f"throttle_user_upload_{alice.pk}")  # user ids repeat across tests' rolled-back databases
    statuses = [post(client, jpeg_bytes(color=c)).status_code for c in ("red", "blue", "gray")]
    assert statuses == [201, 201, 201], "anonymous uploads follow ANON_UPLOAD_RATE alone"
    assert post(alice_client, jpeg_bytes(color="navy")).status_code == 201
    assert post(alice_client, jpeg_bytes(color="olive")).status_code == 429
