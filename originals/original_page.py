"""An original's page: its facts, and a URL builder whose every URL the server writes (and may sign)."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from transforms import signing
from transforms.links import variant_path
from transforms.spec import OUTPUT_FORMATS, InvalidSpec, VariantSpec, parse

from .errors import DarkroomError
from .models import Original
from .pages import PageView, decimal_size, original_or_404
from .visibility import is_owner_or_staff, may_download

BUILDER_FIELDS = ("w", "h", "fit", "rotate", "flip", "fmt", "q")
BUILDER_DEFAULTS = {"w": "640"}
BUILDER_CHOICES = {
    "fit": ("contain", "cover", "fill", "pad"),
    "rotate": ("0", "90", "180", "270"),
    "flip": ("", "h", "v", "hv"),
    "fmt": ("", *OUTPUT_FORMATS, "auto"),
}


def _builder_values(request: HttpRequest, defaults: dict[str, str] | None = None) -> dict[str, str]:
    given = {name: request.GET.get(name, "").strip() for name in BUILDER_FIELDS if name in request.GET}
    return given or dict(defaults or {})


def _builder_spec(values: dict[str, str]) -> VariantSpec:
    return parse([(name, value) for name, value in values.items() if value], max_side=settings.MAX_OUTPUT_SIDE)


def may_sign(request: HttpRequest, original: Original) -> bool:
    """Signed links to any variant only for who may delete the original: a signer open to all would undo signing."""
    return is_owner_or_staff(request.user, original)


def builder_link(request: HttpRequest, original: Original, spec: VariantSpec) -> str:
    """The variant's path as the builder shows it, signed when the server wants it and this visitor may have it."""
    mode = settings.URL_SIGNING
    if mode == "off" or may_sign(request, original) or (mode == "presets" and signing.is_public(spec)):
        return variant_path(original.id, spec)
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


def _builder_preview(request: HttpRequest, original: Original, values: dict[str, str]) -> tuple[str, str]:
    """(the variant's path, or "" when there is none to show; why not)."""
    try:
        return builder_link(request, original, _builder_spec(values)), ""
    except InvalidSpec as exc:
        return "", exc.message
    except DarkroomError as exc:
        return "", exc.message


class OriginalPage(PageView):
    """`/originals/<id>/`: an original's facts and a URL builder with a live preview (a GET form without JS)."""

    def get(self, request: HttpRequest, original_id: str) -> HttpResponse:
        original = original_or_404(request, original_id)
        values = _builder_values(request, BUILDER_DEFAULTS)
        preview, problem = _builder_preview(request, original, values)
        context = {
            "original": original,
            "may_download": may_download(request.user, original),
            "size": decimal_size(original.bytes),
            "exact_bytes": f"{original.bytes:,}",
            "values": values,
            "choices": BUILDER_CHOICES,
            "max_side": settings.MAX_OUTPUT_SIDE,
            "preview_url": preview,
            "absolute_url": request.build_absolute_uri(preview) if preview else "",
            "builder_error": problem,
        }
        return render(request, "originals/original.html", context)


class VariantLink(PageView):
    """`/originals/<id>/url/?w=…`: the builder's canonical variant URL as JSON, or the refusal's JSON."""

    def get(self, request: HttpRequest, original_id: str) -> JsonResponse:
        original = original_or_404(request, original_id)
        try:
            spec = _builder_spec(_builder_values(request))
        except InvalidSpec as exc:
            raise DarkroomError(exc.message, code=exc.code, param=exc.param) from exc
        path = builder_link(request, original, spec)
        response = JsonResponse({"url": path, "absolute_url": request.build_absolute_uri(path)})
        response["Cache-Control"] = "private, no-store"  # signed or not depends on who asks
        return response
