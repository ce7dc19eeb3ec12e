"""The privacy model for originals, as tables: who sees the list, the JSON, the untouched file and the pages."""

import io
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.test import Client
from PIL import ExifTags, Image
from rest_framework.test import APIClient

from originals.models import User

from .conftest import bearer, upload

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]

MODES = {
    "private": {"PUBLIC_GALLERY": False, "PUBLIC_ORIGINALS": False},  # production's default
    "public": {"PUBLIC_GALLERY": True, "PUBLIC_ORIGINALS": False},  # a public gallery, files kept back
    "open": {"PUBLIC_GALLERY": True, "PUBLIC_ORIGINALS": True},  # the quick start's default
}
EVERY = "alice bob anon"

# mode, viewer, the originals they see (list, JSON, pages), the originals whose untouched file they get.
# alice and bob each own one; "anon" was uploaded anonymously, so it is nobody's.
TABLE = [
    ("private", "anonymous", "", ""),
    ("private", "bob", "bob", "bob"),
    ("private", "alice", "alice", "alice"),
    ("private", "staff", EVERY, EVERY),
    ("public", "anonymous", EVERY, ""),
    ("public", "bob", EVERY, "bob"),
    ("public", "alice", EVERY, "alice"),
    ("public", "staff", EVERY, EVERY),
    ("open", "anonymous", EVERY, EVERY),
    ("open", "bob", EVERY, EVERY),
    ("open", "alice", EVERY, EVERY),
    ("open", "staff", EVERY, EVERY),
]
ROWS = [
    pytest.param(mode, viewer, set(sees.split()), set(gets.split()), id=f"{mode}-{viewer}")
    for mode, viewer, sees, gets in TABLE
]

LATITUDE = (52.0, 22.0, 7.5)


def gps_jpeg(color: str) -> bytes:
    """A JPEG whose EXIF carries a GPS block, as a phone's photo does."""
    exif = Image.Exif()
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = LATITUDE
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (4.0, 53.0, 2.25)
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(buffer, "JPEG", quality=90, exif=exif.tobytes())
    return buffer.getvalue()


def gps_of(data: bytes) -> dict:
    return dict(Image.open(io.BytesIO(data)).getexif().get_ifd(ExifTags.IFD.GPSInfo))


@dataclass
class World:
    ids: dict[str, str]  # "alice", "bob", "anon" -> original id
    data: dict[str, bytes]

    def name_of(self, original_id: str) -> str:
        return next(name for name, known in self.ids.items() if known == original_id)


@pytest.fixture(autouse=True)
def _quick_passwords(settings) -> None:
    """Six logins a test: a hasher made to be slow would make these tables take minutes."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def world(alice: User, staff: User) -> World:
    User.objects.create_user("bob", password="bob-password-1")
    data = {"alice": gps_jpeg("red"), "bob": gps_jpeg("green"), "anon": gps_jpeg("blue")}
    ids = {}
    for name, client in (("alice", api_client("alice")), ("bob", api_client("bob")), ("anon", APIClient())):
        response = client.post("/api/v1/originals/", {"file": upload(data[name], f"{name}.jpg")}, format="multipart")
        assert response.status_code == 201, response.content
        ids[name] = response.json()["id"]
    return World(ids, data)


PASSWORDS = {"alice": "alice-password-1", "bob": "bob-password-1", "staff": "root-password-1"}
USERNAMES = {"alice": "alice", "bob": "bob", "staff": "root"}


def api_client(viewer: str) -> APIClient:
    """The API as a program sees it: a JWT from the token endpoint, or nothing."""
    if viewer == "anonymous":
        return APIClient()
    return bearer(APIClient(), USERNAMES[viewer], PASSWORDS[viewer])


def page_client(viewer: str) -> Client:
    """The pages as a browser sees them: a session, or nothing."""
    client = Client()
    if viewer != "anonymous":
        client.force_login(User.objects.get(username=USERNAMES[viewer]))
    return client


@pytest.fixture
def mode(request: pytest.FixtureRequest, settings) -> str:
    for name, value in MODES[request.param].items():
        setattr(settings, name, value)
    return request.param


def listed(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {original["id"] for original in response.json()["results"]}


@pytest.mark.parametrize(("mode", "viewer", "sees", "gets"), ROWS, indirect=["mode"])
def test_the_api_list(world: World, mode: str, viewer: str, sees: set[str], gets: set[str]):
    client = api_client(viewer)
    response = client.get("/api/v1/originals/")
    assert {world.name_of(i) for i in listed(response)} == sees
    assert response.json()["count"] == len(sees)
    assert "private" in response["Cache-Control"]
    for owner in ("alice", "bob"):  # the owner filter narrows what the viewer may see, never widens it
        found = {world.name_of(i) for i in listed(client.get("/api/v1/originals/", {"owner": owner}))}
        assert found == sees & {owner}


@pytest.mark.parametrize(("mode", "viewer", "sees", "gets"), ROWS, indirect=["mode"])
def test_the_api_detail_and_file(world: World, mode: str, viewer: str, sees: set[str], gets: set[str]):
    client = api_client(viewer)
    for name, original_id in world.ids.items():
        detail = client.get(f"/api/v1/originals/{original_id}/")
        download = client.get(f"/api/v1/originals/{original_id}/file/")
        if name not in sees:  # 404 as for an id that does not exist: nothing is confirmed
            assert detail.status_code == download.status_code == 404, name
            assert detail.json() == {
                "error": f"No original has the id {original_id!r}.",
                "code": "not_found",
                "param": "id",
            }
            assert download.json() == detail.json()
            continue
        assert detail.status_code == 200, name
        body = detail.json()
        assert "private" in detail["Cache-Control"]
        if name in gets:
            assert body["original_url"] == f"http://testserver/api/v1/originals/{original_id}/file/"
            assert download.status_code == 200, name
            content = download.getvalue()
            assert content == world.data[name] and gps_of(content)[2] == LATITUDE  # byte for byte, GPS and all
            expected_cache = "public" if mode == "open" else "private"
            assert download["Cache-Control"].startswith(expected_cache)
        else:
            assert body["original_url"] is None, "no link to a file the viewer may not download"
            assert download.status_code == (401 if viewer == "anonymous" else 403), name
            assert download.json()["code"] == ("not_authenticated" if viewer == "anonymous" else "permission_denied")
            assert "variant" in download.json()["error"]


@pytest.mark.parametrize(("mode", "viewer", "sees", "gets"), ROWS, indirect=["mode"])
def test_the_gallery_and_the_originals_page(world: World, mode: str, viewer: str, sees: set[str], gets: set[str]):
    client = page_client(viewer)
    for path in ("/", "/gallery/"):
        response = client.get(path)
        assert response.status_code == 200
        assert "private" in response["Cache-Control"]
        html = response.content.decode()
        assert {name for name, i in world.ids.items() if f'data-id="{i}"' in html} == sees, path
    for name, original_id in world.ids.items():
        paths = (f"/gallery/{original_id}/", f"/originals/{original_id}/", f"/originals/{original_id}/url/?w=30")
        statuses = [client.get(path).status_code for path in paths]
        assert client.get(f"/image/{original_id}/?w=16").status_code == 200, "variants are public by id"
        assert statuses == ([200, 200, 200] if name in sees else [404, 404, 404]), name
        if name in sees:
            page = client.get(f"/originals/{original_id}/").content.decode()
            assert (f'href="/api/v1/originals/{original_id}/file/"' in page) == (name in gets), name


@pytest.mark.parametrize("mode", ["private", "public"], indirect=True)
@pytest.mark.parametrize(("viewer", "status"), [("anonymous", 401), ("bob", None), ("alice", 204), ("staff", 204)])
def test_delete(world: World, mode: str, viewer: str, status: int | None):
    """Owner or staff, as before; a stranger who may not see the original gets the 404 of an unknown id."""
    expected = status or (404 if mode == "private" else 403)
    response = api_client(viewer).delete(f"/api/v1/originals/{world.ids['alice']}/")
    assert response.status_code == expected, response.content


@pytest.mark.parametrize("mode", ["private"], indirect=True)
def test_an_anonymous_upload_answers_its_uploader_and_is_then_nobodys(world: World, mode: str):
    client = APIClient()
    data = gps_jpeg("yellow")
    response = client.post("/api/v1/originals/", {"file": upload(data, "mine.jpg")}, format="multipart")
    assert response.status_code == 201
    body = response.json()
    assert body["filename"] == "mine.jpg" and body["original_url"] is None
    assert client.get(body["variants"]["thumbnail"]).status_code == 200, "variants are public by id"
    assert client.get(f"/api/v1/originals/{body['id']}/").status_code == 404
    # The same bytes again: a record of its own, not the earlier upload's name and time.
    again = client.post("/api/v1/originals/", {"file": upload(data, "again.jpg")}, format="multipart")
    assert again.status_code == 201 and again.json()["id"] != body["id"]
    assert again.json()["filename"] == "again.jpg"


@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp", "avif", "gif"])
def test_a_variant_of_a_gps_tagged_photo_carries_no_metadata(world: World, fmt: str):
    original_id = world.ids["alice"]
    assert gps_of(world.data["alice"]), "the original does carry GPS"
    response = Client().get(f"/image/{original_id}/?w=32&fmt={fmt}")
    assert response.status_code == 200
    picture = Image.open(io.BytesIO(response.content))
    assert not dict(picture.getexif()) and "exif" not in picture.info and "xmp" not in picture.info
    assert b"Exif\0\0" not in response.content


def settings_in_a_fresh_process(**env: str) -> str:
    base = {"PATH": os.environ["PATH"], "SECRET_KEY": "a-test-secret-" + "x" * 40, "ALLOWED_HOSTS": "example.com"}
    code = "from server import settings; print(settings.PUBLIC_GALLERY, settings.PUBLIC_ORIGINALS)"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env={**base, **env}, capture_output=True, text=True, check=False
    )
    return done.stdout.strip() or done.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"DARKROOM_ENV": "production"}, "False False"),
        ({"DARKROOM_ENV": "local"}, "True True"),
        ({"DARKROOM_ENV": "local", "PUBLIC_GALLERY": "false"}, "False False"),
        ({"DARKROOM_ENV": "production", "PUBLIC_GALLERY": "true"}, "True False"),
        ({"DARKROOM_ENV": "production", "PUBLIC_GALLERY": "1", "PUBLIC_ORIGINALS": "yes"}, "True True"),
        ({"DARKROOM_ENV": "production", "PUBLIC_GALLERY": "maybe"}, "PUBLIC_GALLERY must be true or false"),
        ({"DARKROOM_ENV": "local", "PUBLIC_GALLERY": "off", "PUBLIC_ORIGINALS": "on"}, "needs PUBLIC_GALLERY"),
    ],
)
def test_the_settings_and_their_defaults(env: dict[str, str], expected: str):
    assert expected in settings_in_a_fresh_process(**env)


@pytest.mark.parametrize(
    ("mode", "viewer", "heading", "empty"),
    [
        ("private", "anonymous", "Your originals", "Pictures here are private: log in to see yours."),
        ("private", "staff", "Originals", "Nothing here yet"),
        ("open", "anonymous", "Originals", "Nothing here yet"),
    ],
    indirect=["mode"],
)
def test_the_gallery_says_whose_pictures_it_shows(db, mode: str, viewer: str, heading: str, empty: str):
    if viewer == "staff":
        User.objects.create_user("root", password="root-password-1", is_staff=True)
    html = page_client(viewer).get("/").content.decode()
    assert f'<h2 id="gallery-title">{heading}</h2>' in html and empty in html
