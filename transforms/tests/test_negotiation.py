"""fmt=auto through HTTP: AVIF, then WebP, then the default, as far as each can hold the picture, with Vary."""

import io

import pytest
from django.test import Client
from PIL import Image

from . import images

pytestmark = pytest.mark.django_db

CHROME = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"
WEBP_ONLY = "image/webp,image/*,*/*;q=0.8"


def auto(client: Client, oid: str, query: str, accept: str):
    response = client.get(f"/image/{oid}/?fmt=auto&{query}".rstrip("&"), HTTP_ACCEPT=accept)
    assert response.status_code == 200, response.content[:200]
    assert response["Vary"] == "Accept"
    return response


@pytest.mark.parametrize(
    ("accept", "expected"),
    [(CHROME, "image/avif"), (WEBP_ONLY, "image/webp"), ("image/png,*/*", "image/jpeg"), ("", "image/jpeg")],
)
def test_avif_first(client: Client, upload_original, accept: str, expected: str) -> None:
    oid = upload_original(images.encode(images.photo((300, 200)), "JPEG"), "p.jpg")["id"]
    response = auto(client, oid, "w=100", accept)
    assert response["Content-Type"] == expected
    assert Image.open(io.BytesIO(response.content)).size == (100, 67)


def test_a_picture_over_avif_budget_gets_webp(client: Client, upload_original) -> None:
    # 3000x2000 = 6 MP: over AVIF's 4.2 MP a frame, within WebP's 12 MP
    oid = upload_original(images.encode(images.marker((3000, 2000)), "JPEG"), "big.jpg")["id"]
    assert auto(client, oid, "", CHROME)["Content-Type"] == "image/webp"
    assert auto(client, oid, "w=2000", CHROME)["Content-Type"] == "image/avif"  # 2.7 MP
    assert client.get(f"/image/{oid}/?fmt=avif").status_code == 422, "asked for by name, it is refused"


def test_an_animation_stays_animated(client: Client, upload_original) -> None:
    oid = upload_original(images.animation("GIF"), "a.gif")["id"]
    response = auto(client, oid, "", CHROME)
    assert response["Content-Type"] == "image/webp", "AVIF here is a still: WebP keeps the frames"
    assert response["X-Animation"] == "kept"
    assert auto(client, oid, "", "image/avif,*/*")["Content-Type"] == "image/gif"


def test_the_order_is_a_setting(client: Client, upload_original, settings) -> None:
    oid = upload_original(images.encode(images.photo((300, 200)), "JPEG"), "p.jpg")["id"]
    assert auto(client, oid, "w=90", CHROME)["Content-Type"] == "image/avif"
    settings.AUTO_FORMATS = ["webp", "avif"]
    assert auto(client, oid, "w=90", CHROME)["Content-Type"] == "image/webp"
    settings.AUTO_FORMATS = []
    assert auto(client, oid, "w=90", CHROME)["Content-Type"] == "image/jpeg"


def test_each_negotiated_format_is_its_own_variant(client: Client, upload_original) -> None:
    oid = upload_original(images.encode(images.photo((300, 200)), "JPEG"), "p.jpg")["id"]
    avif, webp = auto(client, oid, "w=80", CHROME), auto(client, oid, "w=80", WEBP_ONLY)
    assert avif["ETag"] != webp["ETag"]
    assert avif["ETag"] == client.get(f"/image/{oid}/?fmt=avif&w=80")["ETag"], "auto's AVIF is fmt=avif's"
    again = client.get(f"/image/{oid}/?fmt=auto&w=80", HTTP_ACCEPT=CHROME, HTTP_IF_NONE_MATCH=avif["ETag"])
    assert again.status_code == 304 and again["Vary"] == "Accept"
