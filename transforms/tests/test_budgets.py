"""Output budgets: a variant that would cost more than a render may is refused from recorded facts, never rendered."""

import io
from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from PIL import Image

from transforms.budgets import OutputBudget, OverBudget, check_output
from transforms.spec import VariantSpec

from . import images

pytestmark = pytest.mark.django_db


def strip(size: tuple[int, int]) -> bytes:
    return images.encode(Image.new("L", size, 128), "PNG")


def animated_gif(size: tuple[int, int] = (1500, 200), frames: int = 60) -> bytes:
    """The security review's 58 KB GIF: 60 flat frames, 18 MP in all."""
    pictures = [Image.new("P", size, index) for index in range(frames)]
    buf = io.BytesIO()
    pictures[0].save(buf, "GIF", save_all=True, append_images=pictures[1:], duration=50, loop=0)
    return buf.getvalue()


SOURCES: dict[str, Callable[[], bytes]] = {
    "tall strip": lambda: strip((1, 65000)),
    "wide strip": lambda: strip((8192, 1)),
    "animated gif": animated_gif,
    "banner": lambda: images.encode(images.photo((1500, 200)), "JPEG"),
    "icon": lambda: images.encode(images.photo((64, 64)), "PNG"),
    "photo": lambda: images.encode(images.photo((600, 450)), "JPEG"),
}

# (source, query, status, code, param): the reproductions of the security review first.
CASES = [
    ("animated gif", "w=1500&h=8192&fit=pad&fmt=webp", 400, "pad_too_large", "fit"),
    ("tall strip", "w=8192&h=8192&fit=pad&fmt=avif", 400, "pad_too_large", "fit"),
    ("wide strip", "w=8192&h=8192&fit=pad&fmt=webp", 400, "pad_too_large", "fit"),
    ("tall strip", "w=100&fmt=webp", 422, "format_limit", "fmt"),  # WebP holds 16383 px a side
    ("tall strip", "h=8192&fmt=webp", 200, None, None),
    ("tall strip", "w=100&fmt=avif", 200, None, None),
    ("tall strip", "w=100&fmt=png", 200, None, None),
    ("animated gif", "w=1500&fmt=webp", 200, None, None),  # 18 MP over its frames
    ("animated gif", "w=1500&h=1500&fit=pad&fmt=png", 200, None, None),  # a still frame: 7.5 times the picture
    ("animated gif", "w=1500&h=1500&fit=pad&fmt=gif", 400, "output_too_large", "w"),  # 2.25 MP x 60 frames
    ("banner", "w=1500&h=1500&fit=pad", 200, None, None),
    ("banner", "w=1500&h=8000&fit=pad", 400, "pad_too_large", "fit"),
    ("icon", "w=1000&h=1000&fit=pad", 200, None, None),  # small canvases are always allowed
    ("photo", "w=600&h=450&fit=pad", 200, None, None),
]


class Uploaded(dict):
    """Each source uploaded on first use."""

    def __init__(self, upload_original: Callable[[bytes, str], dict]) -> None:
        super().__init__()
        self.upload_original = upload_original

    def __missing__(self, name: str) -> dict:
        self[name] = self.upload_original(SOURCES[name](), f"{name}.bin")
        return self[name]


@pytest.fixture
def originals(upload_original) -> Uploaded:
    return Uploaded(upload_original)


def stored(original_id: str) -> list[Path]:
    return [p for p in (Path(settings.VARIANTS_DIR) / original_id).glob("*") if not p.name.startswith(".")]


@pytest.mark.parametrize(("source", "query", "status", "code", "param"), CASES)
def test_budgets_table(client: Client, originals, source, query, status, code, param):
    original = originals[source]
    before = stored(original["id"])
    response = client.get(f"/image/{original['id']}/?{query}")
    assert response.status_code == status, response.content[:300]
    if status != 200:
        body = response.json()
        assert (body["code"], body["param"]) == (code, param), body
        assert response["Cache-Control"] == "no-store"
        assert stored(original["id"]) == before, "a refusal renders nothing"


def test_a_refusal_never_opens_the_original(client: Client, originals):
    """The budget is decided from the recorded facts: with the file gone, the answer is still the refusal."""
    original = originals["tall strip"]
    path = next(Path(settings.ORIGINALS_DIR).glob(f"*/{original['sha256']}.*"))
    data = path.read_bytes()
    path.unlink()
    try:
        response = client.get(f"/image/{original['id']}/?w=8192&h=8192&fit=pad&fmt=avif")
    finally:
        path.write_bytes(data)
    assert response.status_code == 400 and response.json()["code"] == "pad_too_large"


def test_auto_falls_back_to_a_format_that_holds_the_picture(client: Client, originals):
    response = client.get(f"/image/{originals['tall strip']['id']}/?w=100&fmt=auto", HTTP_ACCEPT="image/webp,*/*")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png" and response["Vary"] == "Accept"
    assert Image.open(io.BytesIO(response.content)).size == (1, 65000)


def test_the_output_pixel_setting_bounds_every_format(client: Client, originals, settings):
    settings.MAX_OUTPUT_PIXELS = 100_000
    response = client.get(f"/image/{originals['photo']['id']}/?fmt=png")
    assert response.status_code == 400
    assert response.json()["param"] == "w" and "100,000" in response.json()["error"]
    assert client.get(f"/image/{originals['photo']['id']}/?w=300&fmt=png").status_code == 200


BUDGET = OutputBudget(max_output_pixels=25_000_000, max_pad_ratio=16)


@pytest.mark.parametrize(
    ("canvas", "picture", "frames", "fmt", "expected"),
    [
        ((6000, 4000), (6000, 4000), 1, "jpeg", None),
        ((6000, 4000), (6000, 4000), 1, "png", None),
        ((6000, 4000), (6000, 4000), 1, "webp", ("fmt", 422)),
        ((4000, 3000), (4000, 3000), 1, "webp", None),
        ((4000, 4000), (4000, 4000), 1, "webp", ("fmt", 422)),
        ((6000, 4000), (6000, 4000), 1, "avif", ("fmt", 422)),
        ((2560, 1600), (2560, 1600), 1, "avif", None),
        ((2000, 2000), (2000, 2000), 1, "gif", ("fmt", 422)),
        ((1600, 1200), (1600, 1200), 1, "gif", None),
        ((480, 270), (480, 270), 190, "gif", None),  # an animation: 24.6 MP over its frames
        ((480, 270), (480, 270), 200, "gif", ("w", 400)),
        ((16384, 1), (16384, 1), 1, "webp", ("fmt", 422)),
        ((1000, 1000), (10, 10), 1, "png", None),  # 10,000 times the picture, but only 1 MP
        ((1001, 1000), (10, 10), 1, "png", ("fit", 400)),
        ((1600, 1600), (400, 400), 1, "png", None),  # exactly 16 times
        ((1604, 1600), (401, 400), 1, "png", None),
        ((1605, 1600), (400, 400), 1, "png", ("fit", 400)),
        ((5001, 5000), (5001, 5000), 1, "jpeg", ("w", 400)),
    ],
)
def test_check_output_table(canvas, picture, frames, fmt, expected):
    try:
        check_output(
            VariantSpec(w=canvas[0]), canvas=canvas, picture=picture, frames=frames, out_format=fmt, budget=BUDGET
        )
    except OverBudget as exc:
        assert (exc.param, exc.status) == expected, exc.message
    else:
        assert expected is None
