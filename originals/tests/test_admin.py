"""The admin: originals listed with thumbnails and their facts; each shown with its focal point, which an editor
moves there as the API moves it (the variants that keep it follow)."""

import io
import re
from decimal import Decimal

import pytest
from django.test import Client
from PIL import Image
from rest_framework.test import APIClient

from originals.models import Original, User

from .conftest import jpeg_bytes, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(db: None) -> Client:
    editor = User.objects.create_superuser("editor", password="editor-password-1")
    browser = Client()
    browser.force_login(editor)
    return browser


@pytest.fixture
def picture(client: APIClient, alice_client: APIClient) -> Original:
    # 64x48: its top-left quarter blue, the rest red (jpeg_bytes)
    response = alice_client.post(
        "/api/v1/originals/", {"file": upload(jpeg_bytes((64, 48)), name="harbour.jpg")}, format="multipart"
    )
    assert response.status_code == 201
    return Original.objects.get(pk=response.json()["id"])


def test_the_list_shows_each_original_with_a_thumbnail_that_is_served(admin_client, picture):
    page = admin_client.get("/admin/originals/original/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "harbour.jpg" in html and "64 x 48" in html
    thumbnails = re.findall(r'<img src="([^"]+)" width="(\d+)" height="(\d+)" alt="harbour.jpg"', html)
    assert len(thumbnails) == 1
    src, width, height = thumbnails[0]
    assert src.startswith(f"/image/{picture.id}/?") and "fit=cover" in src.replace("&amp;", "&")
    image = admin_client.get(src.replace("&amp;", "&"))
    assert image.status_code == 200 and image["Content-Type"] == "image/jpeg"
    with Image.open(io.BytesIO(image.content)) as thumbnail:
        served = thumbnail.size
    # the preset is a square crop: the box is square too, so the crop is never stretched to the picture's 4:3
    assert (int(width), int(height)) == (80, 80) and served[0] == served[1], (width, height, served)


@pytest.mark.parametrize(
    ("preset", "box"),
    [("w=200&h=200&fit=cover", (80, 80)), ("w=300&h=100&fit=cover", (80, 27)), ("w=200&h=200", (64, 48))],
)
def test_a_thumbnail_is_drawn_in_the_shape_its_preset_serves(admin_client, picture, settings, preset, box):
    settings.VARIANT_PRESETS = {"thumbnail": preset}
    html = admin_client.get("/admin/originals/original/").content.decode()
    assert re.search(rf'<img src="[^"]+" width="{box[0]}" height="{box[1]}" alt="harbour.jpg"', html), preset


def test_the_change_page_marks_the_focal_point_over_the_picture(admin_client, picture):
    path = f"/admin/originals/original/{picture.id}/change/"
    assert "focal-point" not in admin_client.get(path).content.decode(), "no point, no marker"
    picture.focal_x, picture.focal_y = Decimal("0.25"), Decimal("0.75")
    picture.save()
    html = admin_client.get(path).content.decode()
    # the preview is 64x48 (never enlarged): the ring at (16, 36), drawn with attributes, not inline styles
    assert re.search(r'<circle class="focal-point" cx="16.0" cy="36.0"', html)
    assert re.search(rf'<svg width="64" height="48" viewBox="0 0 64 48"[^>]*><image href="/image/{picture.id}/', html)


def _left_column_color(data: bytes) -> tuple[int, int, int]:
    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGB").getpixel((2, 2))  # type: ignore[return-value]


def test_moving_the_focal_point_in_the_admin_moves_the_focal_crops(admin_client, picture):
    crop = f"/image/{picture.id}/?fit=cover&gravity=focal&h=48&w=16"
    path = f"/admin/originals/original/{picture.id}/change/"
    form = {"focal_x": "0.05", "focal_y": "0.5", "_save": "Save"}
    assert admin_client.post(path, form).status_code == 302
    assert Original.objects.get(pk=picture.pk).focal_x == Decimal("0.05")
    red, _green, blue = _left_column_color(admin_client.get(crop).content)
    assert blue > 200 and red < 60, "the crop at the left edge holds the blue quarter"
    assert admin_client.post(path, {**form, "focal_x": "0.95"}).status_code == 302
    red, _green, blue = _left_column_color(admin_client.get(crop).content)
    assert red > 200 and blue < 60, "the cached crop was dropped: the new one is at the right edge, all red"


def test_the_admin_rounds_a_focal_point_as_the_api_does(admin_client, picture):
    path = f"/admin/originals/original/{picture.id}/change/"
    assert admin_client.post(path, {"focal_x": "0.12345", "focal_y": "1.00004", "_save": "Save"}).status_code == 302
    saved = Original.objects.get(pk=picture.pk)
    assert (saved.focal_x, saved.focal_y) == (Decimal("0.1234"), Decimal("1.0000")), "half to even, as PATCH"


@pytest.mark.parametrize(
    "form, error",
    [
        ({"focal_x": "0.5", "focal_y": ""}, "Set both focal_x and focal_y (fractions from 0 to 1), or clear both."),
        ({"focal_x": "", "focal_y": "0.5"}, "Set both focal_x and focal_y (fractions from 0 to 1), or clear both."),
        ({"focal_x": "1.5", "focal_y": "0.5"}, "less than or equal to 1"),
        ({"focal_x": "left", "focal_y": "0.5"}, "Enter a number"),
    ],
)
def test_the_admin_refuses_a_focal_point_that_is_not_one(admin_client, picture, form, error):
    response = admin_client.post(f"/admin/originals/original/{picture.id}/change/", {**form, "_save": "Save"})
    assert response.status_code == 200 and error in response.content.decode()
    assert Original.objects.get(pk=picture.pk).focal_x is None


def test_originals_are_not_added_in_the_admin(admin_client):
    assert admin_client.get("/admin/originals/original/add/").status_code == 403
