"""Client filenames are sanitised for display and never become paths."""

import hashlib
from pathlib import Path

import pytest
from django.conf import settings

from originals.filenames import display_filename

from .conftest import jpeg_bytes

NAMES = [
    ("photo.jpg", "photo.jpg"),
    ("../../etc/passwd.png", "passwd.png"),
    ("..\\..\\windows\\win.ini.jpg", "win.ini.jpg"),
    ("/absolute/path/x.jpg", "x.jpg"),
    ("a\x00b.jpg", "ab.jpg"),
    ("evil\u202egpj.exe", "evilgpj.exe"),
    ("zero\u200bwidth.jpg", "zerowidth.jpg"),
    ("line\nbreak.jpg", "linebreak.jpg"),
    ("  spaced   out  .jpg ", "spaced out .jpg"),
    ("...", ""),
    ("", ""),
    (None, ""),
    ("e\u0301te\u0301.jpg", "\u00e9t\u00e9.jpg"),
    ("a" * 1000 + ".jpeg", "a" * 250 + ".jpeg"),
    ("b" * 1000, "b" * 255),
]


@pytest.mark.parametrize(("raw", "expected"), NAMES)
def test_display_filename(raw, expected):
    assert display_filename(raw) == expected


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("../../etc/passwd.png", 201),
        ("a" * 200 + ".jpg", 201),
        ("evil\u202egpj.jpg", 201),
        ("x\\..\\y.jpg", 201),
        ("..", 400),  # Django's parser drops a part whose filename is only dots: a clear "missing_file"
        ("a" * 1000 + ".jpg", 400),  # over the multipart header limit: a clear "malformed_request"
    ],
)
def test_hostile_names_are_display_only(client, name, status):
    data = jpeg_bytes(color=(len(name) % 255, 10, 20))
    # Built by hand: the test client itself refuses to send some of these names.
    body = (
        b'--B\r\nContent-Disposition: form-data; name="file"; filename="' + name.encode() + b'"\r\n'
        b"Content-Type: image/jpeg\r\n\r\n" + data + b"\r\n--B--\r\n"
    )
    response = client.generic("POST", "/api/v1/originals/", body, content_type="multipart/form-data; boundary=B")
    assert response.status_code == status, response.content
    body = response.json()
    if status != 201:
        assert body["code"] in ("missing_file", "malformed_request")
        return
    assert "/" not in body["filename"] and "\\" not in body["filename"] and len(body["filename"]) <= 255
    sha = hashlib.sha256(data).hexdigest()
    assert (Path(settings.ORIGINALS_DIR) / sha[:2] / f"{sha}.jpg").is_file()
