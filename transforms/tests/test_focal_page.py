"""The focal point on an original's page: shown to all who see it, picked by its uploader or staff (form without JS)."""

import re

import pytest
from django.test import Client

from originals.models import Original, User

from . import images

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(db: None) -> User:
    return User.objects.create_user("alice", password="alice-password-1")


@pytest.fixture
def picture(alice: User) -> Original:
    client = Client()
    client.force_login(alice)
    data = images.encode(images.marker((640, 480)), "JPEG")
    response = client.post("/api/v1/originals/", {"file": _file(data)})
    assert response.status_code == 201, response.content
    return Original.objects.get(pk=response.json()["id"])


def _file(data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("m.jpg", data)


def logged_in(user: User, *, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(user)
    return client


def token_of(client: Client, path: str) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', client.get(path).content.decode())
    assert match is not None
    return match.group(1)


def test_the_uploader_gets_the_picture_to_click_and_the_form(alice, picture):
    page = logged_in(alice).get(f"/originals/{picture.id}/").content.decode()
    assert 'id="focal-picture"' in page and 'width="320" height="240"' in page
    assert f'data-api-url="/api/v1/originals/{picture.id}/"' in page
    assert 'name="focal_x"' in page and "Not set: they keep the centre." in page
    assert 'class="focal-ring" r="9" hidden' in page


def test_a_visitor_sees_the_point_but_no_form(picture):
    picture.focal_x, picture.focal_y = 0.25, 0.75
    picture.save()
    page = Client().get(f"/originals/{picture.id}/").content.decode()
    assert "Now at 0.2500, 0.7500" in page
    assert 'id="focal-picture"' not in page and 'name="focal_x"' not in page


def test_without_javascript_the_form_sets_and_clears_the_point(alice, picture):
    client = logged_in(alice, csrf=True)
    path = f"/originals/{picture.id}/"
    token = token_of(client, path)
    response = client.post(path + "focal/", {"focal_x": "0.25", "focal_y": ".5", "csrfmiddlewaretoken": token})
    assert response.status_code == 303 and response["Location"] == path + "#focal-title"
    picture.refresh_from_db()
    assert (picture.focal_x, picture.focal_y) == (pytest.approx(0.25), pytest.approx(0.5))
    page = client.get(path).content.decode()
    assert "Now at 0.2500, 0.5000" in page and 'cx="25.00%" cy="50.00%"' in page
    response = client.post(path + "focal/", {"action": "clear", "csrfmiddlewaretoken": token})
    assert response.status_code == 303
    picture.refresh_from_db()
    assert picture.focal_x is None and picture.focal_y is None


@pytest.mark.parametrize(
    ("form", "param", "code"),
    [
        ({"focal_x": "1.5", "focal_y": "0.5"}, "focal_x", "out_of_range"),
        ({"focal_x": "0.5", "focal_y": "-0.1"}, "focal_y", "out_of_range"),
        ({"focal_x": "0.5", "focal_y": "abc"}, "focal_y", "invalid_parameter"),  # as the API: not a number
        ({"focal_x": "0,5", "focal_y": "0.5"}, "focal_x", "invalid_parameter"),
        ({"focal_x": "-", "focal_y": "0.5"}, "focal_x", "invalid_parameter"),
        ({"focal_x": "2", "focal_y": "0.5"}, "focal_x", "out_of_range"),
        ({"focal_x": "", "focal_y": "0.5"}, "focal_x", "empty_parameter"),
        ({"focal_y": "0.5"}, "focal_x", "empty_parameter"),
    ],
)
def test_a_bad_form_value_is_refused_naming_it(alice, picture, form, param, code):
    client = logged_in(alice)
    response = client.post(f"/originals/{picture.id}/focal/", form, HTTP_ACCEPT="application/json")
    assert response.status_code == 400
    assert (response.json()["param"], response.json()["code"]) == (param, code)
    picture.refresh_from_db()
    assert picture.focal_x is None


def test_only_the_uploader_or_staff_and_only_with_the_token(alice, picture):
    path = f"/originals/{picture.id}/focal/"
    form = {"focal_x": "0.5", "focal_y": "0.5"}
    bob = User.objects.create_user("bob", password="bob-password-1")
    assert logged_in(bob).post(path, form, HTTP_ACCEPT="application/json").status_code == 403
    assert Client().post(path, form, HTTP_ACCEPT="application/json").status_code == 403
    refused = logged_in(alice, csrf=True).post(path, form, HTTP_ACCEPT="application/json")
    assert refused.status_code == 403 and refused.json()["code"] == "csrf_failed"
    assert logged_in(alice).get(path).status_code == 405
    staff = User.objects.create_user("root", password="root-password-1", is_staff=True)
    assert logged_in(staff).post(path, form).status_code == 303
