"""The privacy model for originals, in one place: who may see an original and who may download its untouched file.

PUBLIC_GALLERY=false (production's default): an original is its owner's and staff's; anyone else is told no
such original exists. Anonymous uploads are nobody's: only staff see them. PUBLIC_GALLERY=true: everyone sees
every original's facts. Either way the untouched file, which keeps its EXIF (GPS included), is the owner's and
staff's unless PUBLIC_ORIGINALS is on too. Variants (/image/<id>/) are outside this model: public by id, and
they carry no metadata.
"""

import time
from typing import TypeVar

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db.models import Q
from django.http import HttpRequest, HttpResponseBase
from django.utils.cache import patch_cache_control

from .models import Original

Viewer = AbstractBaseUser | AnonymousUser
Response = TypeVar("Response", bound=HttpResponseBase)


def is_staff(viewer: Viewer) -> bool:
    return bool(viewer.is_authenticated and getattr(viewer, "is_staff", False))


def is_owner_or_staff(viewer: Viewer, original: Original) -> bool:
    """The uploader or a staff user: who may delete an original, download it and have any variant of it signed."""
    if not viewer.is_authenticated:
        return False
    return is_staff(viewer) or (original.owner_id is not None and original.owner_id == viewer.pk)


def visible_to(viewer: Viewer) -> Q:
    """The originals a viewer may list and look at, as a filter: all of them, or their own."""
    if settings.PUBLIC_GALLERY or is_staff(viewer):
        return Q()
    if not viewer.is_authenticated:
        return Q(pk__in=[])  # nothing, without a query
    return Q(owner_id=viewer.pk)


def files_are_public() -> bool:
    return bool(settings.PUBLIC_GALLERY and settings.PUBLIC_ORIGINALS)


def may_download(viewer: Viewer, original: Original) -> bool:
    """The untouched file, byte for byte with its EXIF: the owner's and staff's, or everyone's if so configured."""
    return files_are_public() or is_owner_or_staff(viewer, original)


def anonymous_uploads_are_shared() -> bool:
    """Whether an anonymous upload may be answered with an earlier anonymous record of the same bytes (its
    filename and time): only where everyone sees every original anyway."""
    return bool(settings.PUBLIC_GALLERY)


def mark_personal(response: Response) -> Response:
    """What a response shows depends on who asks: no shared cache (a CDN, a proxy) may keep it for others."""
    patch_cache_control(response, private=True)
    return response


# An anonymous uploader is nobody to the model above, so without more they could not open their own picture's page
# (in a private gallery) nor have its variants signed. The page's upload remembers, in the uploader's session,
# what they uploaded: for ANONYMOUS_UPLOAD_SECONDS after it, that session may see it and have its variants signed
# as its owner would. API clients are answered with the upload's JSON, whose links are signed already.
_SESSION_KEY = "darkroom.uploads"
_SESSION_ENTRIES = 50


def remember_upload(request: HttpRequest, original: Original) -> None:
    """Note, in an anonymous visitor's session, that they just uploaded `original`."""
    if request.user.is_authenticated or not hasattr(request, "session"):
        return
    now = time.time()
    uploads = {key: until for key, until in request.session.get(_SESSION_KEY, {}).items() if until > now}
    uploads[original.pk] = now + settings.ANONYMOUS_UPLOAD_SECONDS
    request.session[_SESSION_KEY] = dict(sorted(uploads.items(), key=lambda item: item[1])[-_SESSION_ENTRIES:])


def uploaded_here(request: HttpRequest, original: Original) -> bool:
    """Whether this anonymous session uploaded `original` less than ANONYMOUS_UPLOAD_SECONDS ago."""
    if original.owner_id is not None or not hasattr(request, "session"):
        return False
    until = request.session.get(_SESSION_KEY, {}).get(original.pk)
    return isinstance(until, int | float) and until > time.time()
