"""The operation registry is the one declaration of the variant vocabulary: README, parser, builder, tags, signing."""

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import Client, override_settings

from transforms.operations import REGISTRY
from transforms.spec import PRESET, VariantSpec, parse

from . import images
from .tint import Tint

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_parameter_rows() -> dict[str, str]:
    """{parameter: values column} of the README's table under "Variants"."""
    text = README.read_text()
    table = text[text.index("| param | values | meaning |") :].split("\n\n", 1)[0]
    rows: dict[str, str] = {}
    for line in table.splitlines()[2:]:
        names, values = line.split("|")[1:3]
        for name in re.findall(r"`([a-z]+)`", names):
            rows[name] = values
    return rows


def test_the_readme_table_and_the_registry_name_the_same_parameters():
    assert set(readme_parameter_rows()) == {*REGISTRY.params, PRESET}


@pytest.mark.parametrize("name", [name for name, param in REGISTRY.params.items() if param.offer()])
def test_the_readme_offers_every_canonical_value_of_a_choice(name: str):
    param = REGISTRY.params[name]
    offered = [value for value, _ in param.offer() or () if value]
    missing = [value for value in offered if f"`{value}`" not in readme_parameter_rows()[name]]
    assert not missing, f"README's row for {name} lacks {missing}"


@pytest.fixture
def tint() -> Iterator[None]:
    from transforms.answer import resolutions

    resolutions.reset()
    with REGISTRY.extended(Tint()):
        yield
    resolutions.reset()


def test_a_registered_operation_is_parsed_canonicalised_and_keyed(tint):
    spec = parse([("tint", "red"), ("w", "300")])
    assert spec.value("tint") == "red" and spec.canonical_query == "tint=red&w=300"
    assert spec != parse([("w", "300")])
    assert VariantSpec(w=300, tint="red") == spec


def test_without_it_the_parameter_is_unknown():
    with pytest.raises(Exception, match="'tint' is not a parameter"):
        parse([("tint", "red")])


@pytest.mark.django_db
@override_settings(URL_SIGNING="presets", URL_SIGNING_KEYS=["k" * 32], WIDTH_LADDER=[160, 480])
def test_signing_compares_whole_specs_so_a_new_parameter_needs_a_signature(client: Client, upload_original, tint):
    oid = upload_original(images.encode(images.marker((640, 480)), "JPEG"), "m.jpg")["id"]
    assert client.get(f"/image/{oid}/?w=480").status_code == 200, "a ladder width alone is public"
    beside_ladder = client.get(f"/image/{oid}/?w=480&tint=red")
    assert beside_ladder.status_code == 403 and beside_ladder.json()["code"] == "signature_required"
    beside_preset = client.get(f"/image/{oid}/?preset=small&fmt=webp")
    assert beside_preset.status_code == 200
    assert client.get(f"/image/{oid}/?w=480&tint=red&fmt=png").status_code == 403


@pytest.mark.django_db
def test_the_builder_and_the_tags_offer_a_registered_parameter(client: Client, upload_original, tint):
    from django.template import Context, Template

    body = upload_original(images.encode(images.marker((640, 480)), "JPEG"), "m.jpg")
    page = client.get(f"/originals/{body['id']}/?w=200&tint=red").content.decode()
    assert '<select name="tint" data-param>' in page and 'value="red" selected' in page
    link = client.get(f"/originals/{body['id']}/url/?w=200&tint=red").json()["url"]
    assert "tint=red" in link
    tinted = client.get(link)
    assert tinted.status_code == 200, "the render process holds the worker's operations"
    plain = client.get(link.replace("tint=red&", ""))
    assert tinted["ETag"] != plain["ETag"] and tinted.content != plain.content

    class Picture:
        id, width, height = body["id"], 640, 480

    html = Template('{% load variant_urls %}{% variant_url p w=100 tint="blue" %}').render(Context({"p": Picture()}))
    assert "tint=blue" in html


def schema_of(client: Client) -> dict:
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    import json

    return json.loads(response.content)


@pytest.mark.django_db
def test_the_openapi_schema_documents_the_variant_endpoint_from_the_registry(client: Client, tint):
    schema = schema_of(client)
    get = schema["paths"]["/image/{id}/"]["get"]
    names = [parameter["name"] for parameter in get["parameters"]]
    assert names == ["id", *REGISTRY.params, "preset", "sig"], "tint, registered for this test, is in it too"
    by_name = {parameter["name"]: parameter["schema"] for parameter in get["parameters"]}
    assert by_name["w"] == {"type": "integer", "minimum": 1, "maximum": 8192}
    assert by_name["rotate"] == {"type": "integer", "enum": [0, 90, 180, 270]}
    assert set(get["responses"]) >= {"200", "304", "400", "403", "404", "422", "429", "503"}
    assert "/image//" not in schema["info"]["description"]
    info = schema["paths"]["/image/{id}/info/"]["get"]
    assert [parameter["name"] for parameter in info["parameters"]] == names
