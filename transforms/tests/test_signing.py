"""Signed URLs: modes, rotation, presets, the width ladder, and links the service writes."""

from urllib.parse import parse_qsl, urlsplit

import pytest
from django.test import Client, override_settings

from transforms import signing
from transforms.links import variant_path
from transforms.spec import InvalidSpec, VariantSpec, parse

from . import images

pytestmark = pytest.mark.django_db

OLD, NEW = "old-key-0123456789", "new-key-9876543210"


@pytest.fixture
def original(upload_original) -> dict:
    return upload_original(images.encode(images.marker((320, 240)), "JPEG"), "m.jpg")


def signed(original_id: str, query: str, key: str) -> str:
    spec = parse(parse_qsl(query), presets=signing.presets())
    return f"/image/{original_id}/?{query}&sig={signing.sign(signing.message(original_id, spec), key.encode())}"


@override_settings(URL_SIGNING="required", URL_SIGNING_KEYS=[NEW, OLD])
def test_required_mode(client: Client, original):
    oid = original["id"]
    unsigned = client.get(f"/image/{oid}/?w=100")
    assert unsigned.status_code == 403 and unsigned.json()["code"] == "signature_required"
    assert unsigned.json()["param"] == "sig"
    assert client.get(signed(oid, "w=100", NEW)).status_code == 200
    assert client.get(signed(oid, "w=100", OLD)).status_code == 200, "a rotated-out key still verifies"
    bad = client.get(signed(oid, "w=100", "someone-else"))
    assert bad.status_code == 403 and bad.json()["code"] == "invalid_signature"
    tampered = signed(oid, "w=100", NEW).replace("w=100", "w=101")
    assert client.get(tampered).status_code == 403
    other_original = signed("AAAAAAAAAAAA", "w=100", NEW).replace("AAAAAAAAAAAA", oid)
    assert client.get(other_original).status_code == 403, "a signature is bound to its original"
    # Every spelling of the variant shares the canonical URL's signature.
    sig = signed(oid, "w=100&fmt=png", NEW).rsplit("sig=", 1)[1]
    assert client.get(f"/image/{oid}/?sig={sig}&fmt=PNG&rotate=0&w=100").status_code == 200


@override_settings(URL_SIGNING="required", URL_SIGNING_KEYS=[NEW])
def test_bad_queries_are_still_400_before_the_signature(client: Client, original):
    response = client.get(f"/image/{original['id']}/?w=abc&sig=x")
    assert response.status_code == 400 and response.json()["param"] == "w"
    twice = client.get(f"/image/{original['id']}/?w=1&sig=a&sig=b")
    assert twice.status_code == 400 and twice.json()["code"] == "repeated_parameter"


@override_settings(URL_SIGNING="presets", URL_SIGNING_KEYS=[NEW], WIDTH_LADDER=[160, 320])
def test_presets_mode_serves_presets_and_ladder_unsigned(client: Client, original):
    oid = original["id"]
    for query in ("preset=thumbnail", "preset=thumbnail&fmt=webp", "w=160", "w=320&fmt=webp", "w=200&h=200&fit=cover"):
        assert client.get(f"/image/{oid}/?{query}").status_code == 200, query
    for query in ("w=161", "w=160&h=100", "w=160&q=50", "rotate=90&w=160", ""):
        response = client.get(f"/image/{oid}/?{query}")
        assert response.status_code == 403, query
    assert client.get(signed(oid, "w=161", NEW)).status_code == 200


def test_preset_is_one_variant_with_its_expansion(client: Client, original):
    a = client.get(f"/image/{original['id']}/?preset=thumbnail")
    b = client.get(f"/image/{original['id']}/?w=200&fit=cover&h=200")
    assert a.status_code == 200 and a["ETag"] == b["ETag"]


@pytest.mark.parametrize(
    ("query", "param", "code"),
    [
        ("preset=huge", "preset", "invalid_parameter"),
        ("preset=thumbnail&w=10", "w", "conflicting_parameter"),
        ("preset=thumbnail&preset=small", "preset", "repeated_parameter"),
        ("preset=", "preset", "empty_parameter"),
    ],
)
def test_preset_refusals(query, param, code):
    with pytest.raises(InvalidSpec) as caught:
        parse(parse_qsl(query, keep_blank_values=True), presets=signing.presets())
    assert (caught.value.param, caught.value.code) == (param, code)


@override_settings(URL_SIGNING="required", URL_SIGNING_KEYS=[NEW, OLD])
def test_links_the_service_writes_are_signed_with_the_first_key(client: Client, original):
    path = variant_path(original["id"], VariantSpec(w=123, fmt="webp"))
    query = dict(parse_qsl(urlsplit(path).query))
    assert query["sig"] == signing.sign(signing.message(original["id"], VariantSpec(w=123, fmt="webp")), NEW.encode())
    assert client.get(path).status_code == 200
    api = client.get(f"/api/v1/originals/{original['id']}/").json()
    for url in (api["url"], *api["variants"].values()):
        assert client.get(url.removeprefix("http://testserver"), HTTP_ACCEPT="image/webp").status_code == 200, url


@override_settings(URL_SIGNING="off")
def test_off_mode_ignores_sig(client: Client, original):
    assert client.get(f"/image/{original['id']}/?w=50&sig=whatever").status_code == 200
    assert "sig=" not in variant_path(original["id"], VariantSpec(w=50))


JPEG_SPELLINGS = ["w=300", "fmt=jpeg&w=300", "w=300&q=82", "q=82&fmt=JPG&w=0300&rotate=0", "fit=cover&w=300"]


@pytest.mark.parametrize("spelling", JPEG_SPELLINGS)
@override_settings(URL_SIGNING="required", URL_SIGNING_KEYS=[NEW])
def test_every_spelling_of_a_variant_verifies_with_one_signature(client: Client, original, spelling: str):
    """Issue 12: they share an ETag, so they share the signature of the canonical form, `/image/<id>/?w=300`."""
    oid = original["id"]  # a JPEG: fmt=jpeg is its default format, q=82 JPEG's default quality
    sig = signing.sign(f"/image/{oid}/?w=300".encode(), NEW.encode())
    response = client.get(f"/image/{oid}/?{spelling}&sig={sig}")
    assert response.status_code == 200, response.content
    assert response["ETag"] == client.get(f"/image/{oid}/?w=300&sig={sig}")["ETag"]


@override_settings(URL_SIGNING="required", URL_SIGNING_KEYS=[NEW])
def test_the_bare_variant_signs_path_and_question_mark(client: Client, original):
    oid = original["id"]
    sig = signing.sign(f"/image/{oid}/?".encode(), NEW.encode())
    assert client.get(f"/image/{oid}/?sig={sig}").status_code == 200
    assert client.get(f"/image/{oid}/?fmt=jpeg&sig={sig}").status_code == 200, "fmt=jpeg is a JPEG's own"


@override_settings(URL_SIGNING="required", URL_SIGNING_KEYS=[NEW])
def test_the_service_writes_the_canonical_signature(client: Client, original):
    from originals.models import Original

    oid = original["id"]
    path = variant_path(Original.objects.get(pk=oid), VariantSpec(w=300, fmt="jpeg", q=82))
    expected = signing.sign(f"/image/{oid}/?w=300".encode(), NEW.encode())
    assert path.endswith(f"?w=300&sig={expected}"), "written as it is signed: a JPEG's fmt and q are its defaults"
    assert client.get(path).status_code == 200


def test_the_readmes_shell_recipe_signs_as_the_service_verifies(client: Client, original):
    """The README's `sign()` line, run by bash with openssl, against the service in required mode."""
    import re
    import subprocess
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    line = next(line.strip() for line in readme.splitlines() if line.strip().startswith("sign() {"))
    key = "readme-recipe-key-0123456789abcdef"
    oid, query = original["id"], "fmt=webp&w=300"
    done = subprocess.run(
        ["bash", "-c", f'{line}\nsign "$ID" "$QUERY"'],
        env={"PATH": "/usr/bin:/bin", "URL_SIGNING_KEY": key, "ID": oid, "QUERY": query},
        capture_output=True,
        text=True,
        check=True,
    )
    sig = done.stdout.strip()
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", sig), done
    assert sig == signing.sign(f"/image/{oid}/?{query}".encode(), key.encode())
    with override_settings(URL_SIGNING="required", URL_SIGNING_KEYS=[key]):
        assert client.get(f"/image/{oid}/?{query}&sig={sig}").status_code == 200
        wrong = sig[:-1] + ("E" if sig.endswith("A") else "A")  # the last character holds 4 bits: A, E, I, …
        assert client.get(f"/image/{oid}/?{query}&sig={wrong}").status_code == 403
