"""The tags' `<img>` carries the original's placeholder (data-blurhash, data-color, data-aspect) for
static/js/placeholders.js; an id takes them as keywords; a turned or mirrored variant gets none."""

import pytest
from django.template import TemplateSyntaxError
from django.test import Client
from PIL import Image

from originals.models import Original

from . import images
from .test_picture_tag import elements, render

pytestmark = pytest.mark.django_db
HASH = "LEHV6nWB2yk8pyo0adR*.7kCMdnj"  # blurha.sh's own example


@pytest.fixture
def photo(upload_original) -> Original:
    oid = upload_original(images.encode(Image.new("RGB", (1200, 800), (200, 40, 30)), "PNG"), "photo.png")["id"]
    return Original.objects.get(id=oid)


def img_of(html: str) -> dict[str, str]:
    (attributes,) = [attributes for tag, attributes in elements(html) if tag == "img"]
    return attributes


@pytest.mark.parametrize(
    "text",
    [
        '{% variant_img o w=240 h=240 fit="cover" alt="" %}',
        '{% picture o widths="320,640" alt="" %}',
        '{% picture o widths="320,640" aspect="1:1" gravity="n" %}',
    ],
)
def test_an_originals_img_carries_its_placeholder(photo: Original, text: str) -> None:
    assert photo.dominant_color == "#c8281e" and photo.blurhash
    img = img_of(render(text, o=photo))
    assert (img["data-blurhash"], img["data-color"], img["data-aspect"]) == (photo.blurhash, "#c8281e", "1.5000")
    others = [attributes for tag, attributes in elements(render(text, o=photo)) if tag != "img"]
    assert not any(name.startswith("data-") for attributes in others for name in attributes), "the <img> alone"


def test_an_id_takes_the_placeholder_of_its_json(photo: Original) -> None:
    keywords = 'width=1200 height=800 blurhash=hash dominant_color="#A1B2C3"'
    img = img_of(render("{% picture id " + keywords + ' widths="320" %}', id=photo.id, hash=HASH))
    assert (img["data-blurhash"], img["data-color"], img["data-aspect"]) == (HASH, "#A1B2C3", "1.5000")
    bare = img_of(render("{% variant_img id width=1200 height=800 w=100 %}", id=photo.id))
    assert not any(name.startswith("data-") for name in bare), "an id alone says nothing of its colours"
    only_colour = img_of(render('{% variant_img o w=100 blurhash="" %}', o=photo))
    assert "data-blurhash" not in only_colour and only_colour["data-color"] == "#c8281e"


def test_an_original_without_one_gets_none(photo: Original) -> None:
    Original.objects.filter(pk=photo.pk).update(blurhash=None, dominant_color=None)
    img = img_of(render("{% variant_img o w=100 %}", o=Original.objects.get(pk=photo.pk)))
    assert not any(name.startswith("data-") for name in img)


@pytest.mark.parametrize("params", ["rotate=90", 'flip="h"', 'rotate=180 flip="v"'])
def test_a_turned_or_mirrored_variant_gets_none(photo: Original, params: str) -> None:
    for text in ("{% variant_img o w=100 " + params + " %}", '{% picture o widths="320" ' + params + " %}"):
        assert not any(name.startswith("data-") for name in img_of(render(text, o=photo))), text


@pytest.mark.parametrize(
    ("keywords", "named"),
    [
        ('blurhash="<b>"', "blurhash="),
        ('blurhash="L"', "blurhash="),
        ('dominant_color="red"', "dominant_color="),
        ('dominant_color="#12345"', "dominant_color="),
        ("dominant_color=7", "dominant_color="),
    ],
)
def test_refusals(photo: Original, keywords: str, named: str) -> None:
    with pytest.raises(TemplateSyntaxError, match=named):
        render("{% variant_img o w=100 " + keywords + " %}", o=photo)


def test_the_gallery_carries_them_and_loads_the_script(photo: Original) -> None:
    page = Client().get("/", headers={"Accept": "text/html"}).content.decode()
    assert f'data-blurhash="{photo.blurhash}"' in page and 'data-color="#c8281e"' in page
    assert '<script src="/static/js/placeholders.js" defer></script>' in page
