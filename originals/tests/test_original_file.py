"""The original's file (/api/v1/originals/<id>/file/) as HTTP serves files: 304, byte ranges, the uploaded name,
and no Vary on a public immutable file."""

import pytest
from django.test import Client

from originals.downloads import download_name, requested_range
from originals.models import Original, User

from .conftest import jpeg_bytes, upload

pytestmark = pytest.mark.django_db

DATA = jpeg_bytes((96, 64))
N = len(DATA)


@pytest.fixture
def original(settings) -> Original:
    settings.PUBLIC_GALLERY, settings.PUBLIC_ORIGINALS = True, True
    response = Client().post("/api/v1/originals/", {"file": upload(DATA, "beach.jpg")})
    assert response.status_code == 201
    return Original.objects.get(pk=response.json()["id"])


def get(original: Original, client: Client | None = None, **headers: str):
    return (client or Client()).get(f"/api/v1/originals/{original.id}/file/", headers=headers)


def test_the_whole_file(original):
    response = get(original)
    assert response.status_code == 200
    assert response.getvalue() == DATA
    assert response["Content-Length"] == str(N) and response["Accept-Ranges"] == "bytes"
    assert response["ETag"] == f'"{original.sha256}"' and response["Last-Modified"]
    assert response["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response["Content-Disposition"] == 'inline; filename="beach.jpg"'
    assert response["Content-Type"] == "image/jpeg"


@pytest.mark.parametrize("logged_in", [False, True])
def test_a_public_file_does_not_vary(original, logged_in):
    client = Client()
    if logged_in:  # a session cookie is sent, and must not make the file vary by it
        client.force_login(User.objects.create_user("viewer", password="a-long-password-1"))
    response = get(original, client, Accept="image/jpeg")
    assert response.status_code == 200
    assert not response.has_header("Vary"), response["Vary"]


@pytest.mark.parametrize(
    ("if_none_match", "status"),
    [
        ("{etag}", 304),
        ("W/{etag}", 304),
        ('"other", {etag}', 304),
        ("*", 304),
        ('"other"', 200),
    ],
)
def test_if_none_match(original, if_none_match, status):
    etag = f'"{original.sha256}"'
    response = get(original, **{"If-None-Match": if_none_match.format(etag=etag)})
    assert response.status_code == status
    if status == 304:
        assert response.content == b""
        assert response["ETag"] == etag and response["Cache-Control"].startswith("public")


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({"If-Match": '"other"'}, 412, "precondition_failed"),
        ({"If-Unmodified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}, 412, "precondition_failed"),
        ({"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"}, 304, None),
        ({"If-Match": "*"}, 200, None),
    ],
)
def test_other_preconditions(original, headers, status, code):
    response = get(original, **headers)
    assert response.status_code == status
    if code:
        assert response.json()["code"] == code


# (Range, status, the bytes sent as (first, last), or None for the whole file)
RANGES = [
    ("bytes=0-9", 206, (0, 9)),
    ("bytes=10-", 206, (10, N - 1)),
    ("bytes=-5", 206, (N - 5, N - 1)),
    (f"bytes=-{N * 10}", 206, (0, N - 1)),  # a suffix longer than the file is the file
    ("bytes=5-99999999", 206, (5, N - 1)),  # a last byte past the end is the end
    ("BYTES=0-0", 206, (0, 0)),  # the unit is case-insensitive
    (f"bytes={N - 1}-{N - 1}", 206, (N - 1, N - 1)),
    (f"bytes={N}-", 416, None),
    ("bytes=" + "9" * 5000 + "-", 416, None),  # far past the end, without int() of 5000 digits
    ("bytes=-0", 416, None),
    ("bytes=0-1,4-5", 200, None),  # several ranges: answered whole, as RFC 9110 allows
    ("bytes=5-1", 200, None),  # invalid: ignored
    (f"bytes={N + 10}-{N + 5}", 200, None),  # invalid before it is unsatisfiable
    (f"bytes={N + 5}-{N + 10}", 416, None),
    ("items=0-5", 200, None),
    ("bytes=abc", 200, None),
    ("bytes=", 200, None),
    ("bytes=-", 200, None),
    ("bytes= 0-5", 200, None),
    ("bytes=\u0661-\u0665", 200, None),  # Arabic-Indic digits are not digits here
]


@pytest.mark.parametrize(("header", "status", "sent"), RANGES)
def test_range(original, header, status, sent):
    response = get(original, Range=header)
    assert response.status_code == status, response.content[:200]
    if status == 206:
        first, last = sent
        assert response.getvalue() == DATA[first : last + 1]
        assert response["Content-Range"] == f"bytes {first}-{last}/{N}"
        assert response["Content-Length"] == str(last - first + 1)
        assert response["Accept-Ranges"] == "bytes" and response["ETag"] == f'"{original.sha256}"'
    elif status == 416:
        assert response["Content-Range"] == f"bytes */{N}"
        assert response.json()["code"] == "range_not_satisfiable"
    else:
        assert response.getvalue() == DATA


@pytest.mark.parametrize(
    ("if_range", "status"),
    [("{etag}", 206), ("{modified}", 206), ('"another"', 200), ("Mon, 01 Jan 2001 00:00:00 GMT", 200)],
)
def test_if_range(original, if_range, status):
    modified = get(original)["Last-Modified"]
    value = if_range.format(etag=f'"{original.sha256}"', modified=modified)
    response = get(original, Range="bytes=0-3", **{"If-Range": value})
    assert response.status_code == status
    assert response.getvalue() == (DATA[:4] if status == 206 else DATA)


def test_head_ignores_range(original):
    response = Client().head(f"/api/v1/originals/{original.id}/file/", headers={"Range": "bytes=0-3"})
    assert response.status_code == 200 and response["Content-Length"] == str(N)


@pytest.mark.parametrize(
    ("uploaded", "disposition"),
    [
        ("beach.jpg", 'inline; filename="beach.jpg"'),
        ("Beach Day.JPEG", 'inline; filename="Beach Day.JPEG"'),
        ('say "hi".jpg', 'inline; filename="say \\"hi\\".jpg"'),
        ("back\\slash.jpg", 'inline; filename="slash.jpg"'),  # the upload kept the last path segment
        ("été à la plage.jpg", "inline; filename*=utf-8''%C3%A9t%C3%A9%20%C3%A0%20la%20plage.jpg"),
        ("../../etc/passwd", 'inline; filename="passwd.jpg"'),
        ("notes.html", 'inline; filename="notes.html.jpg"'),  # never saved as another type
        ("photo.png", 'inline; filename="photo.png.jpg"'),
    ],
)
def test_content_disposition_is_the_uploaded_name(settings, uploaded, disposition):
    settings.PUBLIC_GALLERY, settings.PUBLIC_ORIGINALS = True, True
    created = Client().post("/api/v1/originals/", {"file": upload(jpeg_bytes(color="green"), uploaded)})
    assert created.status_code in (200, 201), created.content
    original = Original.objects.get(pk=created.json()["id"])
    assert get(original)["Content-Disposition"] == disposition


def test_a_record_without_a_name_downloads_as_its_id(original):
    original.filename = ""
    assert download_name(original) == f"{original.id}.jpg"


def test_a_private_file(original, settings):
    settings.PUBLIC_ORIGINALS = False
    owner = User.objects.create_user("owner", password="a-long-password-1")
    Original.objects.filter(pk=original.pk).update(owner=owner)
    assert get(original).status_code == 401
    client = Client()
    client.force_login(owner)
    whole = get(original, client)
    assert whole.status_code == 200 and whole["Cache-Control"] == "private, no-cache"
    again = get(original, client, **{"If-None-Match": whole["ETag"]})
    assert again.status_code == 304 and again["Cache-Control"] == "private, no-cache"
    part = get(original, client, Range="bytes=2-5")
    assert part.status_code == 206 and part.getvalue() == DATA[2:6]


@pytest.mark.parametrize(("header", "size", "expected"), [("bytes=0-0", 1, (0, 0)), ("bytes=-1", 1, (0, 0))])
def test_requested_range_edges(header, size, expected):
    assert requested_range(header, size) == expected
