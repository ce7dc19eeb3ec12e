"""crop and gravity through /image/, the output budgets, the URL builder and the template tags."""

import io

import pytest
from django.template import Context, Template
from django.test import Client
from PIL import Image

from transforms.budgets import OverBudget
from transforms.spec import InvalidSpec, VariantSpec, parse
from transforms.variants import OriginalFacts, variant_resolve

from . import images

pytestmark = pytest.mark.django_db


def near(pixel, colour, tolerance=40):
    return all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], colour, strict=True))


@pytest.fixture
def marker_640(upload_original) -> dict:
    return upload_original(images.encode(images.marker((640, 480)), "JPEG", quality=92), "marker.jpg")


def facts(width: int, height: int) -> OriginalFacts:
    return OriginalFacts("AAAAAAAAAAAA", "0" * 64, "JPEG", False, 1, width, height)


def test_both_spellings_of_a_crop_are_one_cache_entry(client: Client, marker_640):
    base = f"/image/{marker_640['id']}/"
    first = client.get(base + "?crop=0.5,0.0,0.5,1.0&fmt=png")
    assert first.status_code == 200 and first["X-Cache"] == "miss"
    picture = Image.open(io.BytesIO(first.content))
    assert picture.size == (320, 480)
    assert near(picture.getpixel((10, 10)), images.GREEN) and near(picture.getpixel((310, 470)), images.YELLOW)
    for spelling in ("crop=320,0,320,480&fmt=png", "fmt=PNG&crop=0.50,0.000,0.5,1.0", "crop=0320,0,320,0480&fmt=png"):
        again = client.get(f"{base}?{spelling}")
        assert again["ETag"] == first["ETag"] and again["X-Cache"] != "miss", spelling
    whole = client.get(base + "?crop=0.0,0.0,1.0,1.0&fmt=png")
    assert whole["ETag"] == client.get(base + "?fmt=png")["ETag"], "a crop of all of it is no crop"


@pytest.mark.parametrize("crop", ["600,0,41,10", "0,0,640,481", "640,0,1,1", "0.0,0.0,0.0001,1.0"])
def test_a_crop_outside_the_original_is_400_naming_crop(client: Client, marker_640, crop: str):
    response = client.get(f"/image/{marker_640['id']}/?crop={crop}")
    assert response.status_code == 400
    body = response.json()
    assert (body["param"], body["code"]) == ("crop", "out_of_range") and "640x480" in body["error"]
    assert response["Cache-Control"] == "no-store"


def test_a_crop_outside_an_unknown_original_is_its_404(client: Client):
    assert client.get("/image/AAAAAAAAAAAA/?crop=600,0,41,10").status_code == 404


def test_the_output_budget_is_worked_out_on_the_crop():
    whole = VariantSpec()
    with pytest.raises(OverBudget):
        variant_resolve(whole, facts(6000, 5000))  # 30 MP at full size: over the 25 MP budget
    cropped = variant_resolve(parse([("crop", "0,0,4000,4000")]), facts(6000, 5000))
    assert cropped.spec.canonical_query == "crop=0,0,4000,4000&fmt=jpeg"
    fractions = variant_resolve(parse([("crop", "0.0,0.0,0.666667,0.8")]), facts(6000, 5000))
    assert fractions.key == cropped.key


def test_the_builder_offers_crop_and_refuses_it_as_image_would(client: Client, marker_640):
    oid = marker_640["id"]
    page = client.get(f"/originals/{oid}/?crop=0.5,0.0,0.5,1.0&w=100").content.decode()
    assert 'name="crop" data-param type="text" value="0.5,0.0,0.5,1.0"' in page
    assert "/image/" in page and "crop=0.5,0.0,0.5,1.0" in page
    link = client.get(f"/originals/{oid}/url/?crop=10,10,100,100").json()["url"]
    assert "crop=10,10,100,100" in link and client.get(link).status_code == 200
    refused = client.get(f"/originals/{oid}/url/?crop=600,0,41,10")
    assert refused.status_code == 400 and refused.json()["param"] == "crop"
    page = client.get(f"/originals/{oid}/?crop=600,0,41,10").content.decode()
    assert "reaches outside the 640x480 picture" in page


class Picture:
    id, width, height = "abc123", 640, 480


def test_the_tags_size_an_img_from_the_crop():
    html = Template('{% load variant_urls %}{% variant_img p crop="0.5,0.0,0.5,1.0" w=160 %}').render(
        Context({"p": Picture()})
    )
    assert 'src="/image/abc123/?crop=0.5,0.0,0.5,1.0&amp;w=160"' in html
    assert 'width="160" height="240"' in html
    with pytest.raises(InvalidSpec):
        Template('{% load variant_urls %}{% variant_img p crop="600,0,41,10" %}').render(Context({"p": Picture()}))


def test_gravity_through_image_the_builder_and_the_tags(client: Client, marker_640):
    oid = marker_640["id"]
    base = f"/image/{oid}/?w=100&h=300&fit=cover&fmt=png"
    west, east = client.get(base + "&gravity=w"), client.get(base + "&gravity=e")
    assert west["ETag"] != east["ETag"]
    assert near(Image.open(io.BytesIO(west.content)).getpixel((50, 10)), images.RED)
    assert near(Image.open(io.BytesIO(east.content)).getpixel((50, 290)), images.YELLOW)
    centre = client.get(base)
    assert client.get(base + "&gravity=center")["ETag"] == centre["ETag"]
    unused = client.get(f"/image/{oid}/?w=100&gravity=e")
    assert unused["ETag"] == client.get(f"/image/{oid}/?w=100")["ETag"], "gravity without fit=cover is no variant"

    page = client.get(f"/originals/{oid}/?w=100&h=300&fit=cover&gravity=e").content.decode()
    assert '<select name="gravity" data-param>' in page and '<option value="e" selected>' in page
    link = client.get(f"/originals/{oid}/url/?w=100&h=300&fit=cover&gravity=e&fmt=png").json()["url"]
    assert "gravity=e" in link and client.get(link)["ETag"] == east["ETag"]

    html = Template('{% load variant_urls %}{% variant_url p w=100 h=300 fit="cover" gravity="e" %}').render(
        Context({"p": Picture()})
    )
    assert html == "/image/abc123/?fit=cover&amp;gravity=e&amp;h=300&amp;w=100"


def test_moving_the_focal_point_re_renders_exactly_the_variants_that_use_it(
    client: Client, django_capture_on_commit_callbacks
):
    from rest_framework.test import APIClient

    from originals.models import User
    from transforms.variants import known_originals

    alice = User.objects.create_user("alice", password="alice-password-1")
    api = APIClient()
    api.force_authenticate(alice)
    data = images.encode(images.marker((640, 480)), "JPEG", quality=92)
    oid = api.post("/api/v1/originals/", {"file": _upload(data)}, format="multipart").json()["id"]
    focal = f"/image/{oid}/?w=100&h=300&fit=cover&gravity=focal&fmt=png"
    plain = f"/image/{oid}/?w=100&h=300&fit=cover&fmt=png"
    other = f"/image/{oid}/?w=100&h=300&fit=cover&gravity=e&fmt=png"

    before = {url: client.get(url) for url in (focal, plain, other)}
    assert before[focal]["ETag"] == before[plain]["ETag"], "no focal point yet: the centre"
    assert before[focal]["Cache-Control"] == "public, max-age=60", "its picture can change under its URL"
    assert before[plain]["Cache-Control"] == "public, max-age=31536000, immutable"
    assert known_originals.get(oid) is not None

    with django_capture_on_commit_callbacks(execute=True):  # the signal is sent once the change is committed
        moved = api.patch(f"/api/v1/originals/{oid}/", {"focal_x": 0.95, "focal_y": 0.1}, format="json")
    assert moved.status_code == 200
    assert known_originals.get(oid) is None, "the worker that saved the point forgets what it knew"

    after = {url: client.get(url) for url in (focal, plain, other)}
    assert after[focal]["ETag"] != before[focal]["ETag"] and after[focal]["X-Cache"] == "miss"
    picture = Image.open(io.BytesIO(after[focal].content))
    assert near(picture.getpixel((50, 10)), images.GREEN), "the box moved to the top-right, where the point is"
    for url in (plain, other):
        assert after[url]["ETag"] == before[url]["ETag"] and after[url]["X-Cache"] != "miss", url
    revalidated = client.get(focal, HTTP_IF_NONE_MATCH=before[focal]["ETag"])
    assert revalidated.status_code == 200, "the old ETag is stale: a cache asking again gets the new picture"
    assert client.get(focal, HTTP_IF_NONE_MATCH=after[focal]["ETag"]).status_code == 304

    with django_capture_on_commit_callbacks(execute=True):
        api.patch(f"/api/v1/originals/{oid}/", {"focal_x": None, "focal_y": None}, format="json")
    assert client.get(focal)["ETag"] == before[plain]["ETag"], "cleared: the centre again"


def test_a_worker_that_remembers_the_old_facts_works_the_variant_out_again_for_new_ones():
    import dataclasses
    from decimal import Decimal

    from transforms.answer import Resolutions

    memo = Resolutions()
    spec = parse([("w", "10"), ("h", "30"), ("fit", "cover"), ("gravity", "focal")])
    old = facts(640, 480)
    new = dataclasses.replace(old, focal=(Decimal("0.9"), Decimal("0.1")))
    checked = (spec, None)  # (the spec, its signature) as the query memo gives them
    first = memo.variant(old, checked, "q", "")
    assert memo.variant(old, checked, "q", "") is first, "the same facts: remembered"
    second = memo.variant(new, checked, "q", "")
    assert second.variant.key != first.variant.key  # type: ignore[union-attr]


def _upload(data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("m.jpg", data)


def test_the_builder_and_the_tags_offer_gravity_focal(client: Client, marker_640):
    page = client.get(f"/originals/{marker_640['id']}/?w=100&h=100&fit=cover&gravity=focal").content.decode()
    assert '<option value="focal" selected>' in page
    html = Template('{% load variant_urls %}{% variant_url p w=100 h=100 fit="cover" gravity="focal" %}').render(
        Context({"p": Picture()})
    )
    assert html == "/image/abc123/?fit=cover&amp;gravity=focal&amp;h=100&amp;w=100"


def test_a_smart_crop_through_image_in_a_render_process(client: Client, upload_original):
    subject = (60, 300, 260, 500)
    upright = images.scene((1200, 800), subject)
    oid = upload_original(images.encode(upright, "JPEG", quality=90), "scene.jpg")["id"]
    smart = client.get(f"/image/{oid}/?w=300&h=600&fit=cover&gravity=smart&fmt=png")
    assert smart.status_code == 200 and smart["Cache-Control"].endswith("immutable")
    centre = client.get(f"/image/{oid}/?w=300&h=600&fit=cover&fmt=png")
    assert smart["ETag"] != centre["ETag"]
    picture = Image.open(io.BytesIO(smart.content)).convert("RGB")
    expected = upright.resize((300, 600), Image.Resampling.LANCZOS, box=(0, 0, 400, 800))
    mean = sum(abs(a - b) for a, b in zip(picture.tobytes(), expected.tobytes(), strict=True)) / len(picture.tobytes())
    assert mean < 12, "the left third, where the subject is"
