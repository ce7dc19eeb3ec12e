"""Signed variant URLs, as thumbor and imgproxy have them: an HMAC-SHA256 `sig` over the canonical URL.

Why: without signatures anyone can make the server render and store an unbounded number of variants
(every width from 1 to 8192, every quality, every format) of every original. With URL_SIGNING=required
only URLs the application (or someone holding a key) wrote are rendered; with URL_SIGNING=presets the
unsigned ones are limited to named presets and a ladder of widths, a small bounded set per original.
Keys rotate: the first of URL_SIGNING_KEYS signs, all of them verify.
"""

import base64
import hashlib
import hmac
from collections.abc import Iterable, Sequence
from functools import cache
from urllib.parse import parse_qsl

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .formats import default_format
from .spec import InvalidSpec, VariantSpec, parse

MODES = ("off", "required", "presets")
SIGNATURE_BYTES = 32


def message(original_id: str, spec: VariantSpec) -> bytes:
    """What is signed: `/image/<id>/?` and the spec's canonical query (the `?` is there when the query is empty too).

    Sign `signed_spec(…)`'s spelling, so that every spelling of one variant shares one signature.
    """
    return f"/image/{original_id}/?{spec.canonical_query}".encode()


def signed_spec(spec: VariantSpec, *, original_format: str, has_alpha: bool) -> VariantSpec:
    """The one spelling of a variant that is signed: its canonical query, with `fmt` left out when it is the
    original's own default format and `q` left out when it is that format's default. `?w=300`, `?fmt=jpeg&w=300`
    and `?w=300&q=82` of a JPEG are one variant (one ETag), so one signature. `fmt=auto` is kept as it is: what it
    becomes depends on each request's Accept header."""
    if spec.fmt == "auto":
        return spec
    default = default_format(original_format, has_alpha)
    final = spec.for_output(spec.fmt or default)
    return final.replace(fmt=None) if final.fmt == default else final


def sign(payload: bytes, key: bytes) -> str:
    digest = hmac.new(key, payload, hashlib.sha256).digest()[:SIGNATURE_BYTES]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def verify(payload: bytes, signature: str, keys: Iterable[bytes]) -> bool:
    expected = signature.encode()
    return any(hmac.compare_digest(sign(payload, key).encode(), expected) for key in keys)


def keys() -> Sequence[bytes]:
    """URL_SIGNING_KEYS, or one key derived from SECRET_KEY when none are configured."""
    configured = [key.encode() for key in settings.URL_SIGNING_KEYS]
    if configured:
        return configured
    return [hmac.new(settings.SECRET_KEY.encode(), b"darkroom url signing", hashlib.sha256).digest()]


@cache
def _presets(items: tuple[tuple[str, str], ...], max_side: int) -> dict[str, VariantSpec]:
    compiled = {}
    for name, query in items:
        try:
            compiled[name] = parse(parse_qsl(query, keep_blank_values=True), max_side=max_side)
        except InvalidSpec as exc:
            raise ImproperlyConfigured(f"VARIANT_PRESETS[{name!r}] = {query!r}: {exc.message}") from exc
    return compiled


def presets() -> dict[str, VariantSpec]:
    """The named presets of settings.VARIANT_PRESETS, parsed once."""
    return _presets(tuple(sorted(settings.VARIANT_PRESETS.items())), settings.MAX_OUTPUT_SIDE)


def is_public(spec: VariantSpec) -> bool:
    """In `presets` mode, what may be served unsigned: a preset, or a ladder width alone, in any format.

    Whole specs are compared (every registered parameter but `fmt`), so a parameter added to the registry can
    never be slipped past signing beside a preset or a ladder width.
    """
    asked = spec.replace(fmt=None)
    if any(asked == preset.replace(fmt=None) for preset in presets().values()):
        return True
    return asked == VariantSpec(w=spec.w) and spec.w in settings.WIDTH_LADDER


def signature_problem(
    original_id: str, spec: VariantSpec, signature: str | None, *, canonical: VariantSpec | None = None
) -> tuple[str, str] | None:
    """None when the request may be served, else (code, message) for a 403.

    `canonical` is `signed_spec(spec, …)` when the original is known: its signature verifies every spelling of the
    variant, and so does one of the query as it was written (canonicalised), which a signer may have signed instead.
    """
    mode = settings.URL_SIGNING
    canonical = canonical or spec
    if mode == "off" or (mode == "presets" and (is_public(canonical) or is_public(spec))):
        return None
    if not signature:
        why = "every variant must be signed" if mode == "required" else "only presets and ladder widths are not"
        return "signature_required", f"This variant needs a sig parameter: {why}."
    payloads = {message(original_id, canonical), message(original_id, spec)}
    if not any(verify(payload, signature, keys()) for payload in payloads):
        return "invalid_signature", "The sig parameter does not match this URL; sign the canonical URL again."
    return None


def signed_query(original_id: str, spec: VariantSpec, *, canonical: VariantSpec | None = None) -> str:
    """The canonical query, with its sig when signing is on: what links written by this service use.

    `canonical` (see signature_problem) is what is signed when the original is known.
    """
    query = spec.canonical_query
    if settings.URL_SIGNING == "off":
        return query
    sig = sign(message(original_id, canonical or spec), keys()[0])
    return f"{query}&sig={sig}" if query else f"sig={sig}"
