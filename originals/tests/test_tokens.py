"""JWT over HTTP: refresh tokens rotate and are spent once, a password change revokes them, bad ones are throttled."""

import uuid
from collections.abc import Callable

import pytest
from django.contrib.auth.hashers import make_password
from django.test import Client, override_settings

from originals.models import User

from .test_logins import LIMIT, LOCKOUT, new_ip

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-password-1"


def new_user() -> User:
    return User.objects.create_user(f"t{uuid.uuid4().hex[:12]}", password=PASSWORD)


def obtain(user: User, ip: str = "198.19.0.1") -> dict[str, str]:
    response = Client().post(
        "/api/v1/token/",
        {"username": user.username, "password": PASSWORD},
        content_type="application/json",
        REMOTE_ADDR=ip,
    )
    assert response.status_code == 200, response.content
    return response.json()


def refresh(token: str, ip: str = "198.19.0.1"):
    return Client().post("/api/v1/token/refresh/", {"refresh": token}, content_type="application/json", REMOTE_ADDR=ip)


def assert_refused(response) -> None:
    """401 in Darkroom's shape, with a sentence that says what to do."""
    assert response.status_code == 401, response.content
    body = response.json()
    assert body["code"] == "token_not_valid"
    assert body["error"].startswith("The refresh token was refused") and "/api/v1/token/" in body["error"]


def test_refresh_rotates_and_a_spent_token_is_refused():
    first = obtain(new_user())["refresh"]
    answer = refresh(first)
    assert answer.status_code == 200, answer.content
    second = answer.json()["refresh"]
    assert second != first and answer.json()["access"]
    assert_refused(refresh(first))  # spent: blacklisted after use
    third = refresh(second)
    assert third.status_code == 200
    assert_refused(refresh(second))
    assert refresh(third.json()["refresh"]).status_code == 200


def test_an_access_token_that_does_not_verify_is_a_plain_401():
    response = Client().get("/api/v1/originals/", HTTP_AUTHORIZATION="Bearer not.a.token")
    assert response.status_code == 401
    assert response.json() == {
        "error": "The access token is not valid (malformed, signed with another key, or not an access token); "
        "log in again at /api/v1/token/.",
        "code": "token_not_valid",
    }


def _admin_sets(data: dict[str, str]) -> Callable[[User], None]:
    def change(user: User) -> None:
        staff = User.objects.create_user(f"s{uuid.uuid4().hex[:12]}", password=PASSWORD, is_staff=True)
        staff.is_superuser = True
        staff.save()
        admin = Client()
        admin.force_login(staff)
        response = admin.post(f"/admin/originals/user/{user.pk}/password/", data)
        assert response.status_code == 302, response.content[:500]
        assert User.objects.get(pk=user.pk).password != user.password, "the admin changed nothing"

    return change


def _saves(method: str, *args: str) -> Callable[[User], None]:
    def change(user: User) -> None:
        getattr(user, method)(*args)
        user.save()

    return change


PASSWORD_CHANGES = {
    "set_password then save": _saves("set_password", "another-long-password-2"),
    "set_unusable_password then save": _saves("set_unusable_password"),
    "the admin's password form": _admin_sets(
        {"password1": "another-long-password-2", "password2": "another-long-password-2", "usable_password": "true"}
    ),
    "the admin disables password login": _admin_sets({"usable_password": "false", "unset-password": "1"}),
}


@pytest.mark.parametrize("change", PASSWORD_CHANGES.values(), ids=PASSWORD_CHANGES.keys())
def test_a_password_change_revokes_every_refresh_token(change):
    user, someone_else = new_user(), new_user()
    tokens = [obtain(user)["refresh"], obtain(user)["refresh"]]
    rotated = refresh(obtain(user)["refresh"]).json()["refresh"]
    kept = obtain(someone_else)["refresh"]
    change(User.objects.get(pk=user.pk))
    for token in [*tokens, rotated]:
        assert_refused(refresh(token))
    assert refresh(kept).status_code == 200, "another user's tokens are not touched"


def test_a_stored_hash_upgrade_is_not_a_password_change():
    """Django rehashes a password stored with an older hasher at the next login: the tokens survive that."""
    user = new_user()
    before = obtain(user)["refresh"]
    user.password = make_password(PASSWORD, hasher="pbkdf2_sha1")
    user.save(update_fields=["password"])
    obtain(user)  # the login that upgrades the hash
    assert User.objects.get(pk=user.pk).password.startswith("pbkdf2_sha256$")
    assert refresh(before).status_code == 200


def test_a_refresh_token_whose_user_is_gone_is_a_401():
    user = new_user()
    token = obtain(user)["refresh"]
    user.delete()
    assert_refused(refresh(token))


@override_settings(LOGIN_FAILURE_LIMIT=LIMIT, LOGIN_LOCKOUT_SECONDS=LOCKOUT)
def test_bad_refresh_tokens_are_throttled_per_client():
    attacker, user = new_ip(), new_user()
    good = obtain(user)["refresh"]
    for n in range(LIMIT):
        assert_refused(refresh(f"garbage-{n}", attacker))
    locked = refresh(good, attacker)  # even a good token, from that client
    assert locked.status_code == 429 and locked["Retry-After"] == str(LOCKOUT)
    assert locked.json()["code"] == "throttled"
    assert refresh(good, new_ip()).status_code == 200, "another client is not touched"
