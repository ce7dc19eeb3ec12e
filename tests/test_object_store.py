"""Originals in an S3-compatible bucket (moto's server, or DARKROOM_TEST_S3_ENDPOINT): content addresses, idempotent
puts, deletes that keep shared bytes, streamed uploads, variants rendered from the bucket, and the store away."""

import hashlib
import io
import tempfile
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from PIL import Image
from rest_framework.test import APIClient

from originals import store
from originals.models import Original
from server.settings import _originals_storage
from tests.objectstore import ObjectStore, Relay, start_object_store


def jpeg(color: str = "red", size: tuple[int, int] = (64, 48)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def s3() -> Iterator[ObjectStore]:
    server = start_object_store()
    yield server
    server.stop()


def use_bucket(monkeypatch: pytest.MonkeyPatch, settings, s3: ObjectStore, endpoint: str | None = None) -> str:
    """Point the originals' storage at a fresh bucket, through the settings' own STORAGE_URL parsing."""
    bucket = s3.new_bucket()
    for name, value in s3.host_env(bucket, endpoint).items():
        monkeypatch.setenv(name, value)
    settings.STORAGES = {**django_settings.STORAGES, "originals": _originals_storage()}
    return bucket


@pytest.fixture
def bucket(monkeypatch: pytest.MonkeyPatch, settings, s3: ObjectStore, db: None) -> str:
    return use_bucket(monkeypatch, settings, s3)


def post(data: bytes, name: str = "photo.jpg") -> tuple[int, dict]:
    response = APIClient().post("/api/v1/originals/", {"file": SimpleUploadedFile(name, data)}, format="multipart")
    return response.status_code, response.json()


def local_originals() -> list[Path]:
    return [p for p in Path(django_settings.ORIGINALS_DIR).rglob("*") if p.is_file() and not p.name.startswith(".")]


def test_an_upload_is_one_object_named_by_its_hash_and_served_back(s3: ObjectStore, bucket: str) -> None:
    data = jpeg()
    sha = hashlib.sha256(data).hexdigest()
    before = local_originals()
    status, body = post(data, "../../etc/passwd.jpg")
    assert status == 201
    assert s3.objects(bucket) == [f"{sha[:2]}/{sha}.jpg"]  # the bytes' address, never the client's name
    assert local_originals() == before, "a bucket-backed store wrote the original to the local disk"
    assert s3.client().get_object(Bucket=bucket, Key=f"{sha[:2]}/{sha}.jpg")["Body"].read() == data

    client = APIClient()
    whole: Any = client.get(f"/api/v1/originals/{body['id']}/file/")
    assert whole.status_code == 200 and b"".join(whole.streaming_content) == data
    part: Any = client.get(f"/api/v1/originals/{body['id']}/file/", HTTP_RANGE="bytes=10-19")
    assert part.status_code == 206 and b"".join(part.streaming_content) == data[10:20]
    assert part["Content-Range"] == f"bytes 10-19/{len(data)}"


def test_the_same_bytes_twice_are_one_object_and_a_delete_keeps_them_while_used(
    s3: ObjectStore, bucket: str, django_user_model
) -> None:
    data = jpeg("blue")
    sha = hashlib.sha256(data).hexdigest()
    status, first = post(data)
    assert status == 201
    alice = django_user_model.objects.create_user("alice-s3", password="x-password-1")
    authed = APIClient()
    authed.force_authenticate(alice)
    second = authed.post("/api/v1/originals/", {"file": SimpleUploadedFile("b.jpg", data)}, format="multipart")
    assert second.status_code == 201 and second.json()["id"] != first["id"]
    assert s3.objects(bucket) == [f"{sha[:2]}/{sha}.jpg"]

    authed.delete(f"/api/v1/originals/{second.json()['id']}/")
    assert s3.objects(bucket) == [f"{sha[:2]}/{sha}.jpg"], "deleted while another record still uses the bytes"
    from originals.services import original_delete

    original_delete(original=Original.objects.get(id=first["id"]))
    assert s3.objects(bucket) == []


def test_a_variant_is_rendered_from_the_bucket(s3: ObjectStore, bucket: str) -> None:
    status, body = post(jpeg("green", (300, 200)))
    assert status == 201
    response = APIClient().get(f"/image/{body['id']}/?w=150&fmt=png")
    assert response.status_code == 200, response.content
    assert Image.open(io.BytesIO(response.content)).size == (150, 100)


def test_an_upload_streams_to_the_bucket_in_memory_bounded_by_the_part_size(s3: ObjectStore, bucket: str) -> None:
    """boto3's managed transfer sends parts of AWS_S3_TRANSFER_CHUNK_BYTES (5 MiB), one at a time: what put holds
    (tracemalloc's peak of Python's allocations) is a few parts, whatever the file's size. 60 MB, over twice the
    25 MB upload limit, so that holding the file would show."""
    size = 60_000_000
    with tempfile.TemporaryFile() as file:
        block = hashlib.sha256(b"darkroom").digest() * (1 << 15)  # 1 MiB that does not compress
        digest = hashlib.sha256()
        while file.tell() < size:
            chunk = block[: size - file.tell()]
            file.write(chunk)
            digest.update(chunk)
        sha = digest.hexdigest()
        store.exists(sha, "jpg")  # the client made, its service model loaded (botocore's, not the upload's)
        tracemalloc.start()
        try:
            store.put(file, sha, "jpg")
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    head = s3.client().head_object(Bucket=bucket, Key=f"{sha[:2]}/{sha}.jpg")
    assert head["ContentLength"] == size
    print(f"put of {size / 1e6:.0f} MB peaked at {peak / 2**20:.1f} MiB")
    assert peak < 30 * 2**20, f"put held {peak / 2**20:.1f} MiB of a {size / 1e6:.0f} MB file"
    store.delete(sha, "jpg")


def test_the_store_away_is_a_503_with_retry_after_and_nothing_recorded(
    monkeypatch: pytest.MonkeyPatch, settings, s3: ObjectStore, db: None
) -> None:
    relay = Relay(s3.endpoint)
    relay.start()
    bucket = use_bucket(monkeypatch, settings, s3, relay.endpoint)
    status, kept = post(jpeg("white", (120, 80)))
    assert status == 201
    relay.stop()
    try:
        records = Original.objects.count()
        response = APIClient().post(
            "/api/v1/originals/", {"file": SimpleUploadedFile("x.jpg", jpeg("black"))}, format="multipart"
        )
        assert response.status_code == 503, response.content
        assert response["Retry-After"] == str(django_settings.STORAGE_RETRY_AFTER)
        assert response.json()["code"] == "storage_unavailable"
        assert Original.objects.count() == records, "a record was made without its object"
        uncached = APIClient().get(f"/image/{kept['id']}/?w=60")
        assert uncached.status_code == 503 and uncached.json()["code"] == "storage_unavailable"
        assert uncached["Retry-After"]
    finally:
        relay.start()
    status, _ = post(jpeg("black"))
    assert status == 201
    assert len(s3.objects(bucket)) == 2
    assert APIClient().get(f"/image/{kept['id']}/?w=60").status_code == 200


def test_backfill_placeholders_reads_the_bucket_and_names_what_it_cannot(
    monkeypatch: pytest.MonkeyPatch, settings, s3: ObjectStore, db: None
) -> None:
    relay = Relay(s3.endpoint)
    relay.start()
    use_bucket(monkeypatch, settings, s3, relay.endpoint)
    made = {post(jpeg(colour, (120, 80)))[1]["id"]: colour for colour in ("red", "blue")}
    at_upload = dict(Original.objects.values_list("id", "dominant_color"))
    Original.objects.update(blurhash=None, dominant_color=None)
    assert not any(store.path_for(sha, "jpg").exists() for sha in Original.objects.values_list("sha256", flat=True))
    relay.stop()
    try:
        err = io.StringIO()
        with pytest.raises(CommandError, match=r"2 placeholder\(s\) could not be made"):
            call_command("backfill_placeholders", stdout=io.StringIO(), stderr=err)
        assert all(f"{original_id}: The file store is unavailable" in err.getvalue() for original_id in made)
    finally:
        relay.start()
    out = io.StringIO()
    call_command("backfill_placeholders", stdout=out)
    assert out.getvalue().splitlines()[-1] == "made 2, already had one 0, deleted meanwhile 0, failed 0"
    assert dict(Original.objects.values_list("id", "dominant_color")) == at_upload
