"""Reads for originals."""

from django.db.models import QuerySet

from .models import Original


def original_list() -> QuerySet[Original]:
    return Original.objects.select_related("owner").order_by("-created", "-id")


def original_get(original_id: str) -> Original | None:
    if not original_id or len(original_id) > 16:
        return None
    return Original.objects.select_related("owner").filter(pk=original_id).first()
