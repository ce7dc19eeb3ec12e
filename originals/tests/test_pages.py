"""The upload page without a browser: the plain form, CSRF, the JSON Dropzone gets, the gallery, an original's page."""

import re

import pytest
from django.core.cache import cache
from django.test import Client, override_settings
from rest_framework.test import APIClient

from originals.models import Original
from originals.pages import PAGE_CSP, decimal_size

from .conftest import bearer, jpeg_bytes, upload
from .remote import body

pytestmark = pytest.mark.django_db

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
DROPZONE = {"Accept": "application/json", "X-Requested-With": "XMLHttpRequest"}


@pytest.fixture
def browser() -> Client:
    """A client that checks CSRF as a browser's requests are checked (Django's test client skips it by default)."""
    return Client(enforce_csrf_checks=True)


def csrf_token(client: Client) -> str:
    page = client.get("/").content.decode()
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert match, "the page carries no CSRF token"
    return match.group(1)


def form_post(
    client: Client,
    data: bytes,
    name: str = "photo.jpg",
    token: str | None = None,
    headers: dict[str, str] | None = None,
):
    fields: dict[str, object] = {"file": upload(data, name)}
    if token is not None:
        fields["csrfmiddlewaretoken"] = token
    return client.post("/upload/", fields, headers={"Accept": BROWSER_ACCEPT, **(headers or {})})


def test_the_page_shows_the_limits_from_the_settings_with_a_strict_csp(client):
    with override_settings(MAX_UPLOAD_BYTES=3_500_000):
        response = client.get("/")
    html = response.content.decode()
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == PAGE_CSP
    assert "unsafe-inline" not in PAGE_CSP and "script-src 'self'" in PAGE_CSP
    assert "up to 3.5 MB" in html and 'data-max-bytes="3500000"' in html
    assert 'accept="image/jpeg,image/png,image/webp,image/gif' in html and ".jpg" in html
    assert "<script>" not in html and " on" + "click=" not in html  # every script is a static file
    assert 'src="/static/vendor/dropzone/dropzone-min.js"' in html


def test_the_plain_form_uploads_then_redirects_home(browser):
    response = form_post(browser, jpeg_bytes((64, 48)), "beach.jpg", token=csrf_token(browser))
    assert response.status_code == 303
    assert response["Location"] == "/"
    original = Original.objects.get()
    assert original.filename == "beach.jpg"
    page = browser.get("/").content.decode()
    assert "Uploaded beach.jpg." in page
    assert f'data-id="{original.id}"' in page


def test_the_plain_form_shows_a_refusal_with_its_status(browser):
    response = form_post(browser, b"not an image at all", "notes.png", token=csrf_token(browser))
    assert response.status_code == 415
    assert response["Content-Type"].startswith("text/html")
    assert "This is not an accepted image format." in response.content.decode()
    assert 'role="alert"' in response.content.decode()
    assert not Original.objects.exists()


@override_settings(MAX_UPLOAD_BYTES=1000)
def test_the_plain_form_refuses_a_large_file_with_413(browser):
    response = form_post(browser, jpeg_bytes((200, 200)), token=csrf_token(browser))
    assert response.status_code == 413
    assert "the limit is 1,000 bytes" in response.content.decode()


@pytest.mark.parametrize("headers", [{}, DROPZONE], ids=["form", "dropzone"])
def test_a_post_without_the_csrf_token_is_refused(browser, headers):
    csrf_token(browser)  # the cookie is set; the token is not sent
    response = form_post(browser, jpeg_bytes(), headers=headers)
    assert response.status_code == 403
    assert not Original.objects.exists()
    if headers:
        assert response.json()["code"] == "csrf_failed"
        assert "reload the page" in response.json()["error"]
    else:
        assert "security token is missing or stale" in response.content.decode()


def test_a_post_with_a_forged_token_is_refused(browser):
    csrf_token(browser)
    response = form_post(browser, jpeg_bytes(), token="x" * 64, headers=DROPZONE)
    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed"


def test_a_logged_in_user_needs_the_token_too(browser, alice):
    browser.login(username="alice", password="alice-password-1")
    assert form_post(browser, jpeg_bytes(), headers=DROPZONE).status_code == 403
    response = form_post(browser, jpeg_bytes(), token=csrf_token(browser), headers=DROPZONE)
    assert response.status_code == 201
    assert Original.objects.get().owner == alice


def test_dropzone_gets_the_apis_json_and_statuses(browser, client):
    token = csrf_token(browser)
    data = jpeg_bytes((64, 48), color="green")
    created = form_post(browser, data, "leaf.jpg", token=token, headers=DROPZONE)
    assert created.status_code == 201
    body = created.json()
    assert created["Location"].endswith(f"/api/v1/originals/{body['id']}/")
    from_api = client.get(f"/api/v1/originals/{body['id']}/", HTTP_ACCEPT="application/json").json()
    assert body == from_api
    again = form_post(browser, data, "leaf.jpg", token=token, headers=DROPZONE)
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    refused = form_post(browser, b"plain words", "leaf.png", token=token, headers=DROPZONE)
    assert refused.status_code == 415
    assert refused.json() == {
        "error": "This is not an accepted image format. Accepted: JPEG, PNG, WEBP, GIF, AVIF, TIFF, BMP, ICO.",
        "code": "unsupported_format",
        "param": "file",
    }


def test_a_post_without_a_file_is_explained(browser):
    response = browser.post("/upload/", {"csrfmiddlewaretoken": csrf_token(browser)}, headers=DROPZONE)
    assert response.status_code == 400
    assert response.json() == {"error": "Choose a picture to upload.", "code": "missing_file", "param": "file"}


@override_settings(ANONYMOUS_UPLOADS=False)
def test_anonymous_page_uploads_follow_the_setting(client):
    page = client.get("/").content.decode()
    assert "Log in" in page and 'id="upload-zone"' not in page
    response = form_post(client, jpeg_bytes(), headers=DROPZONE)  # this client skips CSRF: the setting alone refuses
    assert response.status_code == 403
    assert response.json()["code"] == "not_authenticated"


@override_settings(ANON_UPLOAD_RATE="1/minute")
def test_page_uploads_share_the_apis_throttle(browser):
    cache.delete("throttle_anon_upload_127.0.0.1")
    token = csrf_token(browser)
    try:
        assert form_post(browser, jpeg_bytes(color="red"), token=token, headers=DROPZONE).status_code == 201
        response = form_post(browser, jpeg_bytes(color="blue"), token=token, headers=DROPZONE)
        assert response.status_code == 429
        assert response.json()["code"] == "throttled"
    finally:
        cache.delete("throttle_anon_upload_127.0.0.1")


def test_token_clients_of_the_api_need_no_csrf(client, alice):
    jwt = bearer(client, "alice", "alice-password-1")
    jwt.handler.enforce_csrf_checks = True
    response = jwt.post("/api/v1/originals/", {"file": upload(jpeg_bytes())}, format="multipart")
    assert response.status_code == 201, response.content


def test_get_on_the_upload_endpoint_is_405(client):
    response = client.get("/upload/")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
    assert response["Allow"] == "POST, OPTIONS"


def make_originals(count: int) -> list[Original]:
    api = APIClient()
    for index in range(count):
        data = jpeg_bytes((40 + index, 30), color=(index * 7 % 256, 90, 200))
        assert api.post("/api/v1/originals/", {"file": upload(data, f"p{index}.jpg")}).status_code == 201
    return list(Original.objects.order_by("-created", "-id"))


def test_the_gallery_is_newest_first_with_srcset_and_a_size(client):
    newest, older = make_originals(2)[:2]
    html = client.get("/").content.decode()
    assert html.index(f'data-id="{newest.id}"') < html.index(f'data-id="{older.id}"')
    thumb = re.search(rf'<img src="/image/{newest.id}/\?fit=cover&amp;h=240&amp;w=240"[^>]*>', html)
    assert thumb, html
    tag = thumb.group(0)
    assert f'srcset="/image/{newest.id}/?fit=cover&amp;h=240&amp;w=240 1x"' in tag  # too small for a 2x
    assert f'width="{newest.height}" height="{newest.height}"' in tag  # a square crop, never enlarged
    assert 'loading="lazy"' in tag and f'alt="{newest.filename}"' in tag
    assert f'href="/originals/{newest.id}/"' in html


def test_the_gallery_pages_through_older_originals(client):
    originals = make_originals(26)
    first = client.get("/").content.decode()
    assert first.count('class="tile"') == 24
    assert 'href="/?page=2"' in first and 'data-fragment="/gallery/?page=2"' in first
    fragment = client.get("/gallery/?page=2")
    assert fragment.status_code == 200
    body = fragment.content.decode()
    assert body.count('class="tile"') == 2
    assert f'data-id="{originals[-1].id}"' in body
    assert 'data-next-page=""' in body
    assert client.get("/gallery/?page=3").status_code == 404
    assert client.get("/gallery/?page=two").json()["param"] == "page"
    assert client.get("/?page=2").content.decode().count('class="tile"') == 2


def test_one_gallery_item_for_a_new_upload(client):
    (original,) = make_originals(1)
    response = client.get(f"/gallery/{original.id}/")
    assert response.status_code == 200
    assert response.content.decode().strip().startswith(f'<li class="tile" data-id="{original.id}">')
    assert client.get("/gallery/nope/").status_code == 404


def test_an_originals_page_shows_its_facts_and_a_variant_url(client):
    (original,) = make_originals(1)
    html = client.get(f"/originals/{original.id}/").content.decode()
    assert f"{original.width} \N{MULTIPLICATION SIGN} {original.height} px" in html
    assert "JPEG" in html and original.sha256 in html and "p0.jpg" in html
    assert f'id="preview" class="lighttable-img" src="/image/{original.id}/?w=640"' in html
    assert f'value="http://testserver/image/{original.id}/?w=640"' in html


def test_the_builder_works_without_javascript_and_canonicalises(client):
    (original,) = make_originals(1)
    response = client.get(f"/originals/{original.id}/?w=20&h=&fit=contain&rotate=90&fmt=JPG&q=82&flip=")
    html = response.content.decode()
    assert f'src="/image/{original.id}/?rotate=90&amp;w=20"' in html
    assert '<option value="90" selected>' in html
    refused = client.get(f"/originals/{original.id}/?w=99999").content.decode()
    assert "w must be an integer from 1 to 8192, got &#x27;99999&#x27;" in refused
    assert client.get("/originals/unknown/").status_code == 404


@pytest.mark.parametrize(
    ("size", "text"),
    [(0, "0 bytes"), (999, "999 bytes"), (1000, "1 kB"), (25_000_000, "25 MB"), (1_250_000_000, "1.2 GB")],
)
def test_decimal_size(size, text):
    assert decimal_size(size) == text


def test_the_builders_link_is_canonical_json(client):
    (original,) = make_originals(1)
    response = client.get(f"/originals/{original.id}/url/?w=20&fit=contain&fmt=JPG&q=82&rotate=0&h=")
    assert response.status_code == 200
    assert response.json() == {
        "url": f"/image/{original.id}/?w=20",
        "absolute_url": f"http://testserver/image/{original.id}/?w=20",
    }
    refused = client.get(f"/originals/{original.id}/url/?q=101")
    assert refused.status_code == 400
    assert refused.json()["param"] == "q"


@override_settings(URL_SIGNING="required")
def test_with_signing_required_the_pages_links_are_signed_and_served(client):
    (original,) = make_originals(1)
    html = client.get("/").content.decode()
    src = re.search(rf'src="(/image/{original.id}/\?[^"]+)"', html)
    assert src and "sig=" in src.group(1)
    assert client.get(src.group(1).replace("&amp;", "&")).status_code == 200


@override_settings(URL_SIGNING="required")
def test_only_the_uploader_or_staff_get_builder_links_signed(client, alice):
    client.force_login(alice)
    response = client.post("/upload/", {"file": upload(jpeg_bytes((64, 48)))}, headers=DROPZONE)
    assert response.status_code == 201
    original_id = response.json()["id"]
    signed = client.get(f"/originals/{original_id}/url/?w=30").json()["url"]
    assert "sig=" in signed and client.get(signed).status_code == 200

    client.logout()
    refused = client.get(f"/originals/{original_id}/url/?w=30")
    assert refused.status_code == 403 and refused.json()["code"] == "signature_required"
    page = client.get(f"/originals/{original_id}/?w=30").content.decode()
    assert "Without a signature this server serves no variant" in page
    assert 'id="preview" class="lighttable-img" alt=' in page  # no picture to show, and no signature given away


@override_settings(URL_SIGNING="presets")
def test_in_presets_mode_visitors_get_ladder_widths(client):
    (original,) = make_originals(1)
    assert client.get(f"/originals/{original.id}/url/?w=640&fmt=webp").status_code == 200
    refused = client.get(f"/originals/{original.id}/url/?w=641")
    assert refused.status_code == 403
    assert "only presets and the widths 32, 64, 160, 320" in refused.json()["error"]


@pytest.mark.parametrize(
    "query", ["w=300&w=400", "w=0300&W=1", "w=%2B300", "rotate=45", "fmt=tiff", "x=1", "preset=nope", "q=101"]
)
def test_the_builder_refuses_what_image_refuses_with_the_same_words(client, query):
    """Issue 12: ?w=300&w=400 was 200 with w=400 from the builder, 400 from /image/."""
    (original,) = make_originals(1)
    image = client.get(f"/image/{original.id}/?{query}")
    builder = client.get(f"/originals/{original.id}/url/?{query}")
    assert image.status_code == builder.status_code == 400
    assert builder.json() == image.json()


def test_the_page_imports_by_url_when_the_server_does(browser, settings, remotes):
    assert 'id="import-form"' not in browser.get("/").content.decode(), "no import form while import is off"
    settings.IMPORT_URL_HOSTS = ["127.0.0.1:*"]
    settings.IMPORT_URL_ALLOW_LOOPBACK = True
    data = jpeg_bytes((30, 20), color="plum")
    remote = remotes({"/plum.jpg": body(data)})
    page = browser.get("/").content.decode()
    assert 'id="import-form"' in page and 'name="url"' in page
    response = browser.post(
        "/upload/",
        {"csrfmiddlewaretoken": csrf_token(browser), "url": remote.url("/plum.jpg")},
        HTTP_ACCEPT=BROWSER_ACCEPT,
    )
    assert response.status_code == 303
    assert Original.objects.get(filename="plum.jpg").bytes == len(data)
    refused = browser.post(
        "/upload/",
        {"csrfmiddlewaretoken": csrf_token(browser), "url": "http://10.0.0.1/a.jpg"},
        HTTP_ACCEPT=BROWSER_ACCEPT,
    )
    assert refused.status_code == 403 and "IMPORT_URL_HOSTS" in refused.content.decode()
    dropzone = browser.post(
        "/upload/", {"csrfmiddlewaretoken": csrf_token(browser), "url": remote.url("/nope.jpg")}, headers=DROPZONE
    )
    assert dropzone.status_code == 502 and dropzone.json()["code"] == "url_status"
    assert dropzone.json()["param"] == "url"
