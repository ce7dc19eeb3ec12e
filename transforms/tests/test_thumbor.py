"""/thumbor/…: URLs written by the real libthumbor (PyPI) are the native variants they stand for, byte for byte."""

import io
from decimal import Decimal

import pytest
from django.test import Client, override_settings
from libthumbor import CryptoURL
from libthumbor.url import unsafe_url
from PIL import Image

from originals.models import Original

from . import images

pytestmark = pytest.mark.django_db

KEY = "thumbor-test-key"
RED, GREEN, BLUE, YELLOW = images.RED, images.GREEN, images.BLUE, images.YELLOW


@pytest.fixture(autouse=True)
def thumbor_key(settings) -> None:
    settings.THUMBOR_SECURITY_KEY = KEY
    settings.THUMBOR_ALLOW_UNSAFE = True
    settings.URL_SIGNING = "off"


@pytest.fixture
def photo(upload_original) -> str:
    return str(upload_original(images.encode(images.marker((400, 300)), "PNG"), "photo.png")["id"])


@pytest.fixture
def clear(upload_original) -> str:
    """A PNG with a transparent right half: backgrounds show."""
    image = Image.new("RGBA", (200, 100), (0, 0, 255, 255))
    image.paste((0, 0, 0, 0), (100, 0, 200, 100))
    return str(upload_original(images.encode(image, "PNG"), "clear.png")["id"])


def signed(**options) -> str:
    return "/thumbor" + CryptoURL(KEY).generate(**options)


def unsafe(**options) -> str:
    return "/thumbor/" + unsafe_url(**options)


# (libthumbor's options, the native query that is the same variant)
EQUIVALENTS = [
    ({}, ""),
    ({"width": 100}, "w=100"),
    ({"height": 60}, "h=60"),
    ({"width": 100, "height": 100}, "w=100&h=100&fit=cover"),
    ({"width": 100, "height": 100, "fit_in": True}, "w=100&h=100"),
    ({"width": 100, "height": 100, "fit_in": True, "filters": ["fill(ff0000)"]}, "w=100&h=100&fit=pad&bg=ff0000"),
    ({"width": 100, "height": 100, "fit_in": True, "filters": ["fill(red)"]}, "w=100&h=100&fit=pad&bg=ff0000"),
    ({"width": 100, "height": 100, "fit_in": True, "filters": ["fill(transparent)"]}, "w=100&h=100&fit=pad"),
    ({"width": 100, "height": 100, "halign": "left"}, "w=100&h=100&fit=cover&gravity=w"),
    ({"width": 100, "height": 100, "halign": "right", "valign": "top"}, "w=100&h=100&fit=cover&gravity=ne"),
    ({"width": 100, "height": 100, "valign": "bottom"}, "w=100&h=100&fit=cover&gravity=s"),
    ({"width": 100, "height": 100, "smart": True}, "w=100&h=100&fit=cover&gravity=smart"),
    ({"width": 100, "flip": True}, "w=100&flip=h"),
    ({"width": 100, "height": 75, "flop": True}, "w=100&h=75&fit=cover&flip=v"),  # libthumbor drops -0
    ({"width": 100, "height": 100, "flip": True, "halign": "left"}, "w=100&h=100&fit=cover&flip=h&gravity=e"),
    ({"crop": ((10, 20), (210, 170))}, "crop=10,20,200,150"),
    ({"crop": ((0, 0), (200, 300)), "width": 50}, "crop=0,0,200,300&w=50"),
    ({"width": 120, "height": 80, "filters": ["rotate(90)"]}, "w=80&h=120&fit=cover&rotate=270"),
    ({"width": 120, "filters": ["rotate(-90)"]}, "h=120&rotate=90"),
    ({"filters": ["rotate(180)"]}, "rotate=180"),
    ({"filters": ["rotate(360)"]}, ""),
    # thumbor flips, then turns (counter-clockwise); Darkroom turns (clockwise), then flips
    ({"width": 100, "flip": True, "filters": ["rotate(90)"]}, "h=100&rotate=270&flip=v"),
    (
        {"width": 100, "height": 100, "halign": "left", "filters": ["rotate(90)"]},
        "w=100&h=100&fit=cover&rotate=270&gravity=s",
    ),
    ({"width": 100, "filters": ["format(webp)", "quality(70)"]}, "w=100&fmt=webp&q=70"),
    ({"filters": ["format(JPG)"]}, "fmt=jpeg"),
    ({"filters": ["format(avif)"]}, "fmt=avif"),
    ({"width": 100, "filters": ["blur(3)"]}, "w=100&blur=3"),
    ({"width": 100, "filters": ["blur(5,2)"]}, "w=100&blur=2"),
    ({"width": 100, "filters": ["grayscale()"]}, "w=100&gray=1"),
    ({"width": 100, "filters": ["no_upscale()", "strip_exif()", "strip_icc()"]}, "w=100"),
    ({"width": 5000}, "w=5000"),  # never enlarged: no_upscale() is always in force
]


@pytest.mark.parametrize(("options", "query"), EQUIVALENTS)
@pytest.mark.parametrize("write", [signed, unsafe], ids=["signed", "unsafe"])
def test_a_thumbor_url_is_its_native_variant(client: Client, photo: str, write, options, query) -> None:
    thumbor = client.get(write(image_url=photo, **options))
    assert thumbor.status_code == 200, thumbor.content[:300]
    native = client.get(f"/image/{photo}/?{query}")
    assert native.status_code == 200, native.content[:300]
    assert native["X-Cache"] != "miss"  # the thumbor URL's render is the native URL's cache entry
    assert thumbor["ETag"] == native["ETag"]
    assert thumbor.content == native.content
    assert thumbor["Content-Type"] == native["Content-Type"]


@pytest.mark.parametrize(
    ("options", "query"),
    [
        ({"filters": ["background_color(00ff00)"]}, "bg=00ff00"),
        ({"filters": ["background_color(lime)", "format(jpeg)"]}, "bg=00ff00&fmt=jpeg"),
        (
            {"width": 300, "height": 300, "fit_in": True, "filters": ["fill(ffffff,true)"]},
            "w=300&h=300&fit=pad&bg=ffffff",
        ),
        ({"filters": ["fill(abc)", "background_color(aabbcc)"]}, "bg=aabbcc"),
    ],
)
def test_backgrounds(client: Client, clear: str, options, query) -> None:
    thumbor = client.get(signed(image_url=clear, **options))
    native = client.get(f"/image/{clear}/?{query}")
    assert thumbor.status_code == native.status_code == 200, thumbor.content[:300]
    assert thumbor["ETag"] == native["ETag"]
    assert thumbor.content == native.content


def test_focal_is_the_native_focal_gravity_at_that_point(client: Client, photo: str) -> None:
    # focal(300x0:400x100): the centre of that square, (350, 50) of 400x300 = (0.875, 0.1667)
    thumbor = client.get(signed(image_url=photo, width=100, height=100, filters=["focal(300x0:400x100)"]))
    assert thumbor.status_code == 200, thumbor.content[:300]
    Original.objects.filter(id=photo).update(focal_x=Decimal("0.8750"), focal_y=Decimal("0.1667"))
    native = client.get(f"/image/{photo}/?w=100&h=100&fit=cover&gravity=focal")
    assert native["ETag"] == thumbor["ETag"]
    assert native.content == thumbor.content
    # the 300x300 box hugs the right (x 100..400), so the green quadrant starts a third of the way in
    picture = Image.open(io.BytesIO(thumbor.content)).convert("RGB")
    assert picture.getpixel((28, 5)) == images.RED and picture.getpixel((40, 5)) == images.GREEN
    # two rectangles weigh by area: (0x0:100x100) and (300x200:400x300) balance in the middle
    two = client.get(
        signed(image_url=photo, width=100, height=100, filters=["focal(0x0:100x100)", "focal(300x200:400x300)"])
    )
    middle = client.get(f"/image/{photo}/?w=100&h=100&fit=cover")
    Original.objects.filter(id=photo).update(focal_x=Decimal("0.5"), focal_y=Decimal("0.5"))
    assert two.content == middle.content


@pytest.mark.parametrize(
    ("options", "corners"),
    [
        # 300x300 of the left of the 400x300 marker: red over blue on the left, green over yellow beyond the middle
        ({"halign": "left"}, {"tl": RED, "bl": BLUE, "tr": GREEN, "br": YELLOW}),
        (
            {"halign": "left", "flip": True},
            {"tr": RED, "br": BLUE, "tl": GREEN, "bl": YELLOW},
        ),
        # counter-clockwise: the top-left corner goes to the bottom-left
        (
            {"halign": "left", "filters": ["rotate(90)"]},
            {"bl": RED, "br": BLUE, "tl": GREEN, "tr": YELLOW},
        ),
        # flipped top-bottom, then turned clockwise
        (
            {"halign": "left", "flop": True, "filters": ["rotate(270)"]},
            {"tl": RED, "tr": BLUE, "bl": GREEN, "br": YELLOW},
        ),
    ],
)
def test_thumbor_semantics_in_pixels(client: Client, photo: str, options, corners) -> None:
    """Independently of the native mapping: what thumbor's order of work (crop, resize, flip, rotate) shows."""
    response = client.get(signed(image_url=photo, width=90, height=90, **options))
    picture = Image.open(io.BytesIO(response.content)).convert("RGB")
    assert picture.size == (90, 90)
    at = {"tl": (3, 3), "tr": (86, 3), "bl": (3, 86), "br": (86, 86)}
    assert {corner: picture.getpixel(at[corner]) for corner in corners} == corners


def test_a_percent_encoded_signature_is_the_same_url(client: Client, photo: str) -> None:
    url = signed(image_url=photo, width=100)
    assert "=" in url.split("/")[2]
    encoded = client.get(url.replace("=", "%3D"))
    plain = client.get(url)
    assert encoded.status_code == plain.status_code == 200
    assert encoded.content == plain.content


@pytest.mark.parametrize(
    ("url", "param", "code"),
    [
        (lambda oid: CryptoURL("another key").generate(image_url=oid, width=100), "signature", "invalid_signature"),
        (
            lambda oid: CryptoURL(KEY).generate(image_url=oid, width=100).replace("100x", "101x"),
            "signature",
            "invalid_signature",
        ),
        (lambda oid: f"/{'A' * 28}/{oid}", "signature", "invalid_signature"),
    ],
)
def test_a_wrong_signature_is_a_403(client: Client, photo: str, url, param, code) -> None:
    response = client.get("/thumbor" + url(photo))
    assert response.status_code == 403
    assert (response.json()["param"], response.json()["code"]) == (param, code)


def test_without_a_key_signed_urls_are_refused(client: Client, photo: str, settings) -> None:
    url = signed(image_url=photo, width=100)
    settings.THUMBOR_SECURITY_KEY = ""
    response = client.get(url)
    assert response.status_code == 403
    assert "THUMBOR_SECURITY_KEY" in response.json()["error"]


def test_unsafe_only_where_allowed(client: Client, photo: str, settings) -> None:
    settings.THUMBOR_ALLOW_UNSAFE = False
    response = client.get(unsafe(image_url=photo, width=100))
    assert response.status_code == 403
    assert (response.json()["param"], response.json()["code"]) == ("signature", "signature_required")
    assert client.get(signed(image_url=photo, width=100)).status_code == 200


def test_under_url_signing_unsafe_is_the_unsigned_native_url(client: Client, photo: str, settings) -> None:
    settings.URL_SIGNING = "presets"
    settings.WIDTH_LADDER = [120]
    assert client.get(unsafe(image_url=photo, width=120)).status_code == 200  # a ladder width, public natively
    refused = client.get(unsafe(image_url=photo, width=121))
    assert refused.status_code == 403
    assert refused.json()["code"] == "signature_required"
    settings.URL_SIGNING = "required"
    assert client.get(signed(image_url=photo, width=121)).status_code == 200  # thumbor's signature is a signature


@pytest.mark.parametrize(
    ("path", "status", "param", "code"),
    [
        ("unsafe/trim/100x100/{id}", 400, "trim", "not_supported"),
        ("unsafe/trim:top-left/{id}", 400, "trim", "not_supported"),
        ("unsafe/debug/{id}", 400, "debug", "not_supported"),
        ("unsafe/full-fit-in/100x100/{id}", 400, "full-fit-in", "not_supported"),
        ("unsafe/adaptive-fit-in/100x100/{id}", 400, "adaptive-fit-in", "not_supported"),
        ("unsafe/adaptive-full-fit-in/100x100/{id}", 400, "adaptive-full-fit-in", "not_supported"),
        ("unsafe/origx100/{id}", 400, "width", "not_supported"),
        ("unsafe/100xorig/{id}", 400, "height", "not_supported"),
        ("unsafe/1234567890x100/{id}", 400, "width", "out_of_range"),
        ("unsafe/9000x100/{id}", 400, "width", "out_of_range"),
        ("unsafe/10x10:5x20/{id}", 400, "crop", "invalid_parameter"),
        ("unsafe/0x0:500x300/{id}", 400, "crop", "out_of_range"),
        ("unsafe/filters:watermark(a.png,0,0,0)/{id}", 400, "filters:watermark", "not_supported"),
        ("unsafe/filters:sharpen(2,1,true)/{id}", 400, "filters:sharpen", "not_supported"),
        ("unsafe/filters:sepia()/{id}", 400, "filters:sepia", "unknown_parameter"),
        ("unsafe/filters:quality(80):quality(70)/{id}", 400, "filters:quality", "repeated_parameter"),
        ("unsafe/filters:quality(0)/{id}", 400, "filters:quality", "out_of_range"),
        ("unsafe/filters:quality()/{id}", 400, "filters:quality", "bad_request"),
        ("unsafe/filters:rotate(45)/{id}", 400, "filters:rotate", "invalid_parameter"),
        ("unsafe/filters:format(tiff)/{id}", 400, "filters:format", "invalid_parameter"),
        ("unsafe/filters:format(heic)/{id}", 400, "filters:format", "not_supported"),
        ("unsafe/filters:blur(0)/{id}", 400, "filters:blur", "out_of_range"),
        ("unsafe/filters:blur(51)/{id}", 400, "filters:blur", "out_of_range"),
        ("unsafe/filters:fill(auto)/{id}", 400, "filters:fill", "not_supported"),
        ("unsafe/filters:fill(notacolour)/{id}", 400, "filters:fill", "invalid_parameter"),
        ("unsafe/filters:fill(red,maybe)/{id}", 400, "filters:fill", "bad_request"),
        (
            "unsafe/filters:fill(red):background_color(blue)/{id}",
            400,
            "filters:background_color",
            "conflicting_parameter",
        ),
        ("unsafe/100x100/filters:focal(0x0:500x10)/{id}", 400, "filters:focal", "out_of_range"),
        ("unsafe/100x100/filters:focal(middle)/{id}", 400, "filters:focal", "bad_request"),
        ("unsafe/filters:focal(middle)/{id}", 400, "filters:focal", "bad_request"),
        ("unsafe/fit-in/100x100/filters:focal(1x1:2)/{id}", 400, "filters:focal", "bad_request"),
        ("unsafe/100x100/smart/filters:focal(0x0:10x10)/{id}", 400, "filters:focal", "not_supported"),
        ("unsafe/filters:quality(80)quality(70)/{id}", 400, "filters", "bad_request"),
        ("unsafe/300y200/{id}", 400, "image", "bad_request"),
        ("unsafe/http://example.com/a.jpg", 400, "image", "bad_request"),
        ("unsafe/AAAAAAAAAAAA", 404, "id", "not_found"),
        ("unsafe/100x100/AAAAAAAAAAAA", 404, "id", "not_found"),
    ],
)
def test_what_cannot_be_served_is_refused_by_name(client: Client, photo: str, path, status, param, code) -> None:
    response = client.get("/thumbor/" + path.format(id=photo))
    assert response.status_code == status, response.content
    body = response.json()
    assert (body["param"], body["code"]) == (param, code), body
    assert body["error"]


def test_meta_is_thumbors_json(client: Client, photo: str) -> None:
    url = signed(image_url=photo, meta=True, width=100, height=100, halign="left", flip=True)
    response = client.get(url)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "thumbor": {
            "source": {"url": photo, "width": 400, "height": 300, "frameCount": 1},
            "operations": [
                {"type": "crop", "left": 0, "top": 0, "right": 300, "bottom": 300},
                {"type": "resize", "width": 100, "height": 100},
                {"type": "flip_horizontally"},
            ],
            "target": {"width": 100, "height": 100},
        }
    }
    assert client.get(url, HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304
    fitted = client.get(unsafe(image_url=photo, meta=True, width=100, height=100, fit_in=True)).json()["thumbor"]
    assert fitted["operations"] == [{"type": "resize", "width": 100, "height": 75}]
    assert fitted["target"] == {"width": 100, "height": 75}
    smart = client.get(unsafe(image_url=photo, meta=True, width=100, height=100, smart=True)).json()["thumbor"]
    assert smart["operations"] == [{"type": "resize", "width": 100, "height": 100}]  # where is found at render time


@override_settings(THUMBOR_ALLOW_UNSAFE=False)
def test_meta_is_signed_like_the_image(client: Client, photo: str) -> None:
    assert client.get(unsafe(image_url=photo, meta=True)).status_code == 403


def test_head_and_methods(client: Client, photo: str) -> None:
    url = signed(image_url=photo, width=100)
    head = client.head(url)
    assert head.status_code == 200 and head.content == b""
    assert client.post(url).status_code == 405
