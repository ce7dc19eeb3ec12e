"""A method a URL does not take is a 405 naming the ones it does, as a browser would meet it: with CSRF checks on
(Django's test client skips them unless asked, which is how POST /image/ once got Django's HTML CSRF page), and
before authentication. Every CSRF refusal is the house's `csrf_failed`, in kind."""

import json

import pytest
from django.test import Client

from originals.models import Original, User
from originals.tests.conftest import jpeg_bytes, upload

pytestmark = pytest.mark.django_db

API = {"Accept": "application/json"}
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@pytest.fixture
def original_id() -> str:
    response = Client().post("/api/v1/originals/", {"file": upload(jpeg_bytes())})
    assert response.status_code == 201, response.content
    return str(response.json()["id"])


# (path, what it takes): read-only URLs of every kind (class views, function views, a DRF viewset)
READ_ONLY = [
    ("/image/{id}/?w=10", "GET, HEAD, OPTIONS"),
    ("/image/{id}/info/?w=10", "GET, HEAD, OPTIONS"),
    ("/thumbor/unsafe/10x10/{id}", "GET, HEAD, OPTIONS"),
    ("/", "GET, HEAD, OPTIONS"),
    ("/gallery/", "GET, HEAD, OPTIONS"),
    ("/gallery/{id}/", "GET, HEAD, OPTIONS"),
    ("/originals/{id}/", "GET, HEAD, OPTIONS"),
    ("/originals/{id}/url/?w=10", "GET, HEAD, OPTIONS"),
    ("/healthz", "GET, HEAD"),
    ("/readyz", "GET, HEAD"),
    ("/metrics", "GET, HEAD"),
]


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
@pytest.mark.parametrize(("path", "allow"), READ_ONLY)
def test_read_only_urls_answer_405_json_with_csrf_checks_on(original_id: str, path: str, allow: str, method: str):
    client = Client(enforce_csrf_checks=True)
    response = getattr(client, method)(path.format(id=original_id), headers=API)
    assert response.status_code == 405, (path, method, response.status_code, response.content[:200])
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "method_not_allowed"
    assert method.upper() in response.json()["error"]
    assert response["Allow"] == allow


def test_an_invented_method_is_405_too(original_id: str):
    response = Client(enforce_csrf_checks=True).generic("FOO", f"/image/{original_id}/?w=10", headers=API)
    assert response.status_code == 405 and response.json()["code"] == "method_not_allowed"


def test_a_browser_gets_the_error_page(original_id: str):
    response = Client(enforce_csrf_checks=True).post(f"/originals/{original_id}/", headers=BROWSER)
    assert response.status_code == 405 and response["Content-Type"].startswith("text/html")
    assert "POST is not allowed here" in response.content.decode() and response["Allow"] == "GET, HEAD, OPTIONS"


def test_the_api_says_405_before_asking_who_you_are(original_id: str):
    client = Client(enforce_csrf_checks=True)
    response = client.put(f"/api/v1/originals/{original_id}/", "{}", content_type="application/json")
    assert response.status_code == 405 and response.json()["code"] == "method_not_allowed"
    assert "PUT" not in response["Allow"] and "PATCH" in response["Allow"] and "DELETE" in response["Allow"]
    listing = client.delete("/api/v1/originals/")
    assert listing.status_code == 405 and listing["Allow"] == "GET, POST, HEAD, OPTIONS"
    assert client.head("/api/v1/originals/").status_code == 200


def test_csrf_refusals_are_csrf_failed(original_id: str):
    User.objects.create_user("alice", password="alice-password-1")
    browser = Client(enforce_csrf_checks=True)
    assert browser.login(username="alice", password="alice-password-1")
    mine = browser.get("/")  # any page: the session now has a CSRF cookie, which the PATCH below does not send
    assert mine.status_code == 200
    Original.objects.filter(pk=original_id).update(owner=User.objects.get(username="alice"))
    api = browser.patch(
        f"/api/v1/originals/{original_id}/", json.dumps({"focal_x": 0.5, "focal_y": 0.5}), "application/json"
    )
    assert api.status_code == 403, api.content
    assert api.json()["code"] == "csrf_failed" and "reload the page" in api.json()["error"]
    admin = Client(enforce_csrf_checks=True).post("/admin/login/", {"username": "a", "password": "b"}, headers=API)
    assert admin.status_code == 403 and admin.json()["code"] == "csrf_failed"
    page = Client(enforce_csrf_checks=True).post("/admin/login/", {"username": "a", "password": "b"}, headers=BROWSER)
    assert page.status_code == 403 and page["Content-Type"].startswith("text/html")
    assert "security token is missing" in page.content.decode()


def test_the_favicon_browsers_ask_for_is_the_sites_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"].endswith("favicon.svg")
    assert client.get(response["Location"]).status_code == 200
    assert client.post("/favicon.ico").status_code == 405


@pytest.mark.parametrize("path", ["/image/{id}/?w=10", "/image/{id}/info/?w=10", "/thumbor/unsafe/10x10/{id}"])
def test_options_of_an_image_url_names_its_methods_and_nothing_else(original_id: str, path: str):
    for each in (original_id, "AAAAAAAAAAAA"):  # an unknown id alike: the methods do not depend on it
        response = Client().options(path.format(id=each))
        assert response.status_code == 204 and response["Allow"] == "GET, HEAD, OPTIONS"
        assert response.content == b"" and "Content-Type" not in response


def test_a_url_without_its_slash_is_moved_keeping_the_method_and_the_body(original_id: str):
    """A GET or HEAD is moved with a 301, any other method with a 308 (which keeps the method and the body: the
    upload sent again to the Location is taken), each with a JSON body naming the URL. Django's own answer was an
    empty 301, which `curl -L` follows with a GET: an upload became a listing."""
    client = Client(enforce_csrf_checks=True)
    picture = jpeg_bytes(color="teal")  # not the fixture's: a new original, 201
    moved = client.post("/api/v1/originals", {"file": upload(picture)}, headers=API)
    assert (moved.status_code, moved["Location"]) == (308, "/api/v1/originals/")
    assert moved.json() == {"error": "This URL ends with a slash: /api/v1/originals/", "code": "add_slash"}
    assert client.post(moved["Location"], {"file": upload(picture)}, headers=API).status_code == 201
    for method in ("get", "head"):
        moved = getattr(client, method)(f"/image/{original_id}?w=10", headers=API)
        assert (moved.status_code, moved["Location"]) == (301, f"/image/{original_id}/?w=10"), method
    assert client.get(f"/image/{original_id}?w=10").json()["code"] == "add_slash"
    assert client.delete(f"/api/v1/originals/{original_id}", headers=API).status_code == 308
    assert client.get("/nowhere", headers=API).status_code == 404  # no URL with a slash either: not moved
