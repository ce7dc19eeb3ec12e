"""The transforms app: variant specs, the Pillow pipeline, the variant cache and /image/<id>/."""

from django.apps import AppConfig


class TransformsConfig(AppConfig):
    name = "transforms"

    def ready(self) -> None:
        from .signing import presets

        presets()  # a malformed VARIANT_PRESETS stops the start, naming the preset
