"""Build variant URLs: the one place where an /image/<id>/ URL is written (API, templates, docs)."""

from typing import Protocol

from django.urls import reverse

from .signing import presets, signed_query, signed_spec
from .spec import VariantSpec
from .spec import canonical as canonical_spec


class Signable(Protocol):
    """What signing needs of an original beyond its id: the format its variants default to."""

    id: str
    format: str
    has_alpha: bool


def variant_path(original: str | Signable, spec: VariantSpec | None = None) -> str:
    """`/image/<id>/` with the spec's canonical query (signed when URL_SIGNING is on): one cache entry a link.

    Given the original (not only its id), the signature is the canonical one that every spelling shares.
    """
    spec = canonical_spec(dict((spec or VariantSpec()).items()))  # one link a variant, however the spec was built
    if isinstance(original, str):
        original_id, canonical = original, None
    else:
        original_id = original.id
        canonical = signed_spec(spec, original_format=original.format, has_alpha=original.has_alpha)
    base = reverse("image", args=[original_id])
    query = signed_query(original_id, spec, canonical=canonical)
    return f"{base}?{query}" if query else base


def links_of(original: Signable) -> tuple[str, dict[str, str]]:
    """The variant base URL and the ready-made variants the API shows with every original: the presets."""
    named = {name: variant_path(original, spec) for name, spec in presets().items()}
    return variant_path(original), named
