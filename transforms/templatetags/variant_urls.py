"""Template tags that write variant URLs, srcsets, whole `<img>` and `<picture>` elements, through transforms.links.

Each takes an Original, or an original's id with its `width=` and `height=` (as recorded: upright), so a separate
Django site that only knows ids can use them; with PUBLIC_BASE_URL set, the URLs are absolute. The `<img>` of
{% variant_img %} and {% picture %} carries the original's placeholder as `data-blurhash` and `data-color`, which
static/js/placeholders.js paints until the picture arrives.
"""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from django import template
from django.conf import settings
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from transforms.budgets import fits_format
from transforms.links import variant_path
from transforms.operations import REGISTRY, output_geometry
from transforms.queries import spec_from_keywords, spec_limits
from transforms.spec import PRESET, InvalidSpec, Source, VariantSpec, canonical

register = template.Library()

DENSITIES = (1, 2)  # srcset candidates, as dpr: ordinary and high-density screens
PICTURE_FORMATS = ("avif", "webp")  # <source>s of {% picture %}, most preferred first; the <img> has the default
PICTURE_WIDTHS = (320, 640, 960, 1280, 1920)
_ASPECT = re.compile(r"([1-9][0-9]{0,4})[:/]([1-9][0-9]{0,4})")
_BLURHASH = re.compile(r"[0-9A-Za-z#$%*+,\-.:;=?@\[\]^_{|}~]{6,166}")  # BlurHash's base 83 digits
_COLOR = re.compile(r"#[0-9a-fA-F]{6}")


class Picture(Protocol):
    """What the tags need of an original: its id and its recorded, upright size."""

    id: str
    width: int
    height: int


@dataclass
class Sized:
    """An original known by its id and recorded size only (another site's database)."""

    id: str
    width: int
    height: int


def picture_of(picture: Picture | str, kwargs: dict[str, Any]) -> Picture:
    """The picture a tag was given: an Original as it is, or an id with the `width=` and `height=` it takes from
    `kwargs` (the original's upright size, as recorded)."""
    if not isinstance(picture, str):
        return picture
    width, height = kwargs.pop("width", None), kwargs.pop("height", None)
    if not (isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0):
        raise template.TemplateSyntaxError(
            f"an original given by its id ({picture!r}) needs its width= and height= as whole numbers of pixels"
        )
    return Sized(picture, width, height)


def placeholder_attributes(picture: Picture, kwargs: dict[str, Any]) -> dict[str, str]:
    """`data-blurhash` and `data-color` for static/js/placeholders.js: the `blurhash=` and `dominant_color=` keywords
    when given (taken from `kwargs`; empty leaves one out), else an Original's own, as its JSON has them; with the
    picture's `data-aspect` (upright width / height), the shape the hash is painted in before the box crops it."""
    found: dict[str, str] = {}
    for keyword, attribute, pattern in (
        ("blurhash", "data-blurhash", _BLURHASH),
        ("dominant_color", "data-color", _COLOR),
    ):
        value = kwargs.pop(keyword, getattr(picture, keyword, None))
        if value in (None, ""):
            continue
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise template.TemplateSyntaxError(f"{keyword}= is the {keyword} of the original's JSON, got {value!r}")
        found[attribute] = value
    if found:
        found["data-aspect"] = f"{picture.width / picture.height:.4f}"
    return found


def shown_upright(spec: VariantSpec, placeholder: dict[str, str]) -> dict[str, str]:
    """The placeholder is of the upright picture: a variant turned or mirrored gets none rather than a wrong one."""
    return {} if spec.rotate or spec.flip else placeholder


def absolute(path: str) -> str:
    """`path` on PUBLIC_BASE_URL when it is set, so pages elsewhere can show it."""
    return f"{settings.PUBLIC_BASE_URL}{path}"


def link(picture: Picture, spec: VariantSpec) -> str:
    return absolute(variant_path(_signable(picture), spec))


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
        candidates.append((link(picture, scaled), density))
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
def variant_url(picture: Picture | str, **params: Any) -> str:
    """`{% variant_url original w=300 fmt="webp" %}`: the variant's canonical path (URL with PUBLIC_BASE_URL)."""
    if isinstance(picture, str) and "width" not in params:
        return absolute(variant_path(picture, variant_spec(params)))  # an id alone: no size is needed
    sized = picture_of(picture, params)
    return link(sized, variant_spec(params))


@register.simple_tag
def variant_srcset(picture: Picture | str, **params: Any) -> str:
    """`{% variant_srcset original w=240 %}`: "<1x URL> 1x, <2x URL> 2x" for the `srcset` attribute."""
    sized = picture_of(picture, params)
    return _srcset(srcset_candidates(sized, variant_spec(params)))


@register.simple_tag
def variant_img(picture: Picture | str, **kwargs: Any) -> SafeString:
    """`{% variant_img original w=240 h=240 fit="cover" alt="…" class="…" %}`: a lazy `<img>` with `srcset`
    and the variant's own `width`/`height`, so the page does not shift when it arrives."""
    picture = picture_of(picture, kwargs)
    placeholder = placeholder_attributes(picture, kwargs)
    params, attributes = _split(kwargs)
    spec = variant_spec(params)
    width, height = output_size(picture, spec)
    candidates = srcset_candidates(picture, spec)
    placeholder = shown_upright(spec, placeholder)
    attributes = {"loading": "lazy", "decoding": "async", "alt": "", **attributes, **placeholder}
    extra = format_html_join("", ' {}="{}"', ((name, value) for name, value in attributes.items()))
    return format_html(
        '<img src="{}" srcset="{}" width="{}" height="{}"{}>',
        link(picture, spec),
        _srcset(candidates),
        width,
        height,
        extra,
    )


@register.simple_tag
def picture(
    picture: Picture | str,
    *,
    widths: str | Iterable[int] = PICTURE_WIDTHS,
    sizes: str = "100vw",
    aspect: str | None = None,
    **kwargs: Any,
) -> SafeString:
    """`{% picture original widths="320,640,1280" sizes="(min-width: 60em) 50vw, 100vw" aspect="16:9" alt="…" %}`:
    a `<picture>` with an AVIF and a WebP `<source>` and an `<img>` in the default format (or `fmt=`), each with a
    `srcset` of the widths the picture has pixels for, `sizes`, and the largest candidate's `width`/`height`.
    `aspect` crops every candidate to that shape (`fit="cover"` unless another `fit` is given); any other variant
    parameter applies to every candidate; other keywords are attributes of the `<img>` (`loading` lazy by default).
    """
    picture = picture_of(picture, kwargs)
    placeholder = placeholder_attributes(picture, kwargs)
    params, attributes = _split(kwargs)
    for name in ("w", "h", "dpr", PRESET):
        if name in params:
            raise template.TemplateSyntaxError(f"picture takes widths= (and aspect=), not {name}=")
    candidates = _width_candidates(picture, params, _widths(widths), _aspect(aspect))
    fallback = params.get("fmt")
    sources = [
        format_html('<source type="image/{}" srcset="{}" sizes="{}">', fmt, srcset, sizes)
        for fmt in PICTURE_FORMATS
        if fmt != fallback and (not _animated(picture) or fmt != "avif")
        for srcset in [_width_srcset(picture, candidates, fmt)]
        if srcset
    ]
    largest_spec, (width, height) = candidates[-1]
    placeholder = shown_upright(largest_spec, placeholder)
    attributes = {"loading": "lazy", "decoding": "async", "alt": "", **attributes, **placeholder}
    extra = format_html_join("", ' {}="{}"', ((name, value) for name, value in attributes.items()))
    img = format_html(
        '<img src="{}" srcset="{}" sizes="{}" width="{}" height="{}"{}>',
        link(picture, largest_spec),
        _width_srcset(picture, candidates, None),
        sizes,
        width,
        height,
        extra,
    )
    return format_html("<picture>{}{}</picture>", format_html_join("", "{}", ((source,) for source in sources)), img)


def _widths(widths: str | Iterable[int]) -> list[int]:
    parts: list[Any] = list(widths.split(",") if isinstance(widths, str) else widths)
    try:
        found = sorted({int(str(part).strip()) for part in parts})
    except ValueError:
        found = []
    if not found or found[0] < 1:
        raise template.TemplateSyntaxError(f"picture's widths= are whole numbers of pixels, got {widths!r}")
    return found


def _aspect(aspect: str | None) -> tuple[int, int] | None:
    if aspect is None:
        return None
    found = _ASPECT.fullmatch(aspect)
    if found is None:
        raise template.TemplateSyntaxError(f"picture's aspect= is WIDTH:HEIGHT, like 16:9, got {aspect!r}")
    return int(found.group(1)), int(found.group(2))


def _width_candidates(
    picture: Picture, params: dict[str, Any], widths: list[int], aspect: tuple[int, int] | None
) -> list[tuple[VariantSpec, tuple[int, int]]]:
    """(spec, output size) for each width that adds pixels (pictures are never enlarged), narrowest first."""
    candidates: list[tuple[VariantSpec, tuple[int, int]]] = []
    for width in widths:
        box: dict[str, Any] = {"w": width}
        if aspect is not None:
            box = {"w": width, "h": max(1, round(width * aspect[1] / aspect[0])), "fit": params.get("fit", "cover")}
        spec = variant_spec({**params, **box})
        size = output_size(picture, spec)
        if candidates and size[0] <= candidates[-1][1][0]:
            break
        candidates.append((spec, size))
    return candidates


def _width_srcset(picture: Picture, candidates: list[tuple[VariantSpec, tuple[int, int]]], fmt: str | None) -> str:
    """`<URL> <width>w` of each candidate in `fmt` (as given: None) that the format can hold."""
    written = []
    for spec, size in candidates:
        if fmt is not None:
            if not fits_format(size, fmt):
                continue
            spec = canonical({**dict(spec.items()), "fmt": fmt}, spec_limits())
        written.append(f"{link(picture, spec)} {size[0]}w")
    return ", ".join(written)


def _animated(picture: Picture) -> bool:
    """AVIF would be a still of an animation; an original known by id only is taken as a still."""
    return int(getattr(picture, "frames", 1) or 1) > 1
