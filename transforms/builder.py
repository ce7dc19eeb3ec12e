"""An original's page: its facts, and a URL builder whose every URL the server writes (and may sign).

It lives with the variants, whose vocabulary it offers (a field per registered parameter); it reads the original
through the originals app, which knows nothing of it."""

from typing import Any
from urllib.parse import parse_qsl

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from originals.models import Original
from originals.pages import PageView, decimal_size, original_or_404
from originals.visibility import is_owner_or_staff, may_download, uploaded_here
from server.errors import COMPACT_JSON, DarkroomError

from . import signing
from .links import variant_path
from .operations import REGISTRY, output_geometry
from .queries import spec_from_pairs, spec_limits
from .spec import InvalidSpec, VariantSpec
from .variants import OriginalFacts

BUILDER_DEFAULTS = [("w", "640")]


def _builder_pairs(request: HttpRequest, defaults: list[tuple[str, str]] | None = None) -> list[tuple[str, str]]:
    """The query as /image/ would read it, but for the form's blank fields (a field left empty is not given)."""
    pairs = parse_qsl(request.META.get("QUERY_STRING", ""), keep_blank_values=True)
    given = [(name, value.strip()) for name, value in pairs if value.strip()]
    if not pairs:
        return list(defaults or [])
    return given


def _number(value: float) -> str:
    """A bound or step as a number input's attribute: `8192`, `0.5`, never `8192.0` or `1e+06`."""
    return str(int(value)) if value == int(value) else str(value)


def builder_fields(values: dict[str, str]) -> list[dict[str, Any]]:
    """One form field per registered parameter: a select of its canonical values, or a number or text input."""
    limits = spec_limits()
    fields = []
    for param in REGISTRY.params.values():
        bounds = param.bounds(limits)
        fields.append(
            {
                "name": param.name,
                "label": param.label or param.name,
                "placeholder": param.placeholder,
                "value": values.get(param.name, ""),
                "options": param.offer(),
                "min": _number(bounds[0]) if bounds else None,
                "max": _number(bounds[1]) if bounds else None,
                "step": _number(param.increment()),
                "inputmode": "numeric" if param.increment() == 1 else "decimal",
            }
        )
    return fields


def may_sign(request: HttpRequest, original: Original) -> bool:
    """Signed links to any variant only for who may delete the original, or for the anonymous session that just
    uploaded it (originals/visibility.py): a signer open to all would undo signing."""
    return is_owner_or_staff(request.user, original) or uploaded_here(request, original)


def builder_link(request: HttpRequest, original: Original, spec: VariantSpec) -> str:
    """The variant's path as the builder shows it, signed when the server wants it and this visitor may have it."""
    mode = settings.URL_SIGNING
    if mode == "off" or may_sign(request, original) or (mode == "presets" and signing.is_public(spec)):
        return variant_path(original, spec)
    if mode == "presets":
        served = "only presets and the widths " + ", ".join(map(str, settings.WIDTH_LADDER))
    else:
        served = "no variant"
    raise DarkroomError(
        f"Without a signature this server serves {served}; log in as the uploader or a staff user to get "
        "this URL signed.",
        code="signature_required",
        param="sig",
        status=403,
    )


def builder_spec(original: Original, pairs: list[tuple[str, str]]) -> VariantSpec:
    """The spec of the builder's fields, refused as /image/ would refuse it for this original (a crop outside it)."""
    spec = spec_from_pairs(pairs)
    spec.resolved(OriginalFacts.of(original).source())  # the link keeps the spelling; the check needs the facts
    return spec


def _builder_preview(request: HttpRequest, original: Original, pairs: list[tuple[str, str]]) -> tuple[str, str]:
    """(the variant's path, or "" when there is none to show; why not)."""
    try:
        return builder_link(request, original, builder_spec(original, pairs)), ""
    except InvalidSpec as exc:
        return "", exc.message
    except DarkroomError as exc:
        return "", exc.message


FOCAL_PICTURE = VariantSpec(w=320, h=320)  # the whole upright picture, small enough for the side column


def focal_picker(request: HttpRequest, original: Original) -> dict[str, Any]:
    """The focal point as the page shows it, and (for who may move it) the picture to click and its size."""
    point = None
    if original.focal_x is not None and original.focal_y is not None:
        point = {"x": original.focal_x, "y": original.focal_y, "left": f"{float(original.focal_x) * 100:.2f}%",
                 "top": f"{float(original.focal_y) * 100:.2f}%"}  # fmt: skip
    if not may_sign(request, original):
        return {"focal": point, "focal_picture": None}
    width, height = output_geometry((original.width, original.height), FOCAL_PICTURE)[0]
    picture = {"url": variant_path(original.id, FOCAL_PICTURE), "width": width, "height": height}
    return {"focal": point, "focal_picture": picture}


class OriginalPage(PageView):
    """`/originals/<id>/`: an original's facts and a URL builder with a live preview (a GET form without JS)."""

    def get(self, request: HttpRequest, original_id: str) -> HttpResponse:
        original = original_or_404(request, original_id)
        pairs = _builder_pairs(request, BUILDER_DEFAULTS)
        preview, problem = _builder_preview(request, original, pairs)
        context = {
            "original": original,
            "may_download": may_download(request.user, original),
            "size": decimal_size(original.bytes),
            "exact_bytes": f"{original.bytes:,}",
            "fields": builder_fields(dict(pairs)),
            "preview_url": preview,
            "absolute_url": request.build_absolute_uri(preview) if preview else "",
            "builder_error": problem,
            **focal_picker(request, original),
        }
        return render(request, "originals/original.html", context)


class VariantLink(PageView):
    """`/originals/<id>/url/?w=…`: the builder's canonical variant URL as JSON, or the refusal's JSON."""

    def get(self, request: HttpRequest, original_id: str) -> JsonResponse:
        original = original_or_404(request, original_id)
        try:
            spec = builder_spec(original, _builder_pairs(request))
        except InvalidSpec as exc:
            raise DarkroomError(exc.message, code=exc.code, param=exc.param) from exc
        path = builder_link(request, original, spec)
        response = JsonResponse(
            {"url": path, "absolute_url": request.build_absolute_uri(path)}, json_dumps_params=COMPACT_JSON
        )
        response["Cache-Control"] = "private, no-store"  # signed or not depends on who asks
        return response
