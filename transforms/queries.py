"""The one Django-aware way a variant query becomes a spec: the settings' limits and presets, `sig` apart.

The view, the WSGI fast path, the URL builder, the template tags and `warm_variants` all come through here, so
each refuses exactly what `/image/` refuses, with the same words.
"""

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from django.conf import settings

from . import signing
from .params import InvalidSpec, Limits
from .spec import VariantSpec, parse

MAX_QUERY_LENGTH = 1024
SIGNATURE = "sig"


def spec_limits() -> Limits:
    return Limits(max_side=settings.MAX_OUTPUT_SIDE)


def spec_from_pairs(pairs: Iterable[tuple[str, str]], *, ignore: frozenset[str] = frozenset()) -> VariantSpec:
    """The canonical spec of decoded query pairs, presets included; InvalidSpec naming the problem."""
    return parse(pairs, limits=spec_limits(), ignore=ignore, presets=signing.presets())


def spec_from_query(query: str) -> tuple[VariantSpec, str | None]:
    """The canonical spec and the `sig` of a raw query string, as `/image/<id>/?<query>` reads it."""
    if len(query) > MAX_QUERY_LENGTH:
        raise InvalidSpec("query", f"The query is longer than {MAX_QUERY_LENGTH} characters.", "query_too_long")
    pairs = parse_qsl(query, keep_blank_values=True, separator="&")
    signatures = [value for name, value in pairs if name == SIGNATURE]
    if len(signatures) > 1:
        raise InvalidSpec(SIGNATURE, "sig is given more than once; give it once", "repeated_parameter")
    spec = spec_from_pairs(pairs, ignore=frozenset({SIGNATURE}))
    return spec, signatures[0] if signatures else None


def spec_from_keywords(params: Mapping[str, Any]) -> VariantSpec:
    """The spec of template-tag keyword arguments (`w=300`, `preset="thumbnail"`); None and "" mean not given."""
    return spec_from_pairs((name, str(value)) for name, value in params.items() if value is not None and value != "")
