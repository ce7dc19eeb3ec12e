"""Management commands: prune_variants, warm_variants, darkroom_check."""

import io
import os
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.test import override_settings

from transforms import cache

from . import images

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def variant_files(original_id: str) -> list[Path]:
    return sorted(p for p in (Path(settings.VARIANTS_DIR) / original_id).glob("*") if not p.name.startswith("."))


def test_warm_then_prune_least_recently_used(client, upload_original):
    original = upload_original(images.encode(images.marker((200, 150)), "PNG"))
    output = run("warm_variants", "w=10", "w=20", "w=30&fmt=webp", "--original", original["id"])
    assert "rendered 3, already cached 0, failed 0" in output
    assert "rendered 0, already cached 3" in run(
        "warm_variants", "w=10", "w=20", "w=30&fmt=webp", "--original", original["id"]
    )
    files = variant_files(original["id"])
    assert len(files) == 3
    now = time.time()
    for age, path in zip((300, 200, 100), files, strict=True):
        os.utime(path, (now - age, now - age))
    cache._touched.clear()  # as if the minute had passed since warm_variants' hits looked at the files
    newest = files[2]
    client.get(f"/image/{original['id']}/?w=10")  # a hit refreshes its variant's clock
    hit = next(p for p in variant_files(original["id"]) if p.stat().st_mtime > now - 50)

    all_bytes = sum(p.stat().st_size for p in Path(settings.VARIANTS_DIR).glob("*/*") if not p.name.startswith("."))
    keep = hit.stat().st_size + newest.stat().st_size if hit != newest else hit.stat().st_size
    cap = all_bytes - sum(p.stat().st_size for p in files) + keep
    assert "would remove" in run("prune_variants", "--max-bytes", str(cap), "--dry-run")
    assert len(variant_files(original["id"])) == 3
    run("prune_variants", "--max-bytes", str(cap))
    left = variant_files(original["id"])
    assert hit in left and newest in left, "the least recently used went first"
    assert len(left) == (2 if hit != newest else 1)


def test_warm_counts_a_crop_that_does_not_fit_an_original_as_failed(upload_original):
    small = upload_original(images.encode(images.marker((64, 48)), "PNG"), "small.png")["id"]
    large = upload_original(images.encode(images.marker((640, 480)), "PNG"), "large.png")["id"]
    err = io.StringIO()
    out = io.StringIO()
    with pytest.raises(CommandError, match=r"1 variant\(s\) could not be warmed"):  # exit status 1
        call_command(
            "warm_variants", "crop=100,100,50,50", "--original", small, "--original", large, stdout=out, stderr=err
        )
    assert "rendered 1, already cached 0, failed 1" in out.getvalue()
    assert f"{small}?crop=100,100,50,50: crop=100,100,50,50 reaches outside the 64x48 picture" in err.getvalue()


def test_warm_refuses_a_bad_query():
    with pytest.raises(CommandError, match="rotate"):
        run("warm_variants", "rotate=45")


def test_darkroom_check_passes_and_fails_honestly():
    assert "ready" in run("darkroom_check")
    down = "redis://127.0.0.1:1/0"
    with (
        override_settings(CACHES={"default": {**settings.CACHES["default"], "LOCATION": down}}, REDIS_URL=down),
        pytest.raises(CommandError, match="redis"),
    ):
        run("darkroom_check")


@pytest.mark.parametrize(
    ("overrides", "line"),
    [
        ({"LOCAL": False, "URL_SIGNING": "presets", "URL_SIGNING_KEYS": []}, "presets, signed with a key derived from"),
        ({"LOCAL": False, "URL_SIGNING": "required", "URL_SIGNING_KEYS": ["a", "b"]}, "required, signed with 2 key(s)"),
        ({"LOCAL": False, "URL_SIGNING": "off"}, "off (warning: URL_SIGNING=off in production"),
        ({"LOCAL": True, "URL_SIGNING": "off"}, "off\n"),
    ],
)
def test_darkroom_check_says_how_urls_are_signed(overrides, line):
    with override_settings(**overrides):
        output = run("darkroom_check")
    assert f"URL_SIGNING: {line}" in output
