"""The REST API for originals: upload, list, show, delete, and download the untouched bytes."""

import math
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.http import HttpResponseBase
from django.urls import reverse
from drf_spectacular.utils import extend_schema, extend_schema_field, inline_serializer
from rest_framework import exceptions, generics, permissions, serializers, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle, BaseThrottle, UserRateThrottle
from rest_framework.views import APIView

from server.errors import DarkroomError
from server.metrics import UPLOAD_REFUSALS, UPLOADS

from . import selectors, services, visibility
from .downloads import file_response
from .links import variant_links
from .listing import OriginalFilter, OriginalPagination, check_list_query
from .models import Original
from .sources import requested_source


class OriginalOutput(serializers.ModelSerializer):
    url = serializers.SerializerMethodField(help_text="The variant base URL: add ?w=…&fmt=… to it.")
    focal_x = serializers.FloatField(
        read_only=True,
        allow_null=True,
        help_text="The focal point's distance from the left edge, a fraction of the upright width; null when unset.",
    )
    focal_y = serializers.FloatField(
        read_only=True, allow_null=True, help_text="The focal point's distance from the top, a fraction of the height."
    )
    blurhash = serializers.CharField(
        read_only=True,
        allow_null=True,
        help_text="A BlurHash (https://blurha.sh) of the upright picture, to paint while it loads; null until made.",
    )
    dominant_color = serializers.CharField(
        read_only=True, allow_null=True, help_text='The dominant colour, as "#rrggbb"; null when blurhash is.'
    )
    original_url = serializers.SerializerMethodField(
        help_text="The untouched uploaded bytes, EXIF and all; null when you may not download them (README, Security)."
    )
    owner = serializers.SerializerMethodField()
    variants = serializers.SerializerMethodField(help_text="Example variant URLs, ready for <img> and srcset.")

    class Meta:
        model = Original
        fields = [
            "id",
            "url",
            "original_url",
            "width",
            "height",
            "format",
            "mime_type",
            "bytes",
            "sha256",
            "frames",
            "has_alpha",
            "filename",
            "owner",
            "created",
            "focal_x",
            "focal_y",
            "blurhash",
            "dominant_color",
            "variants",
        ]

    def _absolute(self, path: str) -> str:
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path

    def get_url(self, obj: Original) -> str:
        return self._absolute(variant_links(obj)[0])

    def get_variants(self, obj: Original) -> dict[str, str]:
        return {name: self._absolute(path) for name, path in variant_links(obj)[1].items()}

    def get_original_url(self, obj: Original) -> str | None:
        request = self.context.get("request")
        if request is not None and not visibility.may_download(request.user, obj):
            return None
        return self._absolute(reverse("original-file", args=[obj.id]))

    def get_owner(self, obj: Original) -> str | None:
        return obj.owner.get_username() if obj.owner is not None else None


@extend_schema_field({"type": "number", "minimum": 0, "maximum": 1, "nullable": True})
class UnitIntervalField(serializers.Field):
    """A JSON number from 0 to 1, kept to four decimal places (a ten-thousandth of a side); null clears it."""

    STEP = Decimal("0.0001")
    default_error_messages = {
        "invalid": "must be a JSON number from 0 to 1, or null to clear the focal point",
        "max_value": "must be from 0 to 1 (a fraction of the picture's side)",
    }

    def to_internal_value(self, data: Any) -> Decimal:
        if isinstance(data, bool) or not isinstance(data, int | float) or not math.isfinite(data):
            self.fail("invalid")
        if not 0 <= data <= 1:
            self.fail("max_value")
        return Decimal(repr(data)).quantize(self.STEP, rounding=ROUND_HALF_EVEN)

    def to_representation(self, value: Decimal) -> float:
        return float(value)


def not_an_object() -> DarkroomError:
    return DarkroomError(
        'The body must be a JSON object, e.g. {"focal_x": 0.5, "focal_y": 0.3}.', code="malformed_request"
    )


class FocalPointInput(serializers.Serializer):
    """PATCH of an original: its focal point, the one thing about it that changes."""

    focal_x = UnitIntervalField(
        required=False, allow_null=True, help_text="From the left edge, a fraction of the upright width (0 to 1)."
    )
    focal_y = UnitIntervalField(
        required=False, allow_null=True, help_text="From the top edge, a fraction of the upright height (0 to 1)."
    )

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        """Strict: a JSON object of known fields, at least one, and never only half of a point."""
        if not isinstance(data, dict):
            raise not_an_object()
        for name in data:
            if name not in self.fields:
                writable = "PATCH changes focal_x and focal_y only"
                if name in OriginalOutput.Meta.fields:
                    raise DarkroomError(f"{name} cannot be changed; {writable}.", code="invalid_parameter", param=name)
                raise DarkroomError(f"{name[:40]!r} is not a field; {writable}.", code="unknown_parameter", param=name)
        if not data:
            raise DarkroomError(
                "Give focal_x and focal_y (fractions from 0 to 1), or both as null to clear the focal point.",
                code="missing_parameter",
                param="focal_x",
            )
        return super().to_internal_value(data)


def focal_point_after(original: Original, changes: dict[str, Any]) -> tuple[Decimal | None, Decimal | None]:
    """The point once `changes` apply: both values or neither, else a 400 naming the one that is missing."""
    x = changes.get("focal_x", original.focal_x)
    y = changes.get("focal_y", original.focal_y)
    if (x is None) != (y is None):
        missing, given = ("focal_y", "focal_x") if y is None else ("focal_x", "focal_y")
        raise DarkroomError(
            f"A focal point has both coordinates: give {missing} with {given} (or both as null to clear it).",
            code="missing_parameter",
            param=missing,
        )
    return x, y


class OriginalInput(serializers.Serializer):
    file = serializers.FileField(
        required=False, allow_empty_file=True, use_url=False, help_text="The image, as multipart/form-data."
    )
    url = serializers.URLField(
        required=False,
        help_text="Instead of file: the image's http(s) address, which the server fetches (hosts of IMPORT_URL_HOSTS "
        "only, public addresses only). Not with file.",
    )


class ImportInput(serializers.Serializer):
    url = serializers.URLField(
        help_text="The image's http(s) address; the server fetches it and stores it as an upload (IMPORT_URL_HOSTS)."
    )


class CanUpload(permissions.BasePermission):
    message = "Log in (session or JWT) to upload; anonymous uploads are off on this server."

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.method != "POST":
            return True
        return bool(settings.ANONYMOUS_UPLOADS or (request.user and request.user.is_authenticated))


class IsOwnerOrStaff(permissions.BasePermission):
    message = "Only the uploader or a staff user may change or delete this original."

    def has_object_permission(self, request: Request, view: Any, obj: Original) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return True
        return visibility.is_owner_or_staff(request.user, obj)


class AnonUploadThrottle(AnonRateThrottle):
    scope = "anon_upload"

    def get_rate(self) -> str:
        return str(settings.ANON_UPLOAD_RATE)  # read per request, so a settings change takes effect


class UserUploadThrottle(UserRateThrottle):
    scope = "user_upload"

    def get_rate(self) -> str:
        return str(settings.USER_UPLOAD_RATE)

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        # DRF's user throttle falls back to the IP for anonymous requests; they have their own throttle.
        if not request.user or not request.user.is_authenticated:
            return None
        return super().get_cache_key(request, view)


def original_or_404(original_id: str, request: Request) -> Original:
    """The original, if this request's user may see it; else the 404 of an unknown id, which confirms nothing."""
    original = selectors.original_get(original_id, viewer=request.user)
    if original is None:
        raise DarkroomError(f"No original has the id {original_id!r}.", code="not_found", param="id", status=404)
    return original


def check_may_download(request: Request, original: Original) -> None:
    if visibility.may_download(request.user, original):
        return
    why = "The untouched file keeps its EXIF, GPS included, so only its uploader and staff may download it"
    if not request.user.is_authenticated:
        raise exceptions.NotAuthenticated(f"{why}: log in as one of them, or use a variant (url), which has none.")
    raise exceptions.PermissionDenied(f"{why}; use a variant (url), which carries no metadata.")


class OriginalListCreateApi(generics.ListAPIView):
    """GET: originals, newest first, filterable. POST: upload one image (multipart field `file`), or import one by
    URL (`url`, as a form field or a JSON object)."""

    serializer_class = OriginalOutput
    filterset_class = OriginalFilter
    pagination_class = OriginalPagination
    permission_classes = [CanUpload]
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    def get_queryset(self) -> QuerySet[Original]:
        return selectors.original_list(viewer=self.request.user)

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        check_list_query(request)
        return visibility.mark_personal(super().get(request, *args, **kwargs))

    def get_throttles(self) -> list[BaseThrottle]:
        return [AnonUploadThrottle(), UserUploadThrottle()] if self.request.method == "POST" else []

    @extend_schema(
        request={"multipart/form-data": OriginalInput, "application/json": ImportInput},
        responses={201: OriginalOutput, 200: OriginalOutput},
        description="Upload an image (file), or import one by URL (url: fetched by the server, from the hosts of "
        "IMPORT_URL_HOSTS and public addresses only). The same bytes again from the same owner answer 200 with the "
        "original already stored.",
    )
    def post(self, request: Request) -> Response:
        owner = request.user if request.user.is_authenticated else None
        try:
            source = requested_source(request)
            if isinstance(source, str):
                original, created = services.original_import(url=source, owner=owner)
            else:
                original, created = services.original_create(upload=source, owner=owner)
        except DarkroomError as exc:
            UPLOAD_REFUSALS.labels(code=exc.code).inc()
            raise
        UPLOADS.labels(outcome="created" if created else "deduplicated").inc()
        body = OriginalOutput(original, context={"request": request}).data
        location = request.build_absolute_uri(reverse("original-detail", args=[original.id]))
        return Response(
            body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK, headers={"Location": location}
        )


class OriginalDetailApi(generics.RetrieveDestroyAPIView):
    """GET: one original's facts. PATCH: its focal point. DELETE: remove it, its file when unused, and all its
    variants."""

    serializer_class = OriginalOutput
    permission_classes = [permissions.IsAuthenticatedOrReadOnly, IsOwnerOrStaff]
    parser_classes = [JSONParser]
    lookup_url_kwarg = "original_id"

    @extend_schema(
        request=FocalPointInput,
        responses={200: OriginalOutput},
        description="Set the focal point (focal_x and focal_y, fractions 0 to 1 of the upright picture), or clear it "
        "with both null: what variants with gravity=focal keep. The uploader or staff only.",
    )
    def patch(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        original = self.get_object()
        if not isinstance(request.data, dict):
            raise not_an_object()  # DRF would call a JSON null "no data", and a list a list
        given = FocalPointInput(data=request.data)
        given.is_valid(raise_exception=True)
        focal_x, focal_y = focal_point_after(original, dict(given.validated_data))
        services.original_focus(original=original, focal_x=focal_x, focal_y=focal_y)
        return visibility.mark_personal(Response(OriginalOutput(original, context={"request": request}).data))

    def get_object(self) -> Original:
        original = original_or_404(self.kwargs["original_id"], self.request)
        self.check_object_permissions(self.request, original)
        return original

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return visibility.mark_personal(super().get(request, *args, **kwargs))

    def perform_destroy(self, instance: Original) -> None:
        services.original_delete(original=instance)


class OriginalFileApi(APIView):
    """The untouched original, byte for byte, with its recorded MIME type: 304 for If-None-Match, 206 for one byte
    range, named as uploaded."""

    permission_classes = [permissions.AllowAny]
    renderer_classes = [JSONRenderer]  # only refusals are rendered; one renderer adds no `Vary: Accept`

    def perform_authentication(self, request: Request) -> None:
        """Lazy: a file everyone may have is served without looking at who asks, so no session is read and the
        response does not `Vary: Cookie`."""

    def perform_content_negotiation(self, request: Request, force: bool = False) -> tuple[BaseRenderer, str]:
        # An <img> or a download manager asks for image/* or anything; refusals are JSON whatever it asks.
        return super().perform_content_negotiation(request, force=True)

    def _downloadable(self, request: Request, original_id: str) -> Original:
        if not visibility.files_are_public():
            original = original_or_404(original_id, request)
            check_may_download(request, original)
            return original
        found = selectors.original_get(original_id)  # every original's file is everyone's: no viewer to ask
        if found is None:
            raise DarkroomError(f"No original has the id {original_id!r}.", code="not_found", param="id", status=404)
        return found

    @extend_schema(responses={(200, "application/octet-stream"): inline_serializer("Binary", {})})
    def get(self, request: Request, original_id: str) -> HttpResponseBase:
        original = self._downloadable(request, original_id)
        try:
            file, size = services.original_file(original)
        except FileNotFoundError as exc:
            raise DarkroomError(
                "The original's file is missing from the store.", code="original_missing", status=404
            ) from exc
        return file_response(request, original, file, size, public=visibility.files_are_public())


@extend_schema(exclude=True)
class ApiRoot(APIView):
    """`/api/v1/`: where everything is. `{id}` stands for an original's id."""

    permission_classes = [permissions.AllowAny]
    PLACEHOLDER = "ORIGINAL_ID"  # replaced by {id} once the URL is whole: reverse() would percent-encode braces

    def get(self, request: Request) -> Response:
        one = [self.PLACEHOLDER]
        paths = {
            "originals": reverse("original-list"),
            "original": reverse("original-detail", args=one),
            "original_file": reverse("original-file", args=one),
            "variants": reverse("image", args=one),  # add ?w=…&fmt=… (README, Variants)
            "token": reverse("token-obtain"),
            "token_refresh": reverse("token-refresh"),
            "schema": reverse("schema"),
            "docs": reverse("api-docs"),
        }
        return Response(
            {name: request.build_absolute_uri(path).replace(self.PLACEHOLDER, "{id}") for name, path in paths.items()}
        )
