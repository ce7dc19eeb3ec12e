"""{% picture %}: a <picture> whose every candidate is served at the width it claims, in the type it claims."""

import io
from html.parser import HTMLParser

import pytest
from django.template import Context, Template, TemplateSyntaxError
from django.test import Client, override_settings
from PIL import Image

from originals.models import Original

from . import images

pytestmark = pytest.mark.django_db


class Elements(HTMLParser):
    """(tag, attributes) of every start tag, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, {name: value or "" for name, value in attrs}))


def render(text: str, **context) -> str:
    return Template("{% load variant_urls %}" + text).render(Context(context))


def elements(html: str) -> list[tuple[str, dict[str, str]]]:
    parser = Elements()
    parser.feed(html)
    return parser.found


def candidates(srcset: str) -> list[tuple[str, int]]:
    return [(url, int(width[:-1])) for url, width in (item.strip().split(" ") for item in srcset.split(","))]


def fetched(client: Client, url: str) -> Image.Image:
    response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    return Image.open(io.BytesIO(response.content))


@pytest.fixture
def photo(upload_original) -> Original:
    oid = upload_original(images.encode(images.marker((1000, 600)), "JPEG"), "photo.jpg")["id"]
    return Original.objects.get(id=oid)


def test_every_candidate_is_what_it_claims(client: Client, photo: Original) -> None:
    html = render(
        '{% picture o widths="200,400,1600" sizes="(min-width: 40em) 50vw, 100vw" alt="Quadrants" %}', o=photo
    )
    found = elements(html)
    assert [tag for tag, _ in found] == ["picture", "source", "source", "img"]
    (_, avif), (_, webp), (_, img) = found[1:]
    assert (avif["type"], webp["type"]) == ("image/avif", "image/webp")
    for source, fmt in ((avif, "AVIF"), (webp, "WEBP"), (img, "JPEG")):
        assert source["sizes"] == "(min-width: 40em) 50vw, 100vw"
        listed = candidates(source["srcset"])
        assert [width for _, width in listed] == [200, 400, 1000]  # 1600 is the picture's own 1000: never enlarged
        for url, width in listed:
            picture = fetched(client, url)
            assert (picture.format, picture.width) == (fmt, width)
    assert (img["width"], img["height"], img["alt"], img["loading"], img["decoding"]) == (
        "1000",
        "600",
        "Quadrants",
        "lazy",
        "async",
    )
    assert fetched(client, img["src"]).size == (1000, 600)


def test_aspect_crops_every_candidate(client: Client, photo: Original) -> None:
    html = render('{% picture o widths="100,300" aspect="1:1" gravity="w" class="square" %}', o=photo)
    _, img = elements(html)[-1]
    assert (img["width"], img["height"], img["class"]) == ("300", "300", "square")
    for url, width in candidates(img["srcset"]):
        picture = fetched(client, url).convert("RGB")
        assert picture.size == (width, width)
        pixel = picture.getpixel((2, 2))
        assert isinstance(pixel, tuple)
        assert all(abs(a - b) < 8 for a, b in zip(pixel, images.RED, strict=True))  # gravity=w keeps the left
    fitted = elements(render('{% picture o widths="300" aspect="1:1" fit="contain" %}', o=photo))[-1][1]
    assert (fitted["width"], fitted["height"]) == ("300", "180")


def test_an_id_with_its_size_is_the_same_picture(photo: Original) -> None:
    by_original = render('{% picture o widths="200,400" alt="" %}', o=photo)
    keywords = "width=1000 height=600 blurhash=o.blurhash dominant_color=o.dominant_color"  # as its JSON has them
    by_id = render("{% picture o.id " + keywords + ' widths="200,400" alt="" %}', o=photo)
    assert by_id == by_original
    with pytest.raises(TemplateSyntaxError, match="width= and height="):
        render('{% picture o.id widths="200" %}', o=photo)
    assert render("{% variant_img o.id " + keywords + " w=100 %}", o=photo) == render(
        "{% variant_img o w=100 %}", o=photo
    )


@override_settings(PUBLIC_BASE_URL="https://img.example.com")
def test_public_base_url_makes_every_url_absolute(photo: Original) -> None:
    html = render('{% picture o widths="200,400" %}', o=photo)
    urls = [
        url for _, attrs in elements(html) for name in ("srcset", "src") if name in attrs for url in attrs[name].split()
    ]
    urls = [url for url in urls if not url.endswith("w,") and not url.endswith("w")]
    assert urls and all(url.startswith("https://img.example.com/image/") for url in urls)
    assert render("{% variant_url oid w=300 %}", oid=photo.id) == f"https://img.example.com/image/{photo.id}/?w=300"


@override_settings(URL_SIGNING="required", URL_SIGNING_KEYS=["picture-key"])
def test_signed_urls_are_served(client: Client, photo: Original) -> None:
    html = render('{% picture o widths="200,400" %}', o=photo)
    for _, attrs in elements(html)[1:]:
        for url, _ in candidates(attrs["srcset"]):
            assert "sig=" in url
            fetched(client, url)


def test_avif_leaves_out_what_it_cannot_hold_and_animations(client: Client, upload_original) -> None:
    big = Original.objects.get(id=upload_original(images.encode(Image.new("RGB", (3000, 2000), "teal"), "PNG"))["id"])
    html = render('{% picture o widths="1600,2560" %}', o=big)
    (_, avif), (_, webp) = elements(html)[1:3]
    assert [width for _, width in candidates(avif["srcset"])] == [1600]  # 2560x1707 is past AVIF's 4.2 MP a frame
    assert [width for _, width in candidates(webp["srcset"])] == [1600, 2560]
    moving = Original.objects.get(id=upload_original(images.animation("GIF"), "moving.gif")["id"])
    found = elements(render('{% picture o widths="20" fmt="gif" %}', o=moving))
    assert [attrs.get("type") for tag, attrs in found if tag == "source"] == ["image/webp"]


@pytest.mark.parametrize(
    "tag",
    [
        "{% picture o w=300 %}",
        "{% picture o dpr=2 %}",
        '{% picture o preset="small" %}',
        '{% picture o widths="wide" %}',
        '{% picture o widths="0,100" %}',
        '{% picture o aspect="wide" %}',
        '{% picture o aspect="0:1" %}',
    ],
)
def test_refusals(photo: Original, tag: str) -> None:
    with pytest.raises(TemplateSyntaxError):
        render(tag, o=photo)


def test_the_pages_allow_images_from_public_base_url() -> None:
    from server.errors import _image_origins

    assert _image_origins() == "'self'"
    with override_settings(PUBLIC_BASE_URL="https://img.example.com/dr"):
        assert _image_origins() == "'self' https://img.example.com"
