"""One image per upload: a second file is refused (400 naming `file`), by the API and the page alike, and nothing
is stored; a file under another field name is refused naming the field it came in."""

import pytest
from django.test import Client

from originals.models import Original

from .conftest import image_bytes, jpeg_bytes, upload
from .test_pages import BROWSER_ACCEPT, DROPZONE, csrf_token

pytestmark = pytest.mark.django_db


def two_files() -> list:
    return [upload(jpeg_bytes(), "a.jpg"), upload(image_bytes("GIF"), "b.gif", "image/gif")]


# (the multipart fields, status, code, what the message says)
CASES = [
    ({"file": two_files()}, 400, "too_many_files", "one image per request"),
    ({"file": upload(jpeg_bytes(), "a.jpg"), "other": upload(image_bytes("GIF"), "b.gif")}, 400, "too_many_files", ""),
    ({"other": upload(jpeg_bytes(), "a.jpg"), "file": upload(image_bytes("GIF"), "b.gif")}, 400, "too_many_files", ""),
    ({"image": upload(jpeg_bytes(), "a.jpg")}, 400, "missing_file", "not 'image'"),
]


@pytest.mark.parametrize(("fields", "status", "code", "says"), CASES)
def test_the_api_refuses(fields, status, code, says):
    response = Client().post("/api/v1/originals/", fields)
    assert response.status_code == status, response.content
    body = response.json()
    assert (body["code"], body["param"]) == (code, "file")
    assert says in body["error"]
    assert not Original.objects.exists()


@pytest.mark.parametrize(("fields", "status", "code", "says"), CASES)
def test_the_page_refuses_for_dropzone(fields, status, code, says):
    browser = Client(enforce_csrf_checks=True)
    response = browser.post("/upload/", {**fields, "csrfmiddlewaretoken": csrf_token(browser)}, headers=DROPZONE)
    assert response.status_code == status, response.content
    assert (response.json()["code"], response.json()["param"]) == (code, "file")
    assert not Original.objects.exists()


def test_the_plain_form_shows_the_refusal():
    browser = Client(enforce_csrf_checks=True)
    fields = {"file": two_files(), "csrfmiddlewaretoken": csrf_token(browser)}
    response = browser.post("/upload/", fields, headers={"Accept": BROWSER_ACCEPT})
    assert response.status_code == 400
    assert "Send one image per request" in response.content.decode()
    assert not Original.objects.exists()
