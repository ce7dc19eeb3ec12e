"""The upload page and its gallery: thin HTML views over the originals services and selectors (DESIGN.md §8)."""

import logging
import re
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.files.uploadedfile import UploadedFile
from django.core.paginator import EmptyPage, Page, Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from server.errors import PAGE_CSP, DarkroomError, error_response, refusal_in_kind
from server.metrics import UPLOAD_REFUSALS, UPLOADS

from . import selectors, services, visibility
from .api import AnonUploadThrottle, OriginalOutput, UserUploadThrottle
from .inspection import ACCEPTED_FORMATS, accepted_extensions, accepted_mime_types
from .models import Original, User
from .sources import form_url, the_upload

logger = logging.getLogger(__name__)

PAGE_SIZE = 24


def decimal_size(size: int) -> str:
    """Bytes as people read them on a box of disks: 25 MB is 25,000,000 bytes."""
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if size >= scale:
            return f"{round(size / scale, 1):g} {unit}"
    return f"{size} bytes"


def upload_limits() -> dict[str, Any]:
    """The accepted types and size limit, from the settings, as shown on the page and given to Dropzone."""
    formats = ", ".join(ACCEPTED_FORMATS)
    size = decimal_size(settings.MAX_UPLOAD_BYTES)
    return {
        "formats": formats,
        "max_size": size,
        "accept": ",".join((*accepted_mime_types(), *accepted_extensions())),
        "max_bytes": settings.MAX_UPLOAD_BYTES,
        "too_big": f"The file is too large; the limit is {size} ({settings.MAX_UPLOAD_BYTES:,} bytes).",
        "wrong_type": f"This is not an accepted image format. Accepted: {formats}.",
    }


def refusal(exc: DarkroomError) -> JsonResponse:
    return error_response(exc.message, exc.code, exc.status_code, exc.param, retry_after=exc.retry_after)


class PageView(View):
    """An HTML view: a strict Content-Security-Policy on every answer, refusals as the site's error page for a
    browser and in the house's JSON shape for a program, and no shared caching (what a page shows depends on who
    asks: the gallery, signed links)."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        try:
            response = super().dispatch(request, *args, **kwargs)
        except DarkroomError as exc:
            response = refusal_in_kind(request, exc.message, exc.code, exc.status_code, exc.param)
            if exc.retry_after is not None:
                response["Retry-After"] = str(exc.retry_after)
        response["Content-Security-Policy"] = PAGE_CSP
        if "Cache-Control" not in response:
            visibility.mark_personal(response)
        return response

    def http_method_not_allowed(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = refusal_in_kind(request, f"{request.method} is not allowed here.", "method_not_allowed", 405)
        response["Allow"] = ", ".join(name.upper() for name in self.http_method_names if hasattr(self, name))
        return response


def _page_number(request: HttpRequest) -> int:
    raw = request.GET.get("page", "1")
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 6 and int(raw) >= 1):
        raise DarkroomError(
            f"page must be a whole number from 1 up, got {raw[:40]!r}.", code="invalid_parameter", param="page"
        )
    return int(raw)


def _gallery_page(request: HttpRequest, number: int) -> Page:
    try:
        return Paginator(selectors.original_list(viewer=request.user), PAGE_SIZE).page(number)
    except EmptyPage as exc:
        raise DarkroomError(f"There is no page {number}.", code="not_found", param="page", status=404) from exc


def _gallery_context(page: Page) -> dict[str, Any]:
    following = page.next_page_number() if page.has_next() else None
    return {
        "page": page,
        "next_page_url": following and f"{reverse('home')}?page={following}",
        "next_fragment_url": following and f"{reverse('gallery')}?page={following}",
    }


def _home(request: HttpRequest, page_number: int = 1, upload_error: str = "", status: int = 200) -> HttpResponse:
    context = {
        **_gallery_context(_gallery_page(request, page_number)),
        "private_gallery": not settings.PUBLIC_GALLERY,
        "limits": upload_limits(),
        "can_upload": settings.ANONYMOUS_UPLOADS or request.user.is_authenticated,
        "can_import": bool(settings.IMPORT_URL_HOSTS),
        "upload_error": upload_error,
        "item_url": reverse("gallery-item", args=["ORIGINAL_ID"]),
    }
    return render(request, "originals/home.html", context, status=status)


class HomePage(PageView):
    """`/`: the drop zone, and the gallery of originals, newest first, in pages."""

    def get(self, request: HttpRequest) -> HttpResponse:
        return _home(request, _page_number(request))


class GalleryFragment(PageView):
    """`/gallery/?page=N`: one page of gallery items, for the page's "Load more"."""

    def get(self, request: HttpRequest) -> HttpResponse:
        page = _gallery_page(request, _page_number(request))
        return render(request, "originals/_gallery_page.html", _gallery_context(page))


def original_or_404(request: HttpRequest, original_id: str) -> Original:
    """The original, if the visitor may see it; else the 404 of an unknown id, which confirms nothing."""
    original = selectors.original_get(original_id, viewer=request.user)
    if original is None:
        just_uploaded = selectors.original_get(original_id)
        if just_uploaded is not None and visibility.uploaded_here(request, just_uploaded):
            return just_uploaded  # their own anonymous upload, from this session, a moment ago
        raise DarkroomError(f"No original has the id {original_id[:40]!r}.", code="not_found", param="id", status=404)
    return original


class GalleryItemFragment(PageView):
    """`/gallery/<id>/`: one gallery item, so a new upload appears without a reload."""

    def get(self, request: HttpRequest, original_id: str) -> HttpResponse:
        return render(request, "originals/_gallery_item.html", {"original": original_or_404(request, original_id)})


class _CsrfCheck(CsrfViewMiddleware):
    """Django's own CSRF rules, unchanged, answering with the reason instead of Django's failure page."""

    def _reject(self, request: HttpRequest, reason: str) -> str:
        return reason


def _no_view(request: HttpRequest) -> HttpResponse:
    raise AssertionError("only passed to the CSRF check, never called")


def check_csrf(request: HttpRequest) -> None:
    """Refuse (403) a POST whose CSRF token is missing or wrong, whoever sends it: logged in or not."""
    check = _CsrfCheck(_no_view)
    try:
        check.process_request(request)
        reason = check.process_view(request, _no_view, (), {})
    except MultiPartParserError as exc:
        raise DarkroomError(
            f"The upload is not well-formed multipart/form-data: {exc}", code="malformed_request"
        ) from exc
    if reason is not None:
        logger.warning("page upload refused: CSRF check failed: %s", reason)
        raise DarkroomError(
            f"The page's security token is missing or stale ({reason}); reload the page and try again.",
            code="csrf_failed",
            status=403,
        )


def _check_may_upload(request: HttpRequest) -> None:
    if not (settings.ANONYMOUS_UPLOADS or request.user.is_authenticated):
        raise DarkroomError(
            "Log in to upload; anonymous uploads are off on this server.", code="not_authenticated", status=403
        )
    # The API's upload throttles, so the page is no way around them; they read only request.user and
    # request.META, which a Django request has too.
    for throttle in (AnonUploadThrottle(), UserUploadThrottle()):
        if not throttle.allow_request(request, None):  # type: ignore[arg-type]
            wait = int(throttle.wait() or 0) + 1
            raise DarkroomError(f"Too many uploads; try again in {wait} seconds.", code="throttled", status=429)


def _the_file(request: HttpRequest) -> UploadedFile:
    return the_upload(request.FILES, "Choose a picture to upload.")


def _create(request: HttpRequest) -> tuple[Original, bool]:
    """The upload itself (or the import of the form's `url`), counted in the same metrics as the API's."""
    try:
        owner = request.user if isinstance(request.user, User) else None
        url = form_url(request)
        if url is not None:
            original, created = services.original_import(url=url, owner=owner)
        else:
            original, created = services.original_create(upload=_the_file(request), owner=owner)
        visibility.remember_upload(request, original)
    except DarkroomError as exc:
        UPLOAD_REFUSALS.labels(code=exc.code).inc()
        raise
    UPLOADS.labels(outcome="created" if created else "deduplicated").inc()
    return original, created


def _wants_json(request: HttpRequest) -> bool:
    """Dropzone asks for JSON; a browser's plain form asks for HTML first."""
    return request.get_preferred_type(["application/json", "text/html"]) == "application/json"


@method_decorator(csrf_exempt, name="dispatch")  # not exempt: checked in post(), so a refusal answers in kind
class UploadPage(PageView):
    """`POST /upload/`: the page's upload, CSRF-checked. JSON like the API for Dropzone; for a plain form,
    303 back to `/` or the page again with the refusal and its status."""

    def post(self, request: HttpRequest) -> HttpResponse:
        wants_json = _wants_json(request)
        try:
            check_csrf(request)
            _check_may_upload(request)
            original, created = _create(request)
        except DarkroomError as exc:
            if wants_json:
                return refusal(exc)
            return _home(request, upload_error=exc.message, status=exc.status_code)
        if wants_json:
            body = OriginalOutput(original, context={"request": request}).data
            response: HttpResponse = JsonResponse(body, status=201 if created else 200)
            response["Location"] = request.build_absolute_uri(reverse("original-detail", args=[original.id]))
            return response
        name = original.filename or original.id
        messages.success(request, f"Uploaded {name}." if created else f"{name} was already here.")
        response = HttpResponseRedirect(reverse("home"))
        response.status_code = 303  # See Other: the browser GETs the page, a reload does not post again
        return response


_NUMBER = re.compile(r"-?[0-9]{0,12}(\.[0-9]{1,12})?")


def _form_fraction(request: HttpRequest, name: str) -> Decimal:
    """A form's number field (a fraction 0..1, as a number input writes it), to a ten-thousandth; 400 naming it."""
    raw = request.POST.get(name, "").strip()
    if not raw:
        message = f"{name} is empty; give a number from 0 to 1, or Clear."
        raise DarkroomError(message, code="empty_parameter", param=name)
    # as the API answers: what is not a number is invalid, a number outside 0..1 out of range
    message = f"{name} must be a number from 0 to 1, got {raw[:40]!r}."
    if not (_NUMBER.fullmatch(raw) and raw.lstrip("-") not in ("", ".")):
        raise DarkroomError(message, code="invalid_parameter", param=name)
    if not 0 <= Decimal(raw) <= 1:
        raise DarkroomError(message, code="out_of_range", param=name)
    return Decimal(raw).quantize(Decimal("0.0001"), rounding=ROUND_HALF_EVEN)


@method_decorator(csrf_exempt, name="dispatch")  # not exempt: checked in post(), so a refusal answers in kind
class OriginalFocusPage(PageView):
    """`POST /originals/<id>/focal/`: the page's focal point form without JavaScript (with it, the page PATCHes
    the API); the uploader's or staff's, CSRF-checked; 303 back to the page."""

    def post(self, request: HttpRequest, original_id: str) -> HttpResponse:
        check_csrf(request)
        original = original_or_404(request, original_id)
        if not visibility.is_owner_or_staff(request.user, original):
            raise DarkroomError(
                "Only the uploader or a staff user may move this original's focal point.",
                code="permission_denied",
                status=403,
            )
        if request.POST.get("action") == "clear":
            point: tuple[Decimal | None, Decimal | None] = (None, None)
        else:
            point = (_form_fraction(request, "focal_x"), _form_fraction(request, "focal_y"))
        services.original_focus(original=original, focal_x=point[0], focal_y=point[1])
        response = HttpResponseRedirect(reverse("original-page", args=[original.id]) + "#focal-title")
        response.status_code = 303
        return response
