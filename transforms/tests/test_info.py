"""GET /image/<id>/info/: the variant's plan as JSON, with the refusals and signature of /image/, never a render."""

import io
from decimal import Decimal

import pytest
from django.test import Client, override_settings
from PIL import Image

from originals.models import Original
from originals.services import original_focus
from transforms.render_pool import render_pool

from . import images

pytestmark = pytest.mark.django_db

CHROME = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"


@pytest.fixture
def photo(upload_original) -> str:
    return str(upload_original(images.encode(images.marker((1600, 1200)), "JPEG"), "photo.jpg")["id"])


def info(client: Client, oid: str, query: str) -> dict:
    response = client.get(f"/image/{oid}/info/?{query}")
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == "application/json"
    return response.json()


# (query, variant size, picture size, crop as x, y, width, height of the 1600x1200 original, format)
PLANS = [
    ("", (1600, 1200), (1600, 1200), (0, 0, 1600, 1200), "jpeg"),
    ("w=400", (400, 300), (400, 300), (0, 0, 1600, 1200), "jpeg"),
    ("w=400&fmt=png", (400, 300), (400, 300), (0, 0, 1600, 1200), "png"),
    ("w=200&h=200&fit=cover", (200, 200), (200, 200), (200, 0, 1200, 1200), "jpeg"),
    ("w=300&h=100&fit=cover", (300, 100), (300, 100), (0, 333.5, 1600, 533), "jpeg"),
    ("w=200&h=200&fit=pad&bg=000000", (200, 200), (200, 150), (0, 0, 1600, 1200), "jpeg"),
    ("w=100&h=200&fit=fill", (100, 200), (100, 200), (0, 0, 1600, 1200), "jpeg"),
    ("w=150&h=200&fit=cover&rotate=90", (150, 200), (150, 200), (0, 0, 1600, 1200), "jpeg"),
    ("w=200&h=100&fit=cover&rotate=90", (200, 100), (200, 100), (500, 0, 600, 1200), "jpeg"),
    ("w=300&dpr=2&fmt=webp", (600, 450), (600, 450), (0, 0, 1600, 1200), "webp"),
    ("w=5000", (1600, 1200), (1600, 1200), (0, 0, 1600, 1200), "jpeg"),  # never enlarged
    ("crop=100,200,800,400", (800, 400), (800, 400), (100, 200, 800, 400), "jpeg"),
    ("crop=0.5,0.0,0.5,1.0&w=400", (400, 600), (400, 600), (800, 0, 800, 1200), "jpeg"),  # fractions, resolved
    ("w=200&h=200&fit=cover&gravity=nw", (200, 200), (200, 200), (0, 0, 1200, 1200), "jpeg"),
    ("w=200&h=200&fit=cover&gravity=e", (200, 200), (200, 200), (400, 0, 1200, 1200), "jpeg"),
    ("w=200&h=200&fit=cover&gravity=focal", (200, 200), (200, 200), (200, 0, 1200, 1200), "jpeg"),  # none: centre
    ("crop=0,0,800,1200&w=100&h=100&fit=cover&gravity=s", (100, 100), (100, 100), (0, 400, 800, 800), "jpeg"),
    ("w=200&h=200&fit=cover&gravity=smart", (200, 200), (200, 200), (None, None, 1200, 1200), "jpeg"),
    ("crop=0,0,1200,1200&w=200&h=200&fit=cover&gravity=smart", (200, 200), (200, 200), (0, 0, 1200, 1200), "jpeg"),
]


@pytest.mark.parametrize(("query", "size", "picture", "crop", "fmt"), PLANS)
def test_the_plan(client: Client, photo: str, query: str, size, picture, crop, fmt) -> None:
    body = info(client, photo, query)
    assert body["original"] == {
        "id": photo,
        "width": 1600,
        "height": 1200,
        "format": "JPEG",
        "frames": 1,
        "has_alpha": False,
    }
    variant = body["variant"]
    assert (variant["width"], variant["height"]) == size
    assert (variant["picture"]["width"], variant["picture"]["height"]) == picture
    assert (variant["format"], variant["content_type"]) == (fmt, f"image/{fmt}")
    assert tuple(body["crop"].values()) == crop and list(body["crop"]) == ["x", "y", "width", "height"]
    assert body["focal_point"] is None


@pytest.mark.parametrize("query", ["w=400", "w=200&h=200&fit=cover&rotate=90", "w=200&h=200&fit=pad&fmt=png", ""])
def test_it_says_what_image_then_serves_without_rendering(client: Client, photo: str, query: str, monkeypatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(render_pool, "render", lambda *args, **kwargs: calls.append("render"))
    monkeypatch.setattr(Image, "open", lambda *args, **kwargs: calls.append("open"))
    variant = info(client, photo, query)["variant"]
    assert calls == [], "nothing is opened, decoded or rendered"
    monkeypatch.undo()
    served = client.get(variant["url"])
    assert served.status_code == 200 and served["ETag"] == variant["etag"]
    assert served["Content-Type"] == variant["content_type"]
    assert Image.open(io.BytesIO(served.content)).size == (variant["width"], variant["height"])


def test_auto_is_negotiated_and_varies(client: Client, photo: str) -> None:
    response = client.get(f"/image/{photo}/info/?w=300&fmt=auto", HTTP_ACCEPT=CHROME)
    assert response["Vary"] == "Accept" and response.json()["variant"]["format"] == "avif"
    assert response.json()["variant"]["negotiated"] is True
    plain = client.get(f"/image/{photo}/info/?w=300&fmt=auto", HTTP_ACCEPT="image/png,*/*")
    assert plain.json()["variant"]["format"] == "jpeg"
    assert "Vary" not in client.get(f"/image/{photo}/info/?w=300")


def test_animation_and_alpha(client: Client, upload_original) -> None:
    gif = upload_original(images.animation("GIF"), "a.gif")["id"]
    body = info(client, gif, "w=20&fmt=webp")
    assert body["original"]["frames"] == 3
    assert (body["variant"]["frames"], body["variant"]["animation"]) == (3, "kept")
    still = info(client, gif, "fmt=png")["variant"]
    assert (still["frames"], still["animation"]) == (1, "first-frame")
    png = upload_original(images.rgba_png(), "a.png")["id"]
    assert info(client, png, "")["original"]["has_alpha"] is True


def test_caching_headers_and_304(client: Client, photo: str) -> None:
    first = client.get(f"/image/{photo}/info/?w=64")
    assert first["Cache-Control"] == "public, max-age=300" and first["X-Content-Type-Options"] == "nosniff"
    again = client.get(f"/image/{photo}/info/?w=064&rotate=0", HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304 and again.content == b""
    head = client.head(f"/image/{photo}/info/?w=64")
    assert head.status_code == 200 and head.content == b"" and head["Content-Length"] == first["Content-Length"]


@pytest.mark.parametrize(
    ("path", "status", "code", "param"),
    [
        ("{id}/info/?w=abc", 400, "invalid_parameter", "w"),
        ("{id}/info/?blur=0", 400, "out_of_range", "blur"),
        ("{id}/info/?w=1&w=2", 400, "repeated_parameter", "w"),
        ("{id}/info/?width=2", 400, "unknown_parameter", "width"),
        ("AAAAAAAAAAAA/info/?w=10", 404, "not_found", "id"),
        ("AAAAAAAAAAAA/info/?w=abc", 400, "invalid_parameter", "w"),  # the query is judged first
        ("{id}/info/?fmt=avif", 422, "format_limit", "fmt"),  # 1.9 MP fits; see the big original below
        ("{id}/info/?w=200&h=8000&fit=pad", 400, "pad_too_large", "fit"),
        ("{id}/info/?blur=2&sharpen=1", 200, None, None),
    ],
)
def test_the_refusals_of_image(client: Client, upload_original, path: str, status: int, code, param) -> None:
    big = upload_original(images.encode(images.marker((3000, 2000)), "JPEG"), "big.jpg")["id"]
    response = client.get("/image/" + path.format(id=big))
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json"
    if code is not None:
        assert (response.json()["code"], response.json()["param"]) == (code, param)
        assert response["Cache-Control"] == "no-store"
        image = client.get("/image/" + path.format(id=big).replace("info/", ""))
        assert (image.status_code, image.json()) == (status, response.json()), "the same words as /image/"


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_other_methods_are_405(client: Client, photo: str, method: str) -> None:
    response = getattr(client, method)(f"/image/{photo}/info/?w=10")
    assert response.status_code == 405 and response.json()["code"] == "method_not_allowed"
    assert response["Allow"] == "GET, HEAD, OPTIONS"


@override_settings(URL_SIGNING="presets", URL_SIGNING_KEYS=["k" * 32], WIDTH_LADDER=[160, 320])
def test_signed_like_the_image(client: Client, photo: str) -> None:
    from transforms.links import variant_path
    from transforms.spec import VariantSpec

    assert client.get(f"/image/{photo}/info/?w=320").status_code == 200, "a ladder width is public"
    unsigned = client.get(f"/image/{photo}/info/?w=300&gray=1")
    assert unsigned.status_code == 403 and unsigned.json()["code"] == "signature_required"
    signed_image = variant_path(photo, VariantSpec(w=300, gray=1))  # /image/<id>/?gray=1&w=300&sig=…
    signed_info = signed_image.replace("/?", "/info/?")
    body = info(client, photo, signed_info.split("?", 1)[1])
    assert body["variant"]["url"] == signed_image
    forged = client.get(signed_info.replace("w=300", "w=301"))
    assert forged.status_code == 403 and forged.json()["code"] == "invalid_signature"


def test_the_focal_point_and_the_box_it_places(client: Client, photo: str) -> None:
    original = Original.objects.get(pk=photo)
    original_focus(original=original, focal_x=Decimal("0.9"), focal_y=Decimal("0.25"))
    body = info(client, photo, "w=200&h=200&fit=cover&gravity=focal")
    assert body["focal_point"] == {"x": 0.9, "y": 0.25}
    assert body["crop"] == {"x": 400, "y": 0, "width": 1200, "height": 1200}, "as near 1440,300 as the picture allows"
    assert body["variant"]["url"] == f"/image/{photo}/?fit=cover&gravity=focal&h=200&w=200"
    tall = info(client, photo, "w=400&h=100&fit=cover&gravity=focal")["crop"]
    assert tall == {"x": 0, "y": 100, "width": 1600, "height": 400}, "centred on y=300"
    original_focus(original=original, focal_x=None, focal_y=None)
    assert info(client, photo, "w=200")["focal_point"] is None
