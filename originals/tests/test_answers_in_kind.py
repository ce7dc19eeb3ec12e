"""Pages answer like pages: a browser gets the site's HTML error page, a program the house's JSON, by Accept;
/api/v1/ lists the endpoints."""

import pytest
from django.test import Client

from originals.pages import PAGE_CSP

from .conftest import jpeg_bytes, upload
from .test_pages import BROWSER_ACCEPT

pytestmark = pytest.mark.django_db

JSON_ACCEPTS = ["application/json", "*/*", None, "application/json, text/html;q=0.9"]


@pytest.fixture
def original_id() -> str:
    return Client().post("/api/v1/originals/", {"file": upload(jpeg_bytes())}).json()["id"]


# (a path a browser may open, its status, words of its message)
REFUSED = [
    ("/originals/unknownid12/", 404, "No original has the id"),
    ("/?page=99", 404, "There is no page 99."),
    ("/?page=abc", 400, "page must be a whole number"),
    ("/gallery/?page=99", 404, "There is no page 99."),
    ("/gallery/unknownid12/", 404, "No original has the id"),
    ("/no/such/page/", 404, "Nothing is at /no/such/page/."),
    ("/api/v1/nothing/", 404, "Nothing is at /api/v1/nothing/."),
]


@pytest.mark.parametrize(("path", "status", "says"), REFUSED)
def test_a_browser_gets_the_sites_error_page(path, status, says):
    response = Client().get(path, headers={"Accept": BROWSER_ACCEPT})
    assert response.status_code == status
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert says in html and 'href="/"' in html and "<h1>" in html
    assert response["Content-Security-Policy"] == PAGE_CSP and response["Cache-Control"] == "no-store"


@pytest.mark.parametrize("accept", JSON_ACCEPTS)
@pytest.mark.parametrize(("path", "status", "says"), REFUSED)
def test_a_program_gets_json(path, status, says, accept):
    headers = {"Accept": accept} if accept else {}
    response = Client().get(path, headers=headers)
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert says in response.json()["error"]


def test_a_wrong_method_on_a_page(original_id):
    response = Client().delete(f"/originals/{original_id}/", headers={"Accept": BROWSER_ACCEPT})
    assert response.status_code == 405 and "GET" in response["Allow"]
    assert "DELETE is not allowed here; use GET, HEAD, OPTIONS." in response.content.decode()


def test_the_builders_json_stays_json(original_id):
    """builder.js asks for JSON; its refusals stay JSON."""
    response = Client().get(f"/originals/{original_id}/url/?w=abc", headers={"Accept": "application/json"})
    assert response.status_code == 400 and response.json()["param"] == "w"


def test_the_api_root_lists_the_endpoints():
    response = Client().get("/api/v1/", headers={"Accept": "application/json"})
    assert response.status_code == 200
    assert response.json() == {
        "originals": "http://testserver/api/v1/originals/",
        "original": "http://testserver/api/v1/originals/{id}/",
        "original_file": "http://testserver/api/v1/originals/{id}/file/",
        "variants": "http://testserver/image/{id}/",
        "token": "http://testserver/api/v1/token/",
        "token_refresh": "http://testserver/api/v1/token/refresh/",
        "schema": "http://testserver/api/schema/",
        "docs": "http://testserver/api/docs/",
    }
    for name, url in response.json().items():
        if "{id}" not in url:
            assert Client().get(url.removeprefix("http://testserver")).status_code != 404, name


def test_the_api_root_in_a_browser_is_the_browsable_api():
    response = Client().get("/api/v1/", headers={"Accept": BROWSER_ACCEPT})
    assert response.status_code == 200 and b"/api/v1/originals/" in response.content
