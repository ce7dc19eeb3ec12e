"""One answer to a GET or HEAD of /image/<id>/?<query>, for the Django view and the WSGI fast path alike.

The query (400), the signature (403), the original (404), the output budget (400/422), the 304, the cache
tiers and the render, the headers and the counting are here once. The fast path asks only for what needs no
database and no render (a hit or a 304) and hands everything else to Django, whose view asks for all of it.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from originals.store import StoreUnavailable
from server.errors import error_payload, json_bytes
from server.metrics import BYTES_SERVED, VARIANT_REQUESTS, CountOf, CountsOf, count_of

from . import cache, signing
from .http import caching_headers, content_headers, delivery_headers, not_modified, security_headers
from .pipeline import RenderError, RenderTimeout
from .queries import spec_from_query
from .render_pool import RenderCrashed, RenderOverMemory
from .spec import InvalidSpec, VariantSpec
from .throttles import RendersThrottled
from .variants import OriginalFacts, Overloaded, Variant, variant_fetch, variant_resolve

logger = logging.getLogger(__name__)

FactsOf = Callable[[str], OriginalFacts | None]


class VariantRequest(NamedTuple):
    """What a variant request says, read off Django's request or a WSGI environ (a tuple: made per request)."""

    original_id: str
    query: str
    head: bool = False
    accept: str = ""
    if_none_match: str = ""
    https: bool = False
    # Set by a door that has read and authorised the variant itself (thumbor's URLs, transforms/thumbor.py): the
    # query is then only its name in this worker's memory, and no `sig` is asked for.
    spec: VariantSpec | None = None


class Answer(NamedTuple):
    """A complete response; `tier` (hit-*, miss, not-modified, or "" for a refusal) is for logs and metrics."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    tier: str = ""


def refusal(
    status: int, message: str, code: str, param: str | None = None, *, retry_after: int | None = None
) -> Answer:
    """The house's JSON error, never cached for long."""
    body = json_bytes(error_payload(message, code, param))
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body))), ("Cache-Control", "no-store")]
    if retry_after is not None:
        headers.append(("Retry-After", str(retry_after)))
    return Answer(status, headers, body)


def unknown(original_id: str) -> Answer:
    return refusal(404, f"No original has the id {original_id[:40]!r}.", "not_found", "id")


@dataclass(frozen=True)
class Resolved:
    """A variant and the headers that depend on it alone, worked out once: [plain, https] for a 304, for a 200."""

    variant: Variant
    not_modified: tuple[list[tuple[str, str]], list[tuple[str, str]]]
    ok: tuple[list[tuple[str, str]], list[tuple[str, str]]]
    etag: str

    @classmethod
    def of(cls, variant: Variant) -> "Resolved":
        unchanged = [caching_headers(variant) + security_headers(https) for https in (False, True)]
        content = content_headers(variant)
        ok = (unchanged[0] + content, unchanged[1] + content)
        return cls(variant, (unchanged[0], unchanged[1]), ok, variant.etag)


class Resolutions:
    """This worker's memory of what hot URLs mean: parse, signature and key are worked out once per URL.

    They are pure functions of (original, query, Accept) and the settings; the memory is dropped whenever a
    setting changes (tests) or it fills.
    """

    size = 20_000

    def __init__(self) -> None:
        self._queries: dict[tuple[str, str], tuple[VariantSpec, str | None] | Answer] = {}
        self._variants: dict[tuple[str, str, str, bool], tuple[OriginalFacts, Resolved | Answer]] = {}

    def reset(self) -> None:
        self._queries.clear()
        self._variants.clear()

    def query(self, original_id: str, query: str) -> tuple[VariantSpec, str | None] | Answer:
        """The spec and signature a query names for this original, or the 400 refusing it."""
        key = (original_id, query)
        found = self._queries.get(key)
        if found is None:
            found = self._remember(self._queries, key, _checked_query(original_id, query))
        return found

    def variant(
        self,
        facts: OriginalFacts,
        checked: tuple[VariantSpec, str | None],
        query: str,
        accept: str,
        *,
        authorised: bool = False,
    ) -> Resolved | Answer:
        """The variant (format, key, headers) for this original and Accept header, or the 403 of its signature or
        the 400/422 of its budget (or of a crop outside it). Worked out again when the facts it was worked out from
        are not these (a moved focal point): the same object while the worker remembers them, so the check is one
        comparison. `authorised`: another door has checked the request's right to it (no `sig` is looked at)."""
        key = (facts.id, query, accept, authorised)
        found = self._variants.get(key)
        if found is None or found[0] is not facts:
            if found is None or found[0] != facts:
                found = (facts, _resolved(facts, *checked, accept, authorised))
            else:  # the same facts, read again (the view's own): remembered, so that the next hit compares identity
                found = (facts, found[1])
            self._remember(self._variants, key, found)
        return found[1]

    def _remember(self, memo: dict[Any, Any], key: Any, value: Any) -> Any:
        if len(memo) >= self.size:
            memo.clear()
        memo[key] = value
        return value


def _checked_query(original_id: str, query: str) -> tuple[VariantSpec, str | None] | Answer:
    try:
        return spec_from_query(query)
    except InvalidSpec as exc:
        return refusal(exc.status, exc.message, exc.code, exc.param)


def _resolved(
    facts: OriginalFacts, spec: VariantSpec, signature: str | None, accept: str, authorised: bool
) -> Resolved | Answer:
    if not authorised:
        canonical = signing.signed_spec(spec, original_format=facts.format, has_alpha=facts.has_alpha)
        problem = signing.signature_problem(facts.id, spec, signature, canonical=canonical)
        if problem is not None:
            return refusal(403, problem[1], problem[0], "sig")
    try:
        return Resolved.of(variant_resolve(spec, facts, accept=accept))
    except InvalidSpec as exc:  # over an output budget
        return refusal(exc.status, exc.message, exc.code, exc.param)


resolutions = Resolutions()


@receiver(setting_changed)
def _forget_resolutions(**kwargs: Any) -> None:
    resolutions.reset()


def resolution(request: VariantRequest, *, facts_of: FactsOf) -> tuple[OriginalFacts, Resolved] | None:
    """The facts and the variant a request names as this worker remembers them; None when it names none (a refusal,
    an unknown original)."""
    checked = resolutions.query(request.original_id, request.query) if request.spec is None else (request.spec, None)
    facts = facts_of(request.original_id)
    if isinstance(checked, Answer) or facts is None:
        return None
    resolved = resolutions.variant(facts, checked, request.query, request.accept, authorised=request.spec is not None)
    return None if isinstance(resolved, Answer) else (facts, resolved)


def served_counts(tier: str) -> tuple[CountOf, CountOf]:
    """What a 200 from `tier` (hit-*, miss) counts, by 1 and by its body's size: its tier and its bytes."""
    return count_of(VARIANT_REQUESTS, tier), count_of(BYTES_SERVED, "variant")


_served: dict[str, CountsOf] = {}


def count_hit(tier: str, size: int) -> None:
    """A 200's counts: its tier and its body's bytes (none for a HEAD)."""
    counts = _served.get(tier)
    if counts is None:
        counts = _served[tier] = CountsOf(*served_counts(tier))
    counts.inc(1, size)


def answer(
    request: VariantRequest, *, facts_of: FactsOf, complete: bool, admit: Callable[[], None] | None = None
) -> Answer | None:
    """The response to `request`. With `complete` false (the fast path) only a hit or a 304 is answered and
    None means "ask Django"; with it true (the view) every request gets its answer, `admit` asked before a render.
    """
    started = time.perf_counter()
    checked = resolutions.query(request.original_id, request.query) if request.spec is None else (request.spec, None)
    if isinstance(checked, Answer):
        return checked if complete else None
    facts = facts_of(request.original_id)
    if facts is None:
        return unknown(request.original_id) if complete else None
    authorised = request.spec is not None
    resolved = resolutions.variant(facts, checked, request.query, request.accept, authorised=authorised)
    if isinstance(resolved, Answer):
        return resolved if complete else None
    variant = resolved.variant
    if request.if_none_match and not_modified(request.if_none_match, resolved.etag):
        count_of(VARIANT_REQUESTS, "not-modified").inc()
        return Answer(304, list(resolved.not_modified[request.https]), b"", "not-modified")
    if complete:
        fetched = _fetch(variant, admit)
        if isinstance(fetched, Answer):
            return fetched
        data, tier, rendered = fetched.data, fetched.tier, fetched.rendered
    else:
        found = cache.lookup(original_id=facts.id, key=variant.key, out_format=variant.out_format)
        if found is None:
            return None
        (data, tier), rendered = found, None
    count_hit(tier, 0 if request.head else len(data))  # a HEAD sends no body bytes
    headers = resolved.ok[request.https] + delivery_headers(data, tier, time.perf_counter() - started, rendered)
    return Answer(200, headers, b"" if request.head else data, tier)


def _fetch(variant: Variant, admit: Callable[[], None] | None) -> Any:
    """The variant's bytes from a tier or a render, or the refusal that says why not."""
    original = variant.original
    try:
        return variant_fetch(variant, admit=admit)
    except RendersThrottled as exc:
        message = f"Too many new variants from this client; try again in {exc.wait} seconds."
        return refusal(429, message, "throttled", retry_after=exc.wait)
    except StoreUnavailable as exc:
        logger.error("original %s cannot be read from the object store: %s", original.id, exc)
        message = "The file store is unavailable; try again shortly."
        return refusal(503, message, "storage_unavailable", retry_after=settings.STORAGE_RETRY_AFTER)
    except FileNotFoundError:
        logger.error("original %s (sha256 %s) has no file in the store", original.id, original.sha256)
        return refusal(404, "The original's file is missing from the store.", "original_missing")
    except RenderTimeout:
        return refusal(503, "The render ran past its time budget; try again later.", "render_timeout", retry_after=5)
    except RenderOverMemory:
        limit = settings.RENDER_MEMORY_LIMIT // 2**20
        message = f"The render needed more than the {limit} MiB a render may use; ask for a smaller variant."
        return refusal(422, message, "render_too_large")
    except RenderCrashed:
        logger.error("render of %s for %s failed in its process", variant.key, original.id)
        return refusal(503, "The render failed; try again later.", "render_failed", retry_after=5)
    except Overloaded:
        return refusal(503, "Every render slot is busy; try again shortly.", "overloaded", retry_after=2)
    except RenderError as exc:
        return refusal(422, f"The original cannot be rendered: {exc}", "corrupt_image")
