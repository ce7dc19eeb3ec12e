"""GET /image/<id>/info/?<query>: what a variant will be, from the original's recorded facts, without decoding it.

The same query, signature and refusals as /image/ (it asks transforms/answer.py), answered as JSON: the original's
size and format, the variant's planned size and format, the region of the original it is made from and the
original's focal point. Like thumbor's /meta and imgproxy's /info, but nothing is opened or rendered.
"""

import hashlib
from typing import Any

from server.errors import json_bytes

from .answer import Answer, FactsOf, VariantRequest, resolutions, unknown
from .http import not_modified
from .links import variant_path
from .operations import output_geometry, resized_region
from .pipeline import ENCODERS, animation_for
from .spec import VariantSpec
from .variants import OriginalFacts, Variant

# The facts never change for an id, but an original can be deleted and its focal point moved: a short life in
# shared caches, then a revalidation that costs a 304.
INFO_CACHE_CONTROL = "public, max-age=300"


def focal_point(original: OriginalFacts) -> dict[str, float] | None:
    """The original's focal point as fractions of its upright picture, or None while it has none."""
    return None if original.focal is None else {"x": float(original.focal[0]), "y": float(original.focal[1])}


def _number(value: float) -> float | int:
    return int(value) if value == int(value) else round(value, 2)


def variant_info(variant: Variant, asked: VariantSpec) -> dict[str, Any]:
    """The JSON of one resolved variant (a function of the original's facts and the spec alone); its `url` is the
    image's that `asked` names (fmt=auto stays auto), signed as the links this service writes are."""
    original, spec = variant.original, variant.spec
    upright = (original.width, original.height)
    canvas, picture = output_geometry(upright, spec)
    (left, top, right, bottom), smart = resized_region(upright, spec)
    animation = animation_for(original.format, original.frames, variant.out_format)
    return {
        "original": {
            "id": original.id,
            "width": original.width,
            "height": original.height,
            "format": original.format,
            "frames": original.frames,
            "has_alpha": original.has_alpha,
        },
        "variant": {
            "url": variant_path(original.id, asked),
            "width": canvas[0],
            "height": canvas[1],
            "picture": {"width": picture[0], "height": picture[1]},
            "format": variant.out_format,
            "content_type": ENCODERS[variant.out_format].content_type,
            "negotiated": variant.negotiated,
            "frames": original.frames if animation == "kept" else 1,
            "animation": animation,
            "etag": variant.etag,
        },
        "crop": {
            # gravity=smart finds where the box goes in the pixels, which info/ does not decode: its size only
            "x": None if smart else _number(left),
            "y": None if smart else _number(top),
            "width": _number(right - left),
            "height": _number(bottom - top),
        },
        "focal_point": focal_point(original),
    }


def info_answer(request: VariantRequest, *, facts_of: FactsOf) -> Answer:
    """The info of the variant `request` names, or the refusal /image/ would give it."""
    checked = resolutions.query(request.original_id, request.query)
    if isinstance(checked, Answer):
        return checked
    facts = facts_of(request.original_id)
    if facts is None:
        return unknown(request.original_id)
    resolved = resolutions.variant(facts, checked, request.query, request.accept)
    if isinstance(resolved, Answer):
        return resolved
    variant = resolved.variant
    body = json_bytes(variant_info(variant, checked[0]))
    etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    headers = [("ETag", etag), ("Cache-Control", INFO_CACHE_CONTROL), ("X-Content-Type-Options", "nosniff")]
    if variant.negotiated:
        headers.append(("Vary", "Accept"))
    if not_modified(request.if_none_match, etag):
        return Answer(304, headers, b"", "not-modified")
    content = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    return Answer(200, headers + content, b"" if request.head else body)
