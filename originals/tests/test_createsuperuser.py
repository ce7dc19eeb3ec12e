"""createsuperuser never skips: without a terminal it takes DJANGO_SUPERUSER_* or fails naming what is missing."""

import io

import pytest
from django.core.management import CommandError, call_command

from originals.models import User

pytestmark = pytest.mark.django_db

ALL = {
    "DJANGO_SUPERUSER_USERNAME": "admin",
    "DJANGO_SUPERUSER_EMAIL": "admin@example.com",
    "DJANGO_SUPERUSER_PASSWORD": "a-long-password-1",
}


@pytest.mark.parametrize(
    ("env", "options", "missing"),
    [
        ({}, {}, ["DJANGO_SUPERUSER_USERNAME", "DJANGO_SUPERUSER_EMAIL", "DJANGO_SUPERUSER_PASSWORD"]),
        ({**ALL, "DJANGO_SUPERUSER_PASSWORD": ""}, {}, ["DJANGO_SUPERUSER_PASSWORD"]),
        ({**ALL, "DJANGO_SUPERUSER_EMAIL": ""}, {}, ["DJANGO_SUPERUSER_EMAIL"]),
        ({"DJANGO_SUPERUSER_PASSWORD": "a-long-password-1"}, {"username": "admin"}, ["DJANGO_SUPERUSER_EMAIL"]),
        ({"DJANGO_SUPERUSER_USERNAME": "admin"}, {"interactive": False}, ["DJANGO_SUPERUSER_EMAIL"]),
    ],
)
def test_without_a_terminal_missing_answers_are_named(monkeypatch, env, options, missing):
    for name in ALL:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(CommandError) as refused:
        call_command("createsuperuser", stdin=io.StringIO(), stdout=io.StringIO(), **options)
    for name in missing:
        assert name in str(refused.value)
    assert not User.objects.exists()


@pytest.mark.parametrize("options", [{}, {"interactive": False}])
def test_without_a_terminal_the_environment_answers(monkeypatch, options):
    for name, value in ALL.items():
        monkeypatch.setenv(name, value)
    out = io.StringIO()
    call_command("createsuperuser", stdin=io.StringIO(), stdout=out, **options)
    user = User.objects.get(username="admin")
    assert user.is_superuser and user.is_staff and user.check_password("a-long-password-1")
    assert "Superuser created successfully." in out.getvalue()
