"""The list API is as strict as a variant's query: unknown and repeated parameters are refused, by name."""

import pytest

from .conftest import image_bytes, jpeg_bytes, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def uploaded(client) -> dict[str, str]:
    jpeg = client.post("/api/v1/originals/", {"file": upload(jpeg_bytes(), "a.jpg")}).json()["id"]
    png = client.post("/api/v1/originals/", {"file": upload(image_bytes("PNG"), "b.png")}).json()["id"]
    return {"JPEG": jpeg, "PNG": png}


@pytest.mark.parametrize(
    ("query", "param", "code"),
    [
        ("fromat=PNG", "fromat", "unknown_parameter"),
        ("format=PNG&colour=red", "colour", "unknown_parameter"),
        ("Format=PNG", "Format", "unknown_parameter"),
        ("page_size=2&limit=5", "limit", "unknown_parameter"),
        ("format=JPEG&format=PNG", "format", "repeated_parameter"),
        ("page=1&page=2", "page", "repeated_parameter"),
        ("format=", "format", "empty_parameter"),
        ("format=TGA", "format", "invalid_parameter"),
        ("format=json", "format", "invalid_parameter"),
        ("page=0", "page", "invalid_parameter"),
        ("created_after=yesterday", "created_after", "invalid_parameter"),
    ],
)
def test_refused_by_name(client, query, param, code):
    response = client.get(f"/api/v1/originals/?{query}")
    assert response.status_code == 400, response.content
    body = response.json()
    assert (body["param"], body["code"]) == (param, code), body
    assert body["error"].endswith("."), body


def test_format_json_says_what_format_means(client):
    error = client.get("/api/v1/originals/?format=json").json()["error"]
    assert "image format" in error and "Accept" in error


@pytest.mark.parametrize("spelling", ["JPEG", "jpeg", "Jpeg", "jpg", "JPG"])
def test_the_format_filter_ignores_letter_case(client, uploaded, spelling):
    response = client.get(f"/api/v1/originals/?format={spelling}")
    assert response.status_code == 200, response.content
    ids = {original["id"] for original in response.json()["results"]}
    assert uploaded["JPEG"] in ids and uploaded["PNG"] not in ids


def test_every_documented_parameter_is_taken(client, uploaded):
    query = "format=png&owner=nobody&created_after=2000-01-01T00:00:00Z&created_before=2999-01-01T00:00:00Z&page=1"
    response = client.get(f"/api/v1/originals/?{query}&page_size=5")
    assert response.status_code == 200 and response.json()["results"] == []


def test_a_page_past_the_end_is_a_sentence(client, uploaded):
    response = client.get("/api/v1/originals/?page=99")
    assert response.status_code == 404
    assert response.json() == {"error": "There is no page 99 of this list.", "code": "not_found"}
