"""Template tags that write variant URLs, srcsets and whole `<img>` elements, all through transforms.links."""

from collections.abc import Mapping
from typing import Any, Protocol

from django import template
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from transforms.links import variant_path
from transforms.operations import REGISTRY, output_geometry
from transforms.queries import spec_from_keywords, spec_limits
from transforms.spec import PRESET, InvalidSpec, Source, VariantSpec, canonical

register = template.Library()

DENSITIES = (1, 2)  # srcset candidates, as dpr: ordinary and high-density screens


class Picture(Protocol):
    """What the tags need of an original: its id and its recorded, upright size."""

    id: str
    width: int
    height: int


def _signable(picture: Picture) -> Any:
    """The picture itself when it says its format (an Original does): its links then carry the canonical signature."""
    return picture if hasattr(picture, "format") and hasattr(picture, "has_alpha") else picture.id


def variant_spec(params: Mapping[str, Any]) -> VariantSpec:
    """The canonical spec for a template's keyword arguments (`preset="thumbnail"` too), checked like a URL's query."""
    return spec_from_keywords(params)


def output_size(picture: Picture, spec: VariantSpec) -> tuple[int, int]:
    """The pixel size the variant will have, from the recorded size alone: no file is opened. InvalidSpec, as
    /image/ would answer, when the spec does not fit the picture (a crop outside it)."""
    size = (picture.width, picture.height)
    return output_geometry(size, spec.resolved(Source(*size)))[0]


def at_density(spec: VariantSpec, density: float) -> VariantSpec | None:
    """`spec` at `dpr=density` (its w and h multiplied, canonically), or None when a side would pass the largest."""
    try:
        return canonical({**dict(spec.items()), "dpr": density}, spec_limits())
    except InvalidSpec:
        return None


def srcset_candidates(picture: Picture, spec: VariantSpec) -> list[tuple[str, int]]:
    """(URL, density) pairs; a density is left out when it would not add pixels (pictures are never enlarged)."""
    candidates: list[tuple[str, int]] = []
    previous: tuple[int, int] | None = None
    for density in DENSITIES:
        scaled = at_density(spec, density)
        if scaled is None:
            break
        size = output_size(picture, scaled)
        if size == previous:
            break
        candidates.append((variant_path(_signable(picture), scaled), density))
        previous = size
    return candidates


def _srcset(candidates: list[tuple[str, int]]) -> str:
    return ", ".join(f"{url} {density}x" for url, density in candidates)


def _split(kwargs: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    names = {*REGISTRY.params, PRESET}  # every parameter the registry knows is a keyword of the tags
    spec = {name: value for name, value in kwargs.items() if name in names}
    attributes = {name: value for name, value in kwargs.items() if name not in names}
    return spec, attributes


@register.simple_tag
def variant_url(picture: Picture, **params: Any) -> str:
    """`{% variant_url original w=300 fmt="webp" %}`: the variant's canonical path."""
    return variant_path(_signable(picture), variant_spec(params))


@register.simple_tag
def variant_srcset(picture: Picture, **params: Any) -> str:
    """`{% variant_srcset original w=240 %}`: "<1x URL> 1x, <2x URL> 2x" for the `srcset` attribute."""
    return _srcset(srcset_candidates(picture, variant_spec(params)))


@register.simple_tag
def variant_img(picture: Picture, **kwargs: Any) -> SafeString:
    """`{% variant_img original w=240 h=240 fit="cover" alt="…" class="…" %}`: a lazy `<img>` with `srcset`
    and the variant's own `width`/`height`, so the page does not shift when it arrives."""
    params, attributes = _split(kwargs)
    spec = variant_spec(params)
    width, height = output_size(picture, spec)
    candidates = srcset_candidates(picture, spec)
    attributes = {"loading": "lazy", "decoding": "async", "alt": "", **attributes}
    extra = format_html_join("", ' {}="{}"', ((name, value) for name, value in attributes.items()))
    return format_html(
        '<img src="{}" srcset="{}" width="{}" height="{}"{}>',
        variant_path(_signable(picture), spec),
        _srcset(candidates),
        width,
        height,
        extra,
    )
