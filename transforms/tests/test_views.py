"""/image/<id>/ over HTTP: status, pixels, formats and the caching headers of DESIGN.md section 7."""

import io

import pytest
from django.conf import settings
from django.test import Client
from django_redis import get_redis_connection
from PIL import Image

from transforms.tiers import REDIS_PREFIX

from . import images
from .images import BLUE, GREEN, RED, YELLOW

pytestmark = pytest.mark.django_db


def near(pixel, colour, tolerance=40):
    return all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], colour, strict=True))


def opened(response) -> Image.Image:
    return Image.open(io.BytesIO(response.content))


@pytest.fixture
def photo_1600(upload_original) -> dict:
    return upload_original(images.encode(images.marker((1600, 1200)), "JPEG", quality=90), "photo.jpg")


def test_acceptance_rotate_resize_png(client: Client, photo_1600):
    url = f"/image/{photo_1600['id']}/?w=300&rotate=90&fmt=png"
    first = client.get(url)
    assert first.status_code == 200
    assert first["Content-Type"] == "image/png"
    assert first["X-Cache"] == "miss"
    picture = opened(first)
    assert picture.format == "PNG" and picture.size == (300, 400)
    assert near(picture.getpixel((299, 0)), RED), "the original's top-left is now top-right"
    assert near(picture.getpixel((0, 0)), BLUE) and near(picture.getpixel((299, 399)), GREEN)

    second = client.get(url)
    assert second["X-Cache"] == "hit-redis" and second.content == first.content
    respelled = client.get(f"/image/{photo_1600['id']}/?fmt=PNG&rotate=90&w=300&fit=contain&flip=")
    assert respelled.status_code == 400  # an empty value is refused, never guessed
    respelled = client.get(f"/image/{photo_1600['id']}/?FMT=png&w=300")
    assert respelled.status_code == 400 and respelled.json()["param"] == "FMT"
    reordered = client.get(f"/image/{photo_1600['id']}/?fmt=PNG&rotate=90&fit=contain&w=300&q=50")
    assert reordered["ETag"] == first["ETag"] and reordered["X-Cache"] == "hit-redis"

    not_modified = client.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
    assert not_modified.status_code == 304 and not_modified.content == b""
    assert not_modified["ETag"] == first["ETag"]
    head = client.head(url)
    assert head.status_code == 200 and head.content == b""
    assert head["Content-Length"] == str(len(first.content)) and head["ETag"] == first["ETag"]


def test_headers(client: Client, photo_1600):
    response = client.get(f"/image/{photo_1600['id']}/?w=100")
    assert response["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    assert "default-src 'none'" in response["Content-Security-Policy"]
    assert response["Content-Length"] == str(len(response.content))
    assert response["ETag"].startswith('"') and len(response["ETag"]) == 66
    assert not response.has_header("Vary") or "Accept" not in response["Vary"]
    timing = response["Server-Timing"]
    for stage in ("cache", "decode", "transform", "encode", "total"):
        assert stage in timing
    assert opened(response).format == "JPEG"


def test_variant_is_in_redis_and_on_disk(client: Client, photo_1600):
    response = client.get(f"/image/{photo_1600['id']}/?w=64&fmt=webp")
    key = response["ETag"].strip('"')
    assert (settings.VARIANTS_DIR / photo_1600["id"] / f"{key}.webp").read_bytes() == response.content
    assert get_redis_connection("default").exists(f"{REDIS_PREFIX}{photo_1600['id']}:{key}")
    get_redis_connection("default").delete(f"{REDIS_PREFIX}{photo_1600['id']}:{key}")
    again = client.get(f"/image/{photo_1600['id']}/?w=64&fmt=webp")
    assert again["X-Cache"] == "hit-disk" and again.content == response.content


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8", "image/avif"),
        ("image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8", "image/webp"),
        ("image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5", "image/jpeg"),
        ("", "image/jpeg"),
    ],
)
def test_auto_negotiates_and_varies(client: Client, photo_1600, accept, expected):
    response = client.get(f"/image/{photo_1600['id']}/?w=50&fmt=auto", HTTP_ACCEPT=accept)
    assert response["Content-Type"] == expected
    assert "Accept" in response["Vary"]


@pytest.mark.parametrize(
    ("query", "param", "code"),
    [
        ("w=abc", "w", "invalid_parameter"),
        ("w=+300", "w", "invalid_parameter"),
        ("w=9000", "w", "out_of_range"),
        ("w=1&w=2", "w", "repeated_parameter"),
        ("width=3", "width", "unknown_parameter"),
        ("fmt=../../etc/passwd", "fmt", "invalid_parameter"),
        ("rotate=45", "rotate", "invalid_parameter"),
        ("w=" + "9" * 2000, "query", "query_too_long"),
    ],
)
def test_bad_queries_are_400_before_any_lookup(client: Client, query, param, code):
    # The id does not exist: the query is judged first, so no database or image work is done for it.
    response = client.get(f"/image/doesnotexist/?{query}")
    assert response.status_code == 400
    body = response.json()
    assert body["param"] == param and body["code"] == code
    assert response["Cache-Control"] == "no-store"


def test_unknown_id_is_404_json(client: Client):
    response = client.get("/image/doesnotexist/?w=10")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert response["Cache-Control"] == "no-store"


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_other_methods_are_405_json(client: Client, photo_1600, method):
    response = getattr(client, method)(f"/image/{photo_1600['id']}/")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
    assert "GET" in response["Allow"]


def test_exif_orientation_is_applied_before_the_box(client: Client, upload_original):
    original = upload_original(images.oriented_jpeg(6, (160, 120)), "o6.jpg")
    assert (original["width"], original["height"]) == (160, 120)
    picture = opened(client.get(f"/image/{original['id']}/?w=80&fmt=png"))
    assert picture.size == (80, 60)
    assert near(picture.getpixel((0, 0)), RED) and near(picture.getpixel((79, 59)), YELLOW)
    assert not picture.getexif()


CASES = [
    # (case, bytes, query, format, size, animation header)
    ("cmyk jpeg", images.cmyk_jpeg((64, 48)), "w=32", "JPEG", (32, 24), None),
    ("rgba png keeps alpha", images.rgba_png((40, 40)), "w=20", "PNG", (20, 20), None),
    ("rgba png as jpeg", images.rgba_png((40, 40)), "w=20&fmt=jpeg", "JPEG", (20, 20), None),
    ("palette trns", images.palette_trns_png((40, 40)), "fmt=webp", "WEBP", (40, 40), None),
    ("16-bit gray", images.gray16_png((256, 8)), "w=128", "PNG", (128, 4), None),
    ("animated gif kept", images.animation("GIF"), "w=20", "GIF", (20, 15), "kept"),
    ("animated gif first frame", images.animation("GIF"), "w=20&fmt=png", "PNG", (20, 15), "first-frame"),
    ("animated webp kept", images.animation("WEBP"), "fmt=webp", "WEBP", (40, 30), "kept"),
    ("avif out", images.encode(images.marker((64, 48)), "PNG"), "w=32&fmt=avif", "AVIF", (32, 24), None),
    ("no upscale", images.encode(images.marker((64, 48)), "PNG"), "w=4000", "PNG", (64, 48), None),
    ("cover", images.encode(images.marker((64, 48)), "PNG"), "w=20&h=20&fit=cover", "PNG", (20, 20), None),
    ("pad", images.encode(images.marker((64, 48)), "PNG"), "w=20&h=20&fit=pad", "PNG", (20, 20), None),
    ("tiff to jpeg", images.encode(images.marker((64, 48)), "TIFF"), "w=32", "JPEG", (32, 24), None),
    ("bmp to jpeg", images.encode(images.marker((64, 48)), "BMP"), "", "JPEG", (64, 48), None),
]


@pytest.mark.parametrize(("case", "data", "query", "fmt", "size", "animation"), CASES, ids=[c[0] for c in CASES])
def test_formats_through_http(client: Client, upload_original, case, data, query, fmt, size, animation):
    original = upload_original(data)
    response = client.get(f"/image/{original['id']}/?{query}")
    assert response.status_code == 200, response.content
    picture = opened(response)
    assert picture.format == fmt and picture.size == size
    assert response["Content-Type"] == Image.MIME[fmt]
    assert response.get("X-Animation") == animation
    assert "exif" not in picture.info and "icc_profile" not in picture.info


def test_deleting_an_original_purges_its_variants(client: Client, photo_1600, django_user_model):
    client.get(f"/image/{photo_1600['id']}/?w=40")
    client.get(f"/image/{photo_1600['id']}/?w=50&fmt=png")
    directory = settings.VARIANTS_DIR / photo_1600["id"]
    redis = get_redis_connection("default")
    assert len([p for p in directory.iterdir() if not p.name.startswith(".")]) == 2
    assert len(list(redis.scan_iter(f"{REDIS_PREFIX}{photo_1600['id']}:*"))) == 2
    django_user_model.objects.create_user("boss", password="boss-password-1", is_staff=True)
    client.login(username="boss", password="boss-password-1")
    assert client.delete(f"/api/v1/originals/{photo_1600['id']}/").status_code == 204
    assert not directory.exists()
    assert not list(redis.scan_iter(f"{REDIS_PREFIX}{photo_1600['id']}:*"))
    assert client.get(f"/image/{photo_1600['id']}/?w=40").status_code == 404


def test_api_lists_example_variant_urls_that_work(client: Client, photo_1600):
    variants = photo_1600["variants"]
    assert set(variants) == set(settings.VARIANT_PRESETS), "the presets are the one source of named variants"
    assert variants["thumbnail"].endswith(f"/image/{photo_1600['id']}/?fit=cover&h=200&w=200")
    for url in variants.values():
        response = client.get(url.removeprefix("http://testserver"), HTTP_ACCEPT="image/webp,*/*")
        assert response.status_code == 200, url
    thumbnail = opened(client.get(variants["thumbnail"].removeprefix("http://testserver")))
    assert thumbnail.size == (200, 200)
