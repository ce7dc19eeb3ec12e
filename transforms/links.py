"""Build variant URLs: the one place where an /image/<id>/ URL is written (API, templates, docs)."""

from django.urls import reverse

from .signing import signed_query
from .spec import VariantSpec

# Shown with every original in the API, as a starting point for <img>, srcset and <picture>.
EXAMPLE_VARIANTS: dict[str, VariantSpec] = {
    "thumbnail": VariantSpec(w=200, h=200, fit="cover"),
    "small": VariantSpec(w=640),
    "large": VariantSpec(w=1600),
    "small_webp": VariantSpec(w=640, fmt="webp"),
    "auto": VariantSpec(w=1024, fmt="auto"),
}


def variant_path(original_id: str, spec: VariantSpec | None = None) -> str:
    """`/image/<id>/` with the spec's canonical query (signed when URL_SIGNING is on): one cache entry a link."""
    base = reverse("image", args=[original_id])
    query = signed_query(original_id, spec or VariantSpec())
    return f"{base}?{query}" if query else base


def links_of(original_id: str) -> tuple[str, dict[str, str]]:
    """The variant base URL and the ready-made variants the API shows with every original."""
    return variant_path(original_id), {name: variant_path(original_id, spec) for name, spec in EXAMPLE_VARIANTS.items()}
