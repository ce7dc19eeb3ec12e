"""The originals app: untouched uploaded files, their metadata and the REST API."""

from django.apps import AppConfig


class OriginalsConfig(AppConfig):
    name = "originals"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.conf import settings

        from . import logins  # noqa: F401 - connects the lockout receiver for the token endpoint

        # The quick start needs no setup: the data directory appears on first start.
        for directory in (settings.DATA_DIR, settings.ORIGINALS_DIR, settings.VARIANTS_DIR):
            directory.mkdir(parents=True, exist_ok=True)
