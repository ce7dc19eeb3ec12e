"""Upload refusals that depend on limits and on how the request is framed; each a JSON error, never a 500."""

import io

import pytest
from django.test import override_settings
from PIL import Image

from .conftest import jpeg_bytes, upload

pytestmark = pytest.mark.django_db


def animated_gif(frames: int) -> bytes:
    images = [Image.new("RGB", (8, 8), (40 * i % 256, 255 - 40 * i % 256, 7 * i % 256)) for i in range(frames)]
    buffer = io.BytesIO()
    images[0].save(buffer, "GIF", save_all=True, append_images=images[1:], duration=50)
    return buffer.getvalue()


# The table of hostile files (foreign formats, corrupt data, bombs) is tests/hostile/corpus.py; these are
# the refusals that need a setting changed or a request built by hand.


@override_settings(MAX_FRAMES=5)
def test_too_many_frames(client):
    response = client.post("/api/v1/originals/", {"file": upload(animated_gif(6), "a.gif")}, format="multipart")
    assert response.status_code == 422
    assert response.json()["code"] == "too_many_frames"
    ok = client.post("/api/v1/originals/", {"file": upload(animated_gif(5), "b.gif")}, format="multipart")
    assert ok.status_code == 201 and ok.json()["frames"] == 5


@override_settings(MAX_TOTAL_PIXELS=64 * 64 * 3)
def test_too_many_pixels_over_all_frames(client):
    images = [Image.new("RGB", (64, 64), c) for c in ("red", "green", "blue", "white")]
    buffer = io.BytesIO()
    images[0].save(buffer, "GIF", save_all=True, append_images=images[1:])
    response = client.post("/api/v1/originals/", {"file": upload(buffer.getvalue(), "a.gif")}, format="multipart")
    assert response.status_code == 422 and response.json()["code"] == "too_many_pixels"


def test_26_megabytes_is_refused_from_its_content_length(client):
    data = b"\xff\xd8\xff" + b"\0" * 26_000_000
    response = client.post("/api/v1/originals/", {"file": upload(data, "huge.jpg")}, format="multipart")
    assert response.status_code == 413
    body = response.json()
    assert body["code"] == "file_too_large" and body["param"] == "file"
    assert "25,000,000" in body["error"]
    # Refused from the Content-Length before the body was parsed: the message names the declared length.
    assert "26,0" in body["error"]


@override_settings(MAX_UPLOAD_BYTES=100_000)
def test_oversize_is_refused_while_streaming(client):
    # 150 kB is under the Content-Length allowance (limit + multipart overhead), so the byte counter catches it.
    data = b"\xff\xd8\xff" + b"\0" * 150_000
    response = client.post("/api/v1/originals/", {"file": upload(data, "big.jpg")}, format="multipart")
    assert response.status_code == 413 and response.json()["code"] == "file_too_large"


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"image": upload(jpeg_bytes())}, "Send the image in the field named 'file', not 'image'."),
        ({"file": "not a file"}, "Send the image as multipart/form-data in a field named 'file', with a filename."),
    ],
)
def test_missing_file_field(client, fields, error):
    response = client.post("/api/v1/originals/", fields, format="multipart")
    assert response.status_code == 400
    assert response.json() == {"error": error, "code": "missing_file", "param": "file"}


def test_a_file_in_a_json_body_is_400(client):
    # JSON carries an import's url (test_import_url.py); a file is multipart.
    response = client.post("/api/v1/originals/", {"file": "x"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_parameter" and response.json()["param"] == "file"


def test_another_body_type_is_415(client):
    response = client.generic("POST", "/api/v1/originals/", b"<file/>", content_type="application/xml")
    assert response.status_code == 415 and response.json()["code"] == "unsupported_media_type"


def test_malformed_multipart_is_400(client):
    response = client.generic(
        "POST", "/api/v1/originals/", b"--x\r\nnonsense", content_type="multipart/form-data; boundary=x"
    )
    assert response.status_code in (400, 415)
    assert response.json()["code"] in ("malformed_request", "missing_file")


def test_garbage_after_a_jpeg_is_accepted_as_browsers_do(client):
    response = client.post(
        "/api/v1/originals/", {"file": upload(jpeg_bytes() + b"trailing garbage" * 10)}, format="multipart"
    )
    assert response.status_code == 201


@pytest.mark.parametrize(("method", "status"), [("put", 405), ("patch", 405)], ids=["put", "patch"])
def test_wrong_methods(client, method, status):
    response = getattr(client, method)("/api/v1/originals/")
    assert response.status_code == status and response.json()["code"] == "method_not_allowed"


@pytest.mark.parametrize(
    ("path", "body", "content_type"),
    [
        ("/api/v1/token/", b'{"username":"' + b"a" * 3_000_000 + b'"}', "application/json"),
        ("/api/v1/originals/", b"a=" + b"b" * 3_000_000, "application/x-www-form-urlencoded"),
        ("/api/v1/originals/", b"&".join(b"f%d=1" % i for i in range(2000)), "application/x-www-form-urlencoded"),
    ],
    ids=["json", "form", "fields"],
)
def test_oversized_non_file_bodies_are_413(client, path, body, content_type):
    response = client.generic("POST", path, body, content_type=content_type)
    assert response.status_code == 413
    assert response.json()["code"] == "body_too_large"
