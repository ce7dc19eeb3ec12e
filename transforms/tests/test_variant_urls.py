"""The variant template tags: canonical URLs, srcset densities, and an <img> size that matches the render."""

from dataclasses import dataclass
from urllib.parse import parse_qsl

import pytest
from django.template import Context, Template
from django.test import override_settings

from transforms.pipeline import render
from transforms.spec import InvalidSpec, VariantSpec, parse
from transforms.templatetags.variant_urls import output_size, srcset_candidates

from . import images


@dataclass
class Picture:
    id: str
    width: int
    height: int


PHOTO = Picture("abc123", 400, 300)


def spec(query: str) -> VariantSpec:
    return parse(parse_qsl(query))


@pytest.mark.parametrize(
    "query",
    [
        "",
        "w=100",
        "h=100",
        "w=100&h=100",
        "w=100&h=100&fit=cover",
        "w=100&h=50&fit=fill",
        "w=100&h=100&fit=pad",
        "w=1000&h=1000&fit=cover",
        "w=1000&h=500&fit=pad",
        "w=100&rotate=90",
        "w=120&h=40&fit=cover&rotate=270",
        "w=100&h=100&fit=pad&rotate=90",
        "w=3&h=100&fit=cover",
        "w=50&flip=hv",
    ],
)
def test_the_predicted_size_is_the_rendered_size(query):
    source = images.encode(images.marker((PHOTO.width, PHOTO.height)), "PNG")
    wanted = spec(query)
    rendered = render(source, wanted, "png")
    assert output_size(PHOTO, wanted) == (rendered.width, rendered.height)


def test_srcset_offers_2x_only_when_it_adds_pixels():
    assert srcset_candidates(PHOTO, spec("w=100")) == [("/image/abc123/?w=100", 1), ("/image/abc123/?w=200", 2)]
    assert srcset_candidates(PHOTO, spec("w=300")) == [("/image/abc123/?w=300", 1), ("/image/abc123/?w=600", 2)]
    assert srcset_candidates(PHOTO, spec("w=400")) == [("/image/abc123/?w=400", 1)]  # 800 would be 400 again
    assert srcset_candidates(PHOTO, spec("")) == [("/image/abc123/", 1)]


@override_settings(MAX_OUTPUT_SIDE=300)
def test_srcset_stays_within_the_largest_side():
    assert srcset_candidates(Picture("big", 4000, 3000), parse([("w", "200")], max_side=300)) == [
        ("/image/big/?w=200", 1)
    ]


def render_template(text: str, **context: object) -> str:
    return Template("{% load variant_urls %}" + text).render(Context(context))


def test_variant_url_is_canonical():
    assert (
        render_template('{% variant_url p fmt="JPG" w=300 rotate=0 %}', p=PHOTO) == "/image/abc123/?fmt=jpeg&amp;w=300"
    )
    assert (
        render_template("{% variant_srcset p w=100 %}", p=PHOTO) == "/image/abc123/?w=100 1x, /image/abc123/?w=200 2x"
    )


def test_variant_url_refuses_what_a_url_would():
    with pytest.raises(InvalidSpec):
        render_template("{% variant_url p w=0 %}", p=PHOTO)


def test_variant_img_is_lazy_sized_and_escaped():
    html = render_template('{% variant_img p w=200 h=200 fit="cover" alt=name class="t" %}', p=PHOTO, name='a "b" <c>')
    assert html == (
        '<img src="/image/abc123/?fit=cover&amp;h=200&amp;w=200" '
        'srcset="/image/abc123/?fit=cover&amp;h=200&amp;w=200 1x, /image/abc123/?fit=cover&amp;h=400&amp;w=400 2x" '
        'width="200" height="200" loading="lazy" decoding="async" alt="a &quot;b&quot; &lt;c&gt;" class="t">'
    )
