"""Reads for originals."""

from django.db.models import QuerySet

from .models import ORIGINAL_ID, Original


def original_list() -> QuerySet[Original]:
    return Original.objects.select_related("owner").order_by("-created", "-id")


def original_get(original_id: str) -> Original | None:
    if not ORIGINAL_ID.fullmatch(original_id):
        return None
    return Original.objects.select_related("owner").filter(pk=original_id).first()
