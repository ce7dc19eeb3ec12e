"""An original's placeholder as a client sees it: made at upload, in its JSON (detail, list, upload), read-only,
both or neither in the database, and `backfill_placeholders` for originals without one (real store, real DB); the
README's example of the JSON has every field, in order."""

import io
import json
import re
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from PIL import Image
from rest_framework.test import APIClient

from originals import store
from originals.models import Original

from .conftest import upload

pytestmark = pytest.mark.django_db
HASH_LENGTH = 4 + 2 * 4 * 3  # 4x3 components


def png(size: tuple[int, int], colour: tuple[int, ...], mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, colour).save(buffer, "PNG")
    return buffer.getvalue()


def post(client: APIClient, data: bytes, name: str = "picture.png") -> dict:
    response = client.post("/api/v1/originals/", {"file": upload(data, name, "image/png")}, format="multipart")
    assert response.status_code == 201, response.content
    return response.json()


def test_an_upload_answers_with_its_placeholder(client):
    body = post(client, png((90, 60), (255, 0, 0)))
    assert body["dominant_color"] == "#ff0000"
    assert isinstance(body["blurhash"], str) and len(body["blurhash"]) == HASH_LENGTH
    detail = client.get(f"/api/v1/originals/{body['id']}/").json()
    listed = client.get("/api/v1/originals/").json()["results"][0]
    for seen in (detail, listed):
        assert (seen["blurhash"], seen["dominant_color"]) == (body["blurhash"], body["dominant_color"])
    record = Original.objects.get(pk=body["id"])
    assert (record.blurhash, record.dominant_color) == (body["blurhash"], "#ff0000")


def test_a_transparent_upload_is_placed_on_white(client):
    assert post(client, png((40, 40), (0, 0, 0, 0), "RGBA"))["dominant_color"] == "#ffffff"


def test_the_placeholder_cannot_be_written(client, alice_client):
    mine = alice_client.post("/api/v1/originals/", {"file": upload(png((40, 40), (0, 0, 255)))}, format="multipart")
    path = f"/api/v1/originals/{mine.json()['id']}/"
    for field, value in (("blurhash", "L00000fQfQfQfQfQfQfQfQfQfQfQ"), ("dominant_color", "#000000")):
        response = alice_client.patch(path, {field: value}, format="json")
        assert response.status_code == 400 and response.json()["param"] == field, response.content
        assert response.json()["code"] == "invalid_parameter"
    assert client.get(path).json()["dominant_color"] == "#0000ff"


def test_the_schema_documents_both_fields(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    fields = schema["components"]["schemas"]["OriginalOutput"]["properties"]
    assert fields["blurhash"]["nullable"] and fields["blurhash"]["readOnly"]
    assert "#rrggbb" in fields["dominant_color"]["description"]


def test_both_or_neither_in_the_database(client):
    body = post(client, png((30, 30), (0, 128, 0)))
    with pytest.raises(IntegrityError), transaction.atomic():
        Original.objects.filter(pk=body["id"]).update(blurhash=None)
    assert Original.objects.filter(pk=body["id"], blurhash__isnull=False).exists()


def forget_placeholders() -> None:
    Original.objects.update(blurhash=None, dominant_color=None)


def backfill(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("backfill_placeholders", *args, stdout=out, stderr=err)
    except CommandError as exc:
        err.write(f"CommandError: {exc}")
    return out.getvalue(), err.getvalue()


def test_backfill_makes_what_the_upload_made_in_batches(client):
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (250, 250, 250), (20, 20, 20)]
    made = {post(client, png((64, 48), colour))["id"]: colour for colour in colours}
    at_upload = dict(Original.objects.values_list("id", "blurhash"))
    forget_placeholders()
    assert client.get(f"/api/v1/originals/{next(iter(made))}/").json()["blurhash"] is None, "null until made"
    out, err = backfill("--batch-size", "2")
    assert err == ""
    assert out.splitlines() == [
        "2 of 5: made 2, failed 0",
        "4 of 5: made 4, failed 0",
        "5 of 5: made 5, failed 0",
        "made 5, already had one 0, deleted meanwhile 0, failed 0",
    ]
    assert dict(Original.objects.values_list("id", "blurhash")) == at_upload
    for original_id, colour in made.items():
        assert client.get(f"/api/v1/originals/{original_id}/").json()["dominant_color"] == "#{:02x}{:02x}{:02x}".format(
            *colour
        )


def test_backfill_again_changes_nothing_unless_forced(client):
    body = post(client, png((50, 50), (0, 0, 255)))
    Original.objects.filter(pk=body["id"]).update(blurhash="L00000fQfQfQfQfQfQfQfQfQfQfQ", dominant_color="#123456")
    out, _ = backfill()
    assert out.splitlines()[-1] == "made 0, already had one 1, deleted meanwhile 0, failed 0"
    assert Original.objects.get(pk=body["id"]).dominant_color == "#123456", "idempotent: kept as it is"
    out, _ = backfill("--force")
    assert out.splitlines()[-1] == "made 1, already had one 0, deleted meanwhile 0, failed 0"
    assert Original.objects.get(pk=body["id"]).dominant_color == "#0000ff"
    assert Original.objects.get(pk=body["id"]).blurhash == body["blurhash"]


def test_backfill_names_each_failure_and_exits_1(client):
    lost = post(client, png((40, 30), (255, 0, 0)))
    broken = post(client, png((40, 30), (0, 255, 0)))
    fine = post(client, png((40, 30), (0, 0, 255)))
    forget_placeholders()
    store.path_for(lost["sha256"], "png").unlink()
    store.path_for(broken["sha256"], "png").write_bytes(b"\x89PNG\r\n\x1a\n but not a picture")
    out, err = backfill()
    assert out.splitlines()[-1] == "made 1, already had one 0, deleted meanwhile 0, failed 2"
    assert f"{lost['id']}: its file is missing from the store ({lost['sha256']})" in err
    assert f"{broken['id']}: cannot decode the picture" in err
    assert err.endswith("CommandError: 2 placeholder(s) could not be made; each is named above.")
    assert Original.objects.get(pk=fine["id"]).dominant_color == "#0000ff", "one failure stops nothing else"
    assert Original.objects.get(pk=lost["id"]).blurhash is None


def test_backfill_refuses_an_empty_batch():
    with pytest.raises(CommandError, match="--batch-size must be at least 1"):
        call_command("backfill_placeholders", "--batch-size", "0", stdout=io.StringIO())


def test_the_readmes_example_has_every_field(client):
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = re.search(r"```json\n(.*?)```", readme[readme.index("An original's JSON:") :], re.DOTALL)
    assert block is not None
    assert list(json.loads(block[1])) == list(post(client, png((20, 20), (9, 9, 9))))
