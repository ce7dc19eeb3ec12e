"""What a variant request and response say, shared by the Django view and the WSGI fast path."""

from django.conf import settings

from .pipeline import ENCODERS, Rendered, animation_for
from .variants import Variant

IMMUTABLE = "public, max-age=31536000, immutable"
# gravity=focal names a point its uploader may move, and its URL stays the same: caches keep it for as long as a
# worker trusts what it remembers of an original (KNOWN_ORIGINALS_SECONDS), then ask again with the ETag (a 304).
FOLLOWS_FACTS = "public, max-age=60"
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
        ("Cache-Control", FOLLOWS_FACTS if variant.follows_focal else IMMUTABLE),
        ("Content-Security-Policy", IMAGE_CSP),
        ("X-Content-Type-Options", "nosniff"),
    ]
    if variant.negotiated:
        headers.append(("Vary", "Accept"))
    return headers


def security_headers(https: bool) -> list[tuple[str, str]]:
    """What Django's SecurityMiddleware and XFrameOptionsMiddleware add, so both paths send the same."""
    headers = [
        ("Referrer-Policy", settings.SECURE_REFERRER_POLICY),
        ("Cross-Origin-Opener-Policy", settings.SECURE_CROSS_ORIGIN_OPENER_POLICY),
        ("X-Frame-Options", settings.X_FRAME_OPTIONS),
    ]
    if https and settings.SECURE_HSTS_SECONDS:
        headers.append(("Strict-Transport-Security", f"max-age={settings.SECURE_HSTS_SECONDS}"))
    return headers


def content_headers(variant: Variant) -> list[tuple[str, str]]:
    """The headers of a 200 that depend on the variant alone: its type, and what became of an animation."""
    headers = [("Content-Type", ENCODERS[variant.out_format].content_type)]
    original = variant.original
    animation = animation_for(original.format, original.frames, variant.out_format)
    if animation != "none":
        headers.append(("X-Animation", animation))
    return headers


def delivery_headers(data: bytes, tier: str, total: float, rendered: Rendered | None) -> list[tuple[str, str]]:
    """The headers of a 200 that depend on this delivery: length, cache tier, timings."""
    return [
        ("Content-Length", str(len(data))),
        ("X-Cache", tier),
        ("Server-Timing", server_timing(tier, total, rendered)),
    ]


def server_timing(tier: str, total: float, rendered: Rendered | None) -> str:
    if rendered is None:  # a hit: one string, made at the cost of one format, or none for a hit under 0.05 ms
        return f'cache;desc="{tier}", total;dur={"0.0" if total < 0.00005 else f"{total * 1000:.1f}"}'
    parts = [f'cache;desc="{tier}"']
    if rendered is not None:
        parts += [f"{stage};dur={seconds * 1000:.1f}" for stage, seconds in rendered.timings.items()]
    parts.append(f"total;dur={total * 1000:.1f}")
    return ", ".join(parts)
