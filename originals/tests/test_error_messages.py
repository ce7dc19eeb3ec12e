"""Every refusal DRF or simplejwt can raise reaches the client as plain sentences, never a Python repr."""

import inspect
import json
from datetime import timedelta

import pytest
from django.test import Client
from rest_framework import exceptions as drf
from rest_framework.renderers import JSONRenderer
from rest_framework_simplejwt import exceptions as jwt
from rest_framework_simplejwt.tokens import AccessToken

from originals.models import User
from server.errors import api_exception_handler

from .conftest import jpeg_bytes, upload

# What DRF and simplejwt put in a detail: a string, lists, dicts (nested, empty), simplejwt's {"detail", "messages"}.
DETAILS = [
    None,
    "Something went wrong",
    ["First problem.", "Second problem."],
    [],
    {},
    {"field": ["This field is required."]},
    {"outer": {"inner": ["Deep problem."]}},
    {"non_field_errors": ["Both cannot be given."]},
    [{"field": ["In a list of dicts."]}],
    {"detail": "Given token not valid for any token type", "code": "token_not_valid"},
    {
        "detail": "Given token not valid for any token type",
        "messages": [{"token_class": "AccessToken", "token_type": "access", "message": "Token is expired"}],
    },
]


def exception_classes() -> list[type[Exception]]:
    classes = []
    for module in (drf, jwt):
        for value in vars(module).values():
            if inspect.isclass(value) and issubclass(value, Exception) and value.__module__ == module.__name__:
                classes.append(value)
    return sorted(set(classes), key=lambda cls: (cls.__module__, cls.__name__))


def make(cls: type[Exception], detail):
    if not issubclass(cls, drf.APIException):
        return cls(detail if isinstance(detail, str) else "Token is invalid")
    if cls is drf.MethodNotAllowed:
        return cls("PATCH", detail)
    if cls is drf.UnsupportedMediaType:
        return cls("text/plain", detail)
    if cls is drf.Throttled:  # its wait is joined to a string detail only
        return drf.Throttled(12.5 if detail is None or isinstance(detail, str) else None, detail)
    return cls(detail)


def rendered(exc: Exception) -> tuple[int, dict]:
    response = api_exception_handler(exc, {})
    assert response is not None, f"{type(exc).__name__} is not answered"
    return response.status_code, json.loads(JSONRenderer().render(response.data))


CASES = [(cls, detail) for cls in exception_classes() for detail in DETAILS]


def test_the_walk_covers_both_libraries():
    names = {cls.__name__ for cls in exception_classes()}
    assert {"ValidationError", "NotAuthenticated", "Throttled", "InvalidToken", "TokenError"} <= names
    assert len(CASES) > 150


@pytest.mark.parametrize(
    ("cls", "detail"), CASES, ids=[f"{c.__name__}-{i % len(DETAILS)}" for i, (c, _) in enumerate(CASES)]
)
def test_every_exception_is_plain_sentences(cls, detail):
    status, body = rendered(make(cls, detail))
    assert 400 <= status < 500 or cls is drf.APIException  # its default is 500: a failure of the server
    assert set(body) <= {"error", "code", "param"} and {"error", "code"} <= set(body)
    text = json.dumps(body)
    for leak in ("ErrorDetail", "{'", "[", "messages", "token_class"):
        assert leak not in text, body
    assert body["error"].endswith("."), body
    assert body["error"][0].isupper() or ":" in body["error"], body  # a sentence, or "<param>: <sentence>"
    assert body["code"].isidentifier() and body["code"].islower(), body


@pytest.fixture
def original_id(db) -> str:
    response = Client().post("/api/v1/originals/", {"file": upload(jpeg_bytes())})
    assert response.status_code == 201
    return response.json()["id"]


def test_an_expired_access_token_says_how_to_get_a_new_one(original_id):
    user = User.objects.create_user("expired", password="a-long-password-1")
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=-timedelta(seconds=1))
    response = Client().delete(f"/api/v1/originals/{original_id}/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 401
    assert response.json() == {
        "error": "The access token has expired; get a new one from /api/v1/token/refresh/ with your refresh token, "
        "or log in again at /api/v1/token/.",
        "code": "token_not_valid",
    }


@pytest.mark.parametrize(
    ("authorization", "says"),
    [
        ("Bearer not.a.token", "The access token is not valid"),
        ("Bearer", "The Authorization header must be 'Bearer <access token>'."),
        ("Bearer a b", "The Authorization header must be 'Bearer <access token>'."),
    ],
)
def test_other_bad_tokens_are_sentences(original_id, authorization, says):
    response = Client().delete(f"/api/v1/originals/{original_id}/", HTTP_AUTHORIZATION=authorization)
    assert response.status_code == 401
    body = response.json()
    assert body["error"].startswith(says) and "ErrorDetail" not in body["error"], body
