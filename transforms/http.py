"""What a variant request and response say, shared by the Django view and the WSGI fast path."""

from .pipeline import ENCODERS, Rendered, animation_for
from .variants import Variant

IMMUTABLE = "public, max-age=31536000, immutable"
IMAGE_CSP = "default-src 'none'; sandbox"


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
