"""The hostile-input corpus through the HTTP API: each upload's status, and for accepted ones a variant's pixels."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image
from rest_framework.test import APIClient

from .corpus import Case, corpus

pytestmark = pytest.mark.django_db
CASES = corpus()


def near(pixel: tuple[int, ...], colour: tuple[int, int, int], tolerance: int = 48) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], colour, strict=True))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_corpus(case: Case, client: Client):
    response = APIClient().post(
        "/api/v1/originals/", {"file": SimpleUploadedFile(case.filename, case.data)}, format="multipart"
    )
    assert response.status_code == case.status, response.content[:300]
    body = response.json()
    if case.status != 201:
        assert body["code"] == case.code and body["param"] == "file", body  # the bytes' fault: the field is named
        return
    for name, value in case.facts.items():
        assert body[name] == value, (name, body[name])
    variant = client.get(f"/image/{body['id']}/?{case.query}")
    assert variant.status_code == 200, variant.content[:300]
    picture = Image.open(io.BytesIO(variant.content))
    picture.load()
    if case.size is not None:
        assert picture.size == case.size
    if case.corners is not None:
        w, h = picture.size
        rgb = picture.convert("RGB")
        points = [(1, 1), (w - 2, 1), (1, h - 2), (w - 2, h - 2)]
        for point, colour in zip(points, case.corners, strict=True):
            pixel = rgb.getpixel(point)
            assert isinstance(pixel, tuple) and near(pixel, colour), (point, pixel, colour)
    assert not picture.info.get("exif") and not picture.info.get("icc_profile")


def test_apng_stays_animated_as_gif_or_webp(client: Client):
    from .corpus import apng

    original = (
        APIClient().post("/api/v1/originals/", {"file": SimpleUploadedFile("a.png", apng())}, format="multipart").json()
    )
    for fmt, animation in (("gif", "kept"), ("webp", "kept"), ("png", "first-frame")):
        response = client.get(f"/image/{original['id']}/?fmt={fmt}")
        assert response["X-Animation"] == animation
        assert getattr(Image.open(io.BytesIO(response.content)), "n_frames", 1) == (3 if animation == "kept" else 1)
