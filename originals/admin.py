"""Admin registrations for users and originals: the originals listed with thumbnails and their facts, each with its
picture and focal point, which is the one thing an editor may change here (through the service, as the API does)."""

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString

from . import links, services
from .models import Original, User

admin.site.register(User, UserAdmin)

THUMBNAIL_SIDE = 80  # CSS pixels in the list; the picture itself is the `thumbnail` preset (or the smallest)
PREVIEW_WIDTH = 480  # CSS pixels on the change page


def _preset_url(original: Original, *preferred: str) -> str:
    """A ready-made variant of the original: the first preferred preset that is configured (presets are public even
    when signing is on), else the picture at full size."""
    full, named = links.variant_links(original)
    return next((named[name] for name in preferred if name in named), full)


def _fitted(width: int, height: int, side: int) -> tuple[int, int]:
    scale = min(1.0, side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _shape(original: Original, url: str) -> tuple[int, int]:
    """The width and height a preset's URL draws, as far as its box says: a crop (`fit=cover`, `fill`) is the box's
    shape, anything else keeps the picture's own; so the <img> is never stretched out of its shape."""
    query = {name: values[-1] for name, values in parse_qs(urlsplit(url).query).items()}
    if query.get("fit") in ("cover", "fill") and query.get("w", "").isdigit() and query.get("h", "").isdigit():
        return int(query["w"]), int(query["h"])
    return original.width, original.height


class FocalPointField(forms.DecimalField):
    """A fraction from 0 to 1 kept to a ten-thousandth, rounded half to even as the API's PATCH rounds it."""

    STEP = Decimal("0.0001")

    def __init__(self, **kwargs: Any) -> None:
        kwargs.pop("max_digits", None), kwargs.pop("decimal_places", None)  # rounded instead of refused
        super().__init__(min_value=Decimal(0), max_value=Decimal(1), **kwargs)

    def to_python(self, value: Any) -> Decimal | None:  # type: ignore[override]  # the stubs say int for all
        number = super().to_python(value)
        return None if number is None else number.quantize(self.STEP, rounding=ROUND_HALF_EVEN)


class OriginalForm(forms.ModelForm):
    class Meta:
        model = Original
        fields = ["focal_x", "focal_y"]
        field_classes = {"focal_x": FocalPointField, "focal_y": FocalPointField}


@admin.register(Original)
class OriginalAdmin(admin.ModelAdmin):
    list_display = [
        "thumbnail", "id", "filename", "format", "size", "bytes", "frames", "focal_point", "owner", "created"
    ]  # fmt: skip
    list_display_links = ["thumbnail", "id"]
    list_filter = ["format", "has_alpha", "created"]
    search_fields = ["id", "sha256", "filename"]
    form = OriginalForm
    list_per_page = 50
    list_select_related = ["owner"]
    _facts = [f.name for f in Original._meta.fields if f.name not in ("focal_x", "focal_y")]
    fields = ["preview", "focal_x", "focal_y", *_facts]
    readonly_fields = ["preview", *_facts]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # originals arrive as uploads (the page, the API), where their bytes are inspected

    @admin.display(description="picture")
    def thumbnail(self, original: Original) -> SafeString:
        url = _preset_url(original, "thumbnail")
        width, height = _fitted(*_shape(original, url), THUMBNAIL_SIDE)
        return format_html(
            '<img src="{}" width="{}" height="{}" alt="{}" loading="lazy" decoding="async">',
            url,
            width,
            height,
            original.filename or original.id,
        )

    @admin.display(description="size")
    def size(self, original: Original) -> str:
        return f"{original.width} x {original.height}"

    @admin.display(description="focal point")
    def focal_point(self, original: Original) -> str:
        if original.focal_x is None or original.focal_y is None:
            return "—"
        return f"{original.focal_x:.2f}, {original.focal_y:.2f}"

    @admin.display(description="picture and focal point")
    def preview(self, original: Original) -> SafeString:
        """The picture, and its focal point as a ring over it: one SVG whose geometry is in attributes (no inline
        style, so it holds under a strict style-src)."""
        width, height = _fitted(original.width, original.height, PREVIEW_WIDTH)
        marker = SafeString("")
        if original.focal_x is not None and original.focal_y is not None:
            x, y = f"{float(original.focal_x) * width:.1f}", f"{float(original.focal_y) * height:.1f}"
            marker = format_html(
                '<circle class="focal-point" cx="{x}" cy="{y}" r="14" fill="none" stroke="#fff" stroke-width="3"/>'
                '<circle cx="{x}" cy="{y}" r="14" fill="none" stroke="#000" stroke-width="1"/>',
                x=x,
                y=y,
            )
        return format_html(
            '<svg width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" aria-label="{label}">'
            '<image href="{src}" width="{w}" height="{h}"/>{marker}</svg>',
            w=width,
            h=height,
            label=f"{original.filename or original.id}, focal point marked" if marker else original.filename,
            src=_preset_url(original, "medium", "small"),
            marker=marker,
        )

    def save_model(self, request: HttpRequest, obj: Original, form: forms.ModelForm, change: bool) -> None:
        """Only the focal point is editable, and it is saved as the API saves it: so the variants that keep it are
        dropped on every host."""
        data: dict[str, Any] = form.cleaned_data
        services.original_focus(original=obj, focal_x=data.get("focal_x"), focal_y=data.get("focal_y"))
