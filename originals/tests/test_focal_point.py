"""An original's focal point: in its JSON, changed with PATCH by its uploader or staff, strictly checked."""

import json
from decimal import Decimal
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.test import override_settings
from rest_framework.test import APIClient

from originals.models import Original, User

from .conftest import bearer, jpeg_bytes, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def mine(alice_client: APIClient) -> str:
    response = alice_client.post("/api/v1/originals/", {"file": upload(jpeg_bytes((80, 60)))}, format="multipart")
    assert response.status_code == 201
    return str(response.json()["id"])


def patch(client: APIClient, original_id: str, body: object) -> Any:
    return client.patch(f"/api/v1/originals/{original_id}/", json.dumps(body), content_type="application/json")


def test_the_json_carries_the_focal_point_and_the_owner_moves_it(client, alice_client, mine):
    path = f"/api/v1/originals/{mine}/"
    assert {k: client.get(path).json()[k] for k in ("focal_x", "focal_y")} == {"focal_x": None, "focal_y": None}
    response = patch(alice_client, mine, {"focal_x": 0.25, "focal_y": 0.75})
    assert response.status_code == 200 and response["Cache-Control"].startswith("private")
    assert (response.json()["focal_x"], response.json()["focal_y"]) == (0.25, 0.75)
    assert (client.get(path).json()["focal_x"], client.get(path).json()["focal_y"]) == (0.25, 0.75)
    assert patch(alice_client, mine, {"focal_y": 0}).json()["focal_y"] == 0.0, "one coordinate of a set point"
    rounded = patch(alice_client, mine, {"focal_x": 0.333333333, "focal_y": 1})
    assert (rounded.json()["focal_x"], rounded.json()["focal_y"]) == (0.3333, 1.0), "kept to a ten-thousandth"
    assert patch(alice_client, mine, {"focal_x": 0.00005, "focal_y": 1}).json()["focal_x"] == 0.0  # half to even
    cleared = patch(alice_client, mine, {"focal_x": None, "focal_y": None})
    assert (cleared.json()["focal_x"], cleared.json()["focal_y"]) == (None, None)
    assert Original.objects.get(pk=mine).focal_x is None


REFUSED = [
    # (body, the field named, code)
    ({"focal_x": 1.5, "focal_y": 0.5}, "focal_x", "out_of_range"),
    ({"focal_x": 0.5, "focal_y": -0.0001}, "focal_y", "out_of_range"),
    ({"focal_x": 2, "focal_y": 0}, "focal_x", "out_of_range"),
    ({"focal_x": 1e300, "focal_y": 0}, "focal_x", "out_of_range"),
    ({"focal_x": "0.5", "focal_y": 0.5}, "focal_x", "invalid_parameter"),
    ({"focal_x": 0.5, "focal_y": "half"}, "focal_y", "invalid_parameter"),
    ({"focal_x": True, "focal_y": 0.5}, "focal_x", "invalid_parameter"),
    ({"focal_x": [0.5], "focal_y": 0.5}, "focal_x", "invalid_parameter"),
    ({"focal_x": {"v": 0.5}, "focal_y": 0.5}, "focal_x", "invalid_parameter"),
    ({"focal_x": 0.5}, "focal_y", "missing_parameter"),  # no point yet: both or neither
    ({"focal_y": None, "focal_x": 0.5}, "focal_y", "missing_parameter"),
    ({}, "focal_x", "missing_parameter"),
    ({"focal_x": 0.5, "focal_y": 0.5, "width": 10}, "width", "invalid_parameter"),
    ({"owner": "alice"}, "owner", "invalid_parameter"),
    ({"focal": [0.5, 0.5]}, "focal", "unknown_parameter"),
    ({"Focal_x": 0.5}, "Focal_x", "unknown_parameter"),
    ([0.5, 0.5], None, "malformed_request"),
    ("0.5", None, "malformed_request"),
    (None, None, "malformed_request"),
]


@pytest.mark.parametrize(("body", "param", "code"), REFUSED)
def test_a_bad_focal_point_is_400_naming_the_field(alice_client, mine, body, param, code):
    response = patch(alice_client, mine, body)
    assert response.status_code == 400, response.content
    refusal = response.json()
    assert (refusal.get("param"), refusal["code"]) == (param, code), refusal
    assert Original.objects.get(pk=mine).focal_x is None, "nothing is changed by a refused request"


@pytest.mark.parametrize(
    ("raw", "content_type", "status"),
    [
        ('{"focal_x": NaN, "focal_y": 0.5}', "application/json", 400),
        ('{"focal_x": Infinity, "focal_y": 0.5}', "application/json", 400),
        ('{"focal_x": 0.5, "focal_y": 0.5', "application/json", 400),
        ('{"focal_x": 1' + "0" * 5000 + ', "focal_y": 0.5}', "application/json", 400),
        ("focal_x=0.5&focal_y=0.5", "application/x-www-form-urlencoded", 415),
    ],
)
def test_malformed_bodies_are_refused(alice_client, mine, raw, content_type, status):
    response = alice_client.patch(f"/api/v1/originals/{mine}/", raw, content_type=content_type)
    assert response.status_code == status, response.content
    assert response.json()["code"] in ("malformed_request", "unsupported_media_type", "out_of_range")


def test_only_the_uploader_or_staff_move_it(client, alice_client, staff_client, mine):
    User.objects.create_user("bob", password="bob-password-1")
    bob = bearer(APIClient(), "bob", "bob-password-1")
    point = {"focal_x": 0.5, "focal_y": 0.5}
    assert patch(client, mine, point).status_code == 401
    refused = patch(bob, mine, point)
    assert refused.status_code == 403 and "change or delete" in refused.json()["error"]
    assert patch(staff_client, mine, point).status_code == 200
    with override_settings(PUBLIC_GALLERY=False):
        assert patch(bob, mine, point).status_code == 404, "who may not see it is told it does not exist"
    assert alice_client.put(f"/api/v1/originals/{mine}/", point, format="json").status_code == 405


def test_the_database_holds_both_coordinates_or_neither(alice_client, mine):
    """The check constraint itself, whatever path a write takes: SQL passes a CHECK that is NULL, so one coordinate
    set alone must be refused by a "not null" in the constraint, not by the comparisons."""
    for x, y in ((Decimal("0.5"), None), (None, Decimal("0.5")), (Decimal("1.5"), Decimal("0.5"))):
        with pytest.raises(IntegrityError), transaction.atomic():
            Original.objects.filter(pk=mine).update(focal_x=x, focal_y=y)
    Original.objects.filter(pk=mine).update(focal_x=Decimal("0.5"), focal_y=Decimal("0"))


def test_the_schema_says_the_focal_point_is_a_number(client, caplog):
    """drf-spectacular could not resolve UnitIntervalField and documented a string (which the PATCH refuses), with a
    warning in the server's log at the first request for the schema."""
    with caplog.at_level("WARNING"):
        schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    fields = schema["components"]["schemas"]["PatchedFocalPointInputRequest"]["properties"]
    for name in ("focal_x", "focal_y"):
        assert {k: fields[name][k] for k in ("type", "minimum", "maximum", "nullable")} == {
            "type": "number",
            "minimum": 0,
            "maximum": 1,
            "nullable": True,
        }
    assert not [r for r in caplog.records if "UnitIntervalField" in r.getMessage()]
