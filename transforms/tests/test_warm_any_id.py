"""warm_variants takes any original's id, including the older ones that start with '-', and the named presets."""

import io
import re

import pytest
from django.core.management import CommandError, call_command

from originals.models import Original

from . import images

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def warmed(output: str) -> int:
    """How many variants a run warmed (rendered now, or found already cached: the tests share Redis), none failed."""
    match = re.fullmatch(r"rendered (\d+), already cached (\d+), failed 0\n", output)
    assert match is not None, output
    return int(match[1]) + int(match[2])


def original_with_id(upload_original, original_id: str) -> str:
    """A record with this id over a real stored file, as an id made before ids had to start with a letter."""
    uploaded = Original.objects.get(pk=upload_original(images.encode(images.marker((120, 90)), "PNG"))["id"])
    uploaded.pk = original_id
    uploaded.save(force_insert=True)
    return original_id


@pytest.mark.parametrize(
    "original_id",
    [
        "-PjQMcBcSdwz",  # reads as an unknown option
        "-vPjQMcBcSdw",  # reads as -v (verbosity) with the value PjQMcBcSdw
        "--PjQMcBcSdw",  # reads as a long option
        "-hPjQMcBcSdw",  # reads as -h (help)
        "_PjQMcBcSdwz",
    ],
)
@pytest.mark.parametrize("spelling", ["separate", "equals"])
def test_warm_takes_any_id(upload_original, original_id, spelling):
    original_with_id(upload_original, original_id)
    given = ["--original", original_id] if spelling == "separate" else [f"--original={original_id}"]
    assert warmed(run("warm_variants", "w=16", *given)) == 1


def test_warm_refuses_an_unknown_id(upload_original):
    with pytest.raises(CommandError, match="No original has the id 'nope'"):
        run("warm_variants", "w=16", "--original", "nope")


@pytest.mark.parametrize("query", ["preset=thumbnail", "preset=small&fmt=webp", "preset=large"])
def test_warm_takes_the_configured_presets(client, upload_original, query):
    original_id = upload_original(images.encode(images.marker((300, 200)), "PNG"))["id"]
    assert "rendered 1, already cached 0, failed 0" in run("warm_variants", query, "--original", original_id)
    response = client.get(f"/image/{original_id}/?{query}")
    assert response.status_code == 200
    assert response["X-Cache"] != "miss", "the variant warmed is the one /image/ serves"


def test_warm_names_an_unknown_preset():
    with pytest.raises(CommandError, match="preset must be one of: large, medium, small, thumbnail"):
        run("warm_variants", "preset=huge")
