"""The transforms app: variant specs, the Pillow pipeline, the variant cache and /image/<id>/."""

from django.apps import AppConfig


class TransformsConfig(AppConfig):
    name = "transforms"
