"""/thumbor/<signature or unsafe>/…/<id>: thumbor's URLs, read and authorised here, answered as the native variant.

The URL is read by thumbor's grammar (transforms/thumbor_urls.py), its signature checked with THUMBOR_SECURITY_KEY,
and turned into the native VariantSpec (transforms/thumbor_mapping.py) that transforms/answer.py answers as it
answers /image/: the same cache entry, bytes and ETag. `meta/` answers thumbor's JSON from the recorded facts.
"""

import hashlib
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase

from server.errors import json_bytes

from . import signing
from .answer import Answer, VariantRequest, answer, refusal, resolutions, unknown
from .framing import FocalPoint
from .http import not_modified
from .info import INFO_CACHE_CONTROL
from .operations import output_geometry, resized_region
from .params import InvalidSpec
from .queries import spec_from_pairs
from .spec import VariantSpec
from .throttles import admit_render
from .thumbor_mapping import focal_point, native_params
from .thumbor_urls import ThumborUrl, parse_thumbor, signature_matches
from .variants import OriginalFacts
from .views import ImageView, facts_from_database, response_of, variant_request_of

MAX_PATH_LENGTH = 1024


class ThumborView(ImageView):
    """GET and HEAD of a thumbor URL: the variant, or with `meta/` thumbor's JSON of it."""

    def head(self, request: HttpRequest, path: str) -> HttpResponseBase:
        return self.get(request, path)

    def get(self, request: HttpRequest, path: str) -> HttpResponseBase:
        return response_of(thumbor_answer(request, path))


def thumbor_answer(request: HttpRequest, path: str) -> Answer:
    """The answer to /thumbor/<path>: 400 for what thumbor's grammar or Darkroom cannot read, 403 for the signature,
    404 for the id, then what /image/ answers for the native spec."""
    if len(path) > MAX_PATH_LENGTH:
        return refusal(400, f"The thumbor URL is longer than {MAX_PATH_LENGTH} characters.", "query_too_long", "url")
    try:
        url = parse_thumbor(path)
    except InvalidSpec as exc:
        return refusal(exc.status, exc.message, exc.code, exc.param)
    problem = _signature_problem(url)
    if problem is not None:
        return problem
    facts = facts_from_database(url.image)
    if facts is None:
        return unknown(url.image)
    try:
        spec = native_spec(url, facts)
    except InvalidSpec as exc:
        return refusal(exc.status, exc.message, exc.code, exc.param)
    if url.signature is None:
        canonical = signing.signed_spec(spec, original_format=facts.format, has_alpha=facts.has_alpha)
        if signing.signature_problem(facts.id, spec, None, canonical=canonical) is not None:
            message = (
                "unsafe/ URLs are served as their unsigned native URL would be; URL_SIGNING refuses this one: sign it."
            )
            return refusal(403, message, "signature_required", "signature")
    native = variant_request_of(request, facts.id)._replace(query=spec.canonical_query, spec=spec)
    if url.meta:
        return _meta_answer(url, native, facts)
    found = answer(native, facts_of=lambda _: facts, complete=True, admit=lambda: admit_render(request))
    assert found is not None  # a complete answer is never deferred
    return found


def native_spec(url: ThumborUrl, facts: OriginalFacts) -> VariantSpec:
    """The canonical native spec of `url` for this original; InvalidSpec naming the thumbor part."""
    native = native_params(url)
    try:
        spec = spec_from_pairs(native.pairs)
    except InvalidSpec as exc:
        raise native.refusal(exc) from exc
    if spec.value("gravity") == "focal":  # the URL's own point, not the original's
        point = focal_point(url, (facts.width, facts.height))
        assert point is not None
        spec = spec.replace(gravity=FocalPoint(*point))
    return spec


def _signature_problem(url: ThumborUrl) -> Answer | None:
    if url.signature is None:
        if settings.THUMBOR_ALLOW_UNSAFE:
            return None
        message = "unsafe/ thumbor URLs are not allowed here (THUMBOR_ALLOW_UNSAFE); sign the URL."
        return refusal(403, message, "signature_required", "signature")
    key = settings.THUMBOR_SECURITY_KEY
    if not key:
        message = "Signed thumbor URLs need THUMBOR_SECURITY_KEY, and none is configured."
        return refusal(403, message, "invalid_signature", "signature")
    if not signature_matches(key, url.signature, url.signed):
        message = "The signature does not match this thumbor URL; sign the path after it with the thumbor key."
        return refusal(403, message, "invalid_signature", "signature")
    return None


def _meta_answer(url: ThumborUrl, native: VariantRequest, facts: OriginalFacts) -> Answer:
    """thumbor's JSON engine's answer: the source, the operations (crop, resize, flips) and the target."""
    assert native.spec is not None
    checked = (native.spec, None)
    resolved = resolutions.variant(facts, checked, native.query, native.accept, authorised=True)
    if isinstance(resolved, Answer):
        return resolved
    body = json_bytes(thumbor_meta(url, resolved.variant.spec, facts))
    etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    headers = [("ETag", etag), ("Cache-Control", INFO_CACHE_CONTROL), ("X-Content-Type-Options", "nosniff")]
    if not_modified(native.if_none_match, etag):
        return Answer(304, headers, b"", "not-modified")
    content = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    return Answer(200, headers + content, b"" if native.head else body)


def thumbor_meta(url: ThumborUrl, spec: VariantSpec, facts: OriginalFacts) -> dict[str, Any]:
    """The JSON thumbor's `meta/` answers, worked out from the resolved native spec: what thumbor's operations would
    be (its rotate is not one of them, so sizes are before the turn)."""
    upright = (facts.width, facts.height)
    region, found_in_pixels = resized_region(upright, spec)
    left, top, right, bottom = (round(edge) for edge in region)
    _, picture = output_geometry(upright, spec)
    if spec.rotate in (90, 270):
        picture = (picture[1], picture[0])
    operations: list[dict[str, Any]] = []
    # with smart/ the crop is found in the pixels when rendering: meta/, which renders nothing, cannot say where
    if (left, top, right, bottom) != (0, 0, *upright) and not found_in_pixels:
        operations.append({"type": "crop", "left": left, "top": top, "right": right, "bottom": bottom})
    if picture != (right - left, bottom - top) or found_in_pixels:
        operations.append({"type": "resize", "width": picture[0], "height": picture[1]})
    operations += [
        {"type": f"flip_{way}"} for way, flip in (("horizontally", url.flip_h), ("vertically", url.flip_v)) if flip
    ]
    meta: dict[str, Any] = {
        "source": {"url": url.image, "width": facts.width, "height": facts.height, "frameCount": facts.frames},
        "operations": operations,
        "target": {"width": picture[0], "height": picture[1]},
    }
    gravity = spec.value("gravity")
    if isinstance(gravity, FocalPoint):
        x, y = float(gravity.x) * facts.width, float(gravity.y) * facts.height
        meta["focal_points"] = [{"x": x, "y": y, "z": 1.0, "width": 1, "height": 1, "origin": "Explicit"}]
    return {"thumbor": meta}
