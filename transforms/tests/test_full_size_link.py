"""The API's `url` is the picture at full size, or, for an original over the output budget, at the largest width
within it: never a link that answers 400 (a newcomer's 7000x7000 upload was accepted, and its `url` refused)."""

import io

import pytest
from django.test import Client
from PIL import Image

pytestmark = pytest.mark.django_db


def encoded(size: tuple[int, int], fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (90, 120, 200)).save(buffer, fmt)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("size", "fmt", "width"),
    [
        ((1600, 1200), "JPEG", None),  # within every budget: the picture as it is
        ((7000, 7000), "JPEG", 5000),  # 49 MP: 25 MP is the output budget
        ((4000, 4000), "WEBP", 3464),  # 16 MP: WebP's frame limit is 12 MP
    ],
)
def test_the_url_is_the_largest_variant_within_budget(client: Client, upload_original, size, fmt, width):
    body = upload_original(encoded(size, fmt), f"big.{fmt.lower()}")
    url = body["url"].removeprefix("http://testserver")
    expected = f"/image/{body['id']}/" + ("" if width is None else f"?w={width}")
    assert url == expected
    info = client.get(url.replace(f"{body['id']}/", f"{body['id']}/info/", 1))
    assert info.status_code == 200, info.content
    if width is not None:
        wider = client.get(f"/image/{body['id']}/info/?w={width + 1}")
        assert wider.status_code in (400, 422), "the width is the largest the budget allows"


def test_links_are_written_in_the_canonical_spelling(client: Client, upload_original):
    body = upload_original(encoded((640, 480), "JPEG"), "photo.jpg")
    link = client.get(f"/originals/{body['id']}/url/?w=0300&fmt=JPG&rotate=0&q=82")
    assert link.status_code == 200, link.content
    assert link.json()["url"].endswith(f"/image/{body['id']}/?w=300"), "fmt=jpeg and q=82 are a JPEG's defaults"
    png = client.get(f"/originals/{body['id']}/url/?w=300&fmt=png").json()["url"]
    assert png.endswith(f"/image/{body['id']}/?fmt=png&w=300")
