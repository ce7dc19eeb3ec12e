"""An anonymous uploader may have their own upload's variants signed, from their session, for a while (issue 12)."""

import time

import pytest
from django.test import Client, override_settings

from .conftest import jpeg_bytes, upload

pytestmark = pytest.mark.django_db

DROPZONE = {"Accept": "application/json", "X-Requested-With": "XMLHttpRequest"}


def page_upload(client: Client) -> str:
    client.get("/")  # the page sets the CSRF cookie its upload sends back
    token = client.cookies["csrftoken"].value
    response = client.post(
        "/upload/", {"file": upload(jpeg_bytes((64, 48), color="teal"))}, headers={**DROPZONE, "X-CSRFToken": token}
    )
    assert response.status_code in (200, 201), response.content
    return str(response.json()["id"])


@pytest.mark.parametrize("gallery", [True, False])
def test_the_uploading_session_may_have_its_upload_signed_and_no_one_else(gallery: bool):
    with override_settings(URL_SIGNING="required", PUBLIC_GALLERY=gallery, PUBLIC_ORIGINALS=False):
        uploader, stranger = Client(), Client()
        original_id = page_upload(uploader)
        link = uploader.get(f"/originals/{original_id}/url/?w=30")
        assert link.status_code == 200 and "sig=" in link.json()["url"]
        assert uploader.get(link.json()["url"]).status_code == 200
        assert uploader.get(f"/originals/{original_id}/").status_code == 200, "their own page, even when private"
        refused = stranger.get(f"/originals/{original_id}/url/?w=30")
        assert refused.status_code == (403 if gallery else 404)


def test_the_grant_ends(monkeypatch):
    with override_settings(URL_SIGNING="required", ANONYMOUS_UPLOAD_SECONDS=60):
        uploader = Client()
        original_id = page_upload(uploader)
        assert uploader.get(f"/originals/{original_id}/url/?w=30").status_code == 200
        later = time.time() + 61
        monkeypatch.setattr(time, "time", lambda: later)
        assert uploader.get(f"/originals/{original_id}/url/?w=31").status_code == 403
