"""Every hostile upload gets a deliberate status and a JSON error naming the problem; never a 500."""

import hashlib
import io
from pathlib import Path

import pytest
from django.conf import settings
from django.test import override_settings
from PIL import Image

from .conftest import image_bytes, jpeg_bytes, png_declaring, upload

pytestmark = pytest.mark.django_db


def truncated_jpeg() -> bytes:
    data = jpeg_bytes((400, 300))
    return data[: len(data) // 2]


def jpeg_declaring(width: int, height: int) -> bytes:
    """A real small JPEG whose SOF0 marker is rewritten to declare another size."""
    data = bytearray(jpeg_bytes((16, 16)))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return bytes(data)


def png_with_bad_header_crc() -> bytes:
    good = image_bytes("PNG")
    return good[:29] + b"\x00\x00\x00\x00" + good[33:]


def animated_gif(frames: int) -> bytes:
    images = [Image.new("RGB", (8, 8), (40 * i % 256, 255 - 40 * i % 256, 7 * i % 256)) for i in range(frames)]
    buffer = io.BytesIO()
    images[0].save(buffer, "GIF", save_all=True, append_images=images[1:], duration=50)
    return buffer.getvalue()


def fits_header() -> bytes:
    cards = [
        "SIMPLE  =                    T",
        "BITPIX  =                    8",
        "NAXIS   =                    0",
        "END",
    ]
    return "".join(card.ljust(80) for card in cards).ljust(2880).encode()


SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script><rect width="5" height="5"/></svg>'

REFUSALS = [
    # (case, bytes, client filename, status, code)
    ("text named .jpg", b"just some text, not a picture\n", "photo.jpg", 415, "unsupported_format"),
    ("html named .png", b"<!doctype html><script>alert(1)</script>", "x.png", 415, "unsupported_format"),
    ("svg with script", SVG, "logo.svg", 415, "unsupported_format"),
    ("svg named .png", SVG, "logo.png", 415, "unsupported_format"),
    ("zero bytes", b"", "empty.jpg", 400, "empty_file"),
    ("pdf", b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF", "doc.jpg", 415, "unsupported_format"),
    ("TGA", image_bytes("TGA"), "x.tga", 415, "unsupported_format"),
    ("PCX", image_bytes("PCX"), "x.pcx", 415, "unsupported_format"),
    ("SGI", image_bytes("SGI"), "x.sgi", 415, "unsupported_format"),
    ("DDS", image_bytes("DDS", mode="RGBA"), "x.dds", 415, "unsupported_format"),
    ("JPEG 2000", image_bytes("JPEG2000"), "x.jp2", 415, "unsupported_format"),
    ("EPS", image_bytes("EPS"), "x.eps", 415, "unsupported_format"),
    ("FITS", fits_header(), "x.fits", 415, "unsupported_format"),
    ("truncated JPEG", truncated_jpeg(), "cut.jpg", 422, "corrupt_image"),
    ("PNG with a bad header CRC", png_with_bad_header_crc(), "crc.png", 422, "corrupt_image"),
    ("PNG header only", b"\x89PNG\r\n\x1a\n", "stub.png", 422, "corrupt_image"),
    ("PNG bomb 50000x50000", png_declaring(50_000, 50_000), "bomb.png", 422, "too_many_pixels"),
    ("PNG 8000x8000 over 50 MP", png_declaring(8_000, 8_000), "big.png", 422, "too_many_pixels"),
    ("JPEG declaring 30000x30000", jpeg_declaring(30_000, 30_000), "bomb.jpg", 422, "too_many_pixels"),
    ("PNG declaring 0x0", png_declaring(0, 0), "zero.png", 422, "corrupt_image"),
]


@pytest.mark.parametrize(("case", "data", "name", "status", "code"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_refused_uploads(client, case, data, name, status, code):
    response = client.post("/api/v1/originals/", {"file": upload(data, name)}, format="multipart")
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code
    assert body["error"] and "\n" not in body["error"]
    assert response["Cache-Control"] == "no-store"
    sha = hashlib.sha256(data).hexdigest()
    assert not list(Path(settings.ORIGINALS_DIR).rglob(f"{sha}.*")), "a refused upload must not be stored"


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


def test_missing_file_field(client):
    response = client.post("/api/v1/originals/", {"image": upload(jpeg_bytes())}, format="multipart")
    assert response.status_code == 400
    assert response.json() == {
        "error": "Send the image as multipart/form-data in a field named 'file', with a filename.",
        "code": "missing_file",
        "param": "file",
    }


def test_json_body_is_415(client):
    response = client.post("/api/v1/originals/", {"file": "x"}, format="json")
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
