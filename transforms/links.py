"""Build variant URLs: the one place where an /image/<id>/ URL is written (API, templates, docs)."""

from typing import Protocol

from django.urls import reverse

from originals.models import Original

from .budgets import OverBudget
from .signing import presets, signed_query, signed_spec
from .spec import VariantSpec
from .spec import canonical as canonical_spec
from .variants import variant_resolve


class Signable(Protocol):
    """What signing needs of an original beyond its id: the format its variants default to."""

    id: str
    format: str
    has_alpha: bool


def variant_path(original: str | Signable, spec: VariantSpec | None = None) -> str:
    """`/image/<id>/` with the spec's canonical query (signed when URL_SIGNING is on): one cache entry a link.

    Given the original (not only its id), the link is written in the one spelling that is signed (no `fmt` when it
    is the original's own default format, no default `q`), and its signature is the one every spelling shares.
    """
    spec = canonical_spec(dict((spec or VariantSpec()).items()))  # one link a variant, however the spec was built
    if isinstance(original, str):
        original_id, canonical = original, None
    else:
        original_id = original.id
        canonical = signed_spec(spec, original_format=original.format, has_alpha=original.has_alpha)
    base = reverse("image", args=[original_id])
    query = signed_query(original_id, canonical or spec, canonical=canonical)
    return f"{base}?{query}" if query else base


def full_size(original: Original) -> VariantSpec:
    """The picture as large as a variant of it may be: its own size, or, for an original over the output budget
    (pixels x frames, its format's frame and side limits), the largest width within it, so the link is never a
    refusal. The budget only shrinks as the width grows, so the largest width is found by bisection."""

    def fits(spec: VariantSpec) -> bool:
        try:
            variant_resolve(spec, original)
        except OverBudget:
            return False
        return True

    if fits(VariantSpec()):
        return VariantSpec()
    low, high = 1, original.width  # fits(w=low) is assumed, fits(w=high) is known false
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if fits(VariantSpec(w=middle)) else (low, middle)
    return VariantSpec(w=low)


def links_of(original: Original) -> tuple[str, dict[str, str]]:
    """The picture's URL at full size (within the output budget) and the ready-made variants the API shows with
    every original: the presets."""
    named = {name: variant_path(original, spec) for name, spec in presets().items()}
    return variant_path(original, full_size(original)), named
