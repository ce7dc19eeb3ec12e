"""What a variant request and response say, shared by the Django view and the WSGI fast path."""

from urllib.parse import parse_qsl

from django.conf import settings

from . import signing
from .pipeline import ENCODERS, Rendered, animation_for
from .spec import InvalidSpec, VariantSpec, parse
from .variants import Variant

IMMUTABLE = "public, max-age=31536000, immutable"
IMAGE_CSP = "default-src 'none'; sandbox"
MAX_QUERY_LENGTH = 1024
SIGNATURE_PARAM = frozenset({"sig"})


def parse_query(query: str) -> tuple[VariantSpec, str | None]:
    """The canonical spec and the `sig` parameter of a raw query string, or InvalidSpec naming the problem."""
    if len(query) > MAX_QUERY_LENGTH:
        raise InvalidSpec("query", f"The query is longer than {MAX_QUERY_LENGTH} characters.", "query_too_long")
    pairs = parse_qsl(query, keep_blank_values=True, separator="&")
    signatures = [value for name, value in pairs if name == "sig"]
    if len(signatures) > 1:
        raise InvalidSpec("sig", "sig is given more than once; give it once", "repeated_parameter")
    spec = parse(pairs, max_side=settings.MAX_OUTPUT_SIDE, ignore=SIGNATURE_PARAM, presets=signing.presets())
    return spec, signatures[0] if signatures else None


def not_modified(if_none_match: str, etag: str) -> bool:
    if not if_none_match:
        return False
    candidates = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in candidates or etag in candidates


def caching_headers(variant: Variant) -> list[tuple[str, str]]:
    """The headers of a 200 and of a 304 alike (RFC 9110 asks a 304 to repeat ETag, Cache-Control, Vary)."""
    headers = [
        ("ETag", variant.etag),
        ("Cache-Control", IMMUTABLE),
        ("Content-Security-Policy", IMAGE_CSP),
        ("X-Content-Type-Options", "nosniff"),
    ]
    if variant.negotiated:
        headers.append(("Vary", "Accept"))
    return headers


def body_headers(
    variant: Variant, data: bytes, tier: str, total: float, rendered: Rendered | None
) -> list[tuple[str, str]]:
    """The headers of a 200 beyond caching_headers: type, length, cache tier, animation, timings."""
    headers = [
        ("Content-Type", ENCODERS[variant.out_format].content_type),
        ("Content-Length", str(len(data))),
        ("X-Cache", tier),
        ("Server-Timing", server_timing(tier, total, rendered)),
    ]
    original = variant.original
    animation = animation_for(original.format, original.frames, variant.out_format)
    if animation != "none":
        headers.append(("X-Animation", animation))
    return headers


def server_timing(tier: str, total: float, rendered: Rendered | None) -> str:
    parts = [f'cache;desc="{tier}"']
    if rendered is not None:
        parts += [f"{stage};dur={seconds * 1000:.1f}" for stage, seconds in rendered.timings.items()]
    parts.append(f"total;dur={total * 1000:.1f}")
    return ", ".join(parts)
