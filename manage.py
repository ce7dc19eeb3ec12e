#!/usr/bin/env python
"""Django's command-line entry point for Darkroom."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "server.settings")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        settings.INSTALLED_APPS  # noqa: B018 - loads server/settings.py, which checks every setting it reads
    except ImproperlyConfigured as exc:  # a value from the environment refused: its message names it; no traceback
        sys.exit(f"darkroom: {exc}")
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
