"""The list of originals as the API reads its query: filters and pages, as strict as a variant's query."""

from datetime import UTC, datetime
from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request

from server.errors import DarkroomError

from .inspection import ACCEPTED_FORMATS
from .models import Original


class UtcDateTimeField(django_filters.fields.IsoDateTimeField):
    """An ISO 8601 date and time that exists in UTC too: 0001-01-01T00:00+01:00 does not, and the database
    would fail on it instead of refusing it."""

    def to_python(self, value: Any) -> datetime | None:
        moment = super().to_python(value)
        try:
            return moment.astimezone(UTC) if moment is not None else None
        except OverflowError as exc:
            raise forms.ValidationError("must fall between the years 1 and 9999 in UTC.") from exc


class UtcDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcDateTimeField


# Image formats by another name, as `fmt=` takes them for variants.
FORMAT_ALIASES = {"JPG": "JPEG", "TIF": "TIFF"}
# Formats a client may be asking the response in, out of DRF habit: ?format=json picks no renderer here.
RESPONSE_FORMATS = frozenset({"json", "api"})


class ImageFormatFilter(django_filters.CharFilter):
    """Pillow's format name in any letter case (`jpeg` is `JPEG`, and `jpg` too): a free string in the schema,
    checked here so that a refusal names what is accepted."""

    def filter(self, qs: QuerySet[Original], value: str | None) -> QuerySet[Original]:
        if not value:
            return qs
        name = value.upper() if value.isascii() else value
        name = FORMAT_ALIASES.get(name, name)
        if name not in ACCEPTED_FORMATS:
            hint = ""
            if value.lower() in RESPONSE_FORMATS:
                hint = " The answer is JSON already: the response's format follows the Accept header, never ?format=."
            raise DarkroomError(
                f"format filters by image format: one of {', '.join(ACCEPTED_FORMATS)}, in any letter case; "
                f"got {value[:40]!r}.{hint}",
                code="invalid_parameter",
                param="format",
            )
        return qs.filter(format=name)


class OriginalFilter(django_filters.FilterSet):
    format = ImageFormatFilter(
        help_text="The image format, Pillow's name in any letter case: " + ", ".join(ACCEPTED_FORMATS) + "."
    )
    owner = django_filters.CharFilter(field_name="owner__username", help_text="The uploader's username.")
    created_after = UtcDateTimeFilter(field_name="created", lookup_expr="gte")
    created_before = UtcDateTimeFilter(field_name="created", lookup_expr="lt")

    class Meta:
        model = Original
        fields = ["format", "owner", "created_after", "created_before"]

    def filter_queryset(self, queryset: QuerySet[Original]) -> QuerySet[Original]:
        # django-filter reads `?format=` as "no filter"; an empty value is refused, as everywhere else here.
        for name in self.filters:
            if self.data.get(name, None) == "":
                raise DarkroomError(
                    f"{name} is empty; give it a value or leave it out.", code="empty_parameter", param=name
                )
        return super().filter_queryset(queryset)


class OriginalPagination(PageNumberPagination):
    page_size = 24
    page_size_query_param = "page_size"
    max_page_size = 100
    invalid_page_message = "There is no page {page_number} of this list."

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> list[Any] | None:
        for name, most in ((self.page_query_param, None), (self.page_size_query_param, self.max_page_size)):
            value = request.query_params.get(name)
            if value is None:
                continue
            if not (value.isascii() and value.isdigit() and int(value) >= 1):
                limit = "from 1 up" if most is None else f"from 1 to {most}"
                raise DarkroomError(
                    f"{name} must be a whole number {limit}, got {value[:40]!r}.", code="invalid_parameter", param=name
                )
            if most is not None and int(value) > most:  # DRF would clamp it silently
                raise DarkroomError(
                    f"{name} is at most {most}, got {value[:40]}; ask for the next page instead.",
                    code="out_of_range",
                    param=name,
                )
        return super().paginate_queryset(queryset, request, view)


LIST_PARAMETERS = (
    *OriginalFilter.base_filters,
    OriginalPagination.page_query_param,
    OriginalPagination.page_size_query_param,
)


def check_list_query(request: Request) -> None:
    """The list is as strict as a variant's query: an unknown or repeated parameter is refused, never ignored."""
    for name in request.query_params:
        if name not in LIST_PARAMETERS:
            raise DarkroomError(
                f"{name[:40]!r} is not a parameter of this list; use {', '.join(LIST_PARAMETERS)}.",
                code="unknown_parameter",
                param=name,
            )
        if len(request.query_params.getlist(name)) > 1:
            raise DarkroomError(f"{name} is given more than once; give it once.", code="repeated_parameter", param=name)
