"""Django's createsuperuser, loud where it would skip: without a terminal it takes DJANGO_SUPERUSER_* or refuses."""

import os
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.management.commands import createsuperuser
from django.core.management.base import CommandError


def _env_name(field: str) -> str:
    return f"DJANGO_SUPERUSER_{field.upper()}"


class Command(createsuperuser.Command):
    help = (
        "Create a superuser: asks in a terminal; without one (a script, make, CI), set DJANGO_SUPERUSER_USERNAME, "
        "DJANGO_SUPERUSER_EMAIL and DJANGO_SUPERUSER_PASSWORD, or it fails."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["interactive"] and not (hasattr(self.stdin, "isatty") and self.stdin.isatty()):
            # Django would print "Superuser creation skipped" and exit 0: a script would never know. Without a
            # terminal to ask in, the DJANGO_SUPERUSER_* variables (Django's own) are the answers.
            options["interactive"] = False
        if not options["interactive"]:
            self._check_answers(options)
        super().handle(*args, **options)

    def _check_answers(self, options: dict[str, Any]) -> None:
        """Every answer the terminal would have asked for, named at once when missing; and a password, which
        Django would otherwise leave unusable without a word."""
        user_model = get_user_model()
        fields = [user_model.USERNAME_FIELD, *user_model.REQUIRED_FIELDS]
        # Read here as Django's command reads them: its interface, not a setting of this service.
        missing = [_env_name(field) for field in fields if not (options.get(field) or os.environ.get(_env_name(field)))]
        if not os.environ.get("DJANGO_SUPERUSER_PASSWORD"):
            missing.append("DJANGO_SUPERUSER_PASSWORD")
        if missing:
            raise CommandError(
                "No terminal to ask in: set " + ", ".join(missing) + " (or run this in a terminal). Nothing was "
                "created."
            )
