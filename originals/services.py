"""Writes for originals: create from an upload or import one by URL (validated, deduplicated, stored) and delete
(record, file, variants)."""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import IO

from django.conf import settings
from django.core.files.uploadedfile import TemporaryUploadedFile, UploadedFile
from django.db import transaction

from server.errors import DarkroomError

from . import store, visibility
from .destinations import parse_host_pattern
from .errors import UploadTooLarge
from .fetch import FetchPolicy, fetch
from .fetch_errors import FetchError
from .filenames import display_filename, url_filename
from .inspection import EXTENSIONS, ImageFacts, Limits, inspect_image
from .models import Original, User
from .placeholders import placeholder_of
from .signals import original_changed, original_deleted

logger = logging.getLogger(__name__)


def upload_limits() -> Limits:
    return Limits(
        max_pixels=settings.MAX_SOURCE_PIXELS,
        max_frames=settings.MAX_FRAMES,
        max_total_pixels=settings.MAX_TOTAL_PIXELS,
    )


def _facts_and_hash(upload: UploadedFile) -> tuple[ImageFacts, str]:
    if upload.size is not None and upload.size > settings.MAX_UPLOAD_BYTES:
        raise UploadTooLarge(
            f"The file is too large ({upload.size:,} bytes); the limit is {settings.MAX_UPLOAD_BYTES:,} bytes.",
            param="file",
        )
    if not upload.size:
        raise DarkroomError("The file is empty.", code="empty_file", param="file")
    upload.seek(0)
    try:
        facts = inspect_image(upload.file, upload_limits())  # type: ignore[arg-type]
    except DarkroomError as exc:  # the bytes' own fault: the refusal names the field they came in (an import's: url)
        exc.param = exc.param or "file"
        raise
    upload.seek(0)
    sha256 = store.sha256_of(upload.chunks())
    return facts, sha256


def _earlier_upload(sha256: str, owner: User | None) -> Original | None:
    """The owner's record of these bytes. Anonymous uploads are nobody's: where the gallery is private, one
    anonymous uploader must not learn another's filename and time by sending the same bytes."""
    if owner is not None:
        return Original.objects.filter(sha256=sha256, owner=owner).first()
    if visibility.anonymous_uploads_are_shared():
        return Original.objects.filter(sha256=sha256, owner__isnull=True).first()
    return None


def original_create(*, upload: UploadedFile, owner: User | None, name: str | None = None) -> tuple[Original, bool]:
    """Store an upload once under its hash; the same bytes from the same owner return the existing original
    (anonymous uploads only in a public gallery: see _earlier_upload). `name` is the client's name for it, when
    not the upload's own (an import's, from its URL)."""
    facts, sha256 = _facts_and_hash(upload)
    with store.locked(sha256), _store_errors():
        # The object first, then the record: a record never names bytes the store lacks.
        store.put(upload.file, sha256, facts.extension)  # type: ignore[arg-type]
        existing = _earlier_upload(sha256, owner)
        if existing is not None:
            return existing, False
        original = Original.objects.create(
            sha256=sha256,
            format=facts.format,
            mime_type=facts.mime_type,
            width=facts.width,
            height=facts.height,
            bytes=upload.size or 0,
            frames=facts.frames,
            has_alpha=facts.has_alpha,
            filename=display_filename(upload.name if name is None else name),
            owner=owner,
            blurhash=facts.placeholder.blurhash if facts.placeholder else None,
            dominant_color=facts.placeholder.color if facts.placeholder else None,
        )
    logger.info("original created id=%s sha256=%s format=%s bytes=%s", original.id, sha256, facts.format, upload.size)
    return original, True


def import_policy() -> FetchPolicy:
    """What an import by URL may fetch, from the settings (read per request, so a settings change takes effect)."""
    return FetchPolicy(
        hosts=tuple(parse_host_pattern(host) for host in settings.IMPORT_URL_HOSTS),
        max_bytes=settings.MAX_UPLOAD_BYTES,
        timeout=settings.IMPORT_URL_TIMEOUT_SECONDS,
        connect_timeout=settings.IMPORT_URL_CONNECT_TIMEOUT_SECONDS,
        max_redirects=settings.IMPORT_URL_MAX_REDIRECTS,
        allow_loopback=settings.IMPORT_URL_ALLOW_LOOPBACK,
        ca_file=settings.IMPORT_URL_CA_FILE or None,
    )


def original_import(*, url: str, owner: User | None) -> tuple[Original, bool]:
    """Fetch the image at `url` into a temporary file (originals/fetch.py: public addresses of IMPORT_URL_HOSTS
    only) and store it as original_create stores an upload: the same inspection, limits and deduplication. Every
    refusal names the parameter `url`."""
    if not settings.IMPORT_URL_HOSTS:
        raise DarkroomError(
            "Import by URL is off on this server (IMPORT_URL_HOSTS is empty); upload the file instead.",
            code="import_disabled",
            param="url",
            status=403,
        )
    upload = TemporaryUploadedFile("import", "application/octet-stream", 0, None)
    try:
        try:
            fetched = fetch(url, upload.file, import_policy())  # type: ignore[arg-type]
        except FetchError as exc:
            logger.info("import refused code=%s: %s", exc.code, exc.message)
            raise DarkroomError(exc.message, code=exc.code, param="url", status=exc.status) from exc
        upload.size = fetched.size
        logger.info("import fetched bytes=%s redirects=%s", fetched.size, fetched.redirects)
        try:
            return original_create(upload=upload, owner=owner, name=url_filename(url) or url_filename(fetched.url))
        except DarkroomError as exc:
            if exc.param in (None, "file"):
                exc.param = "url"  # the bytes came from the URL: its inspection's refusals name it
            raise
    finally:
        upload.close()


@contextmanager
def _store_errors() -> Iterator[None]:
    """The object store away: a 503 with Retry-After, and nothing recorded (the caller's work is undone)."""
    try:
        yield
    except store.StoreUnavailable as exc:
        logger.error("object store unavailable: %s", exc)
        raise DarkroomError(
            "The file store is unavailable; try again shortly.",
            code="storage_unavailable",
            status=503,
            retry_after=settings.STORAGE_RETRY_AFTER,
        ) from exc


def original_file(original: Original) -> tuple[IO[bytes], int]:
    """The original's untouched bytes, open, and their size; FileNotFoundError when the store lost them."""
    with _store_errors():
        return store.open_file(original.sha256, _extension(original))


def _extension(original: Original) -> str:
    return EXTENSIONS.get(original.format, "bin")


def original_delete(*, original: Original) -> None:
    """Remove the record, then the file when no other record uses the bytes, then (through the signal
    original_deleted, which the variants app receives) every variant of it."""
    with store.locked(original.sha256), _store_errors(), transaction.atomic():
        original_id, sha256, extension = original.id, original.sha256, _extension(original)
        original.delete()
        still_used = Original.objects.filter(sha256=sha256).exists()
        if not still_used:
            store.delete(sha256, extension)
    original_deleted.send(sender=Original, original_id=original_id, sha256=sha256)
    logger.info("original deleted id=%s sha256=%s file_removed=%s", original_id, sha256, not still_used)


def original_focus(*, original: Original, focal_x: Decimal | None, focal_y: Decimal | None) -> Original:
    """Set (both) or clear (neither) the original's focal point, fractions 0..1 of its upright width and height;
    what variants with gravity=focal keep. The callers have checked the values; the database checks them again."""
    if (focal_x is None) != (focal_y is None) or any(v is not None and not 0 <= v <= 1 for v in (focal_x, focal_y)):
        raise ValueError(f"a focal point is two fractions from 0 to 1, or none: got {focal_x}, {focal_y}")
    original.focal_x, original.focal_y = focal_x, focal_y
    original.save(update_fields=["focal_x", "focal_y"])
    original_id = original.id
    transaction.on_commit(lambda: original_changed.send(sender=Original, original_id=original_id))
    logger.info("original focal point id=%s x=%s y=%s", original_id, focal_x, focal_y)
    return original


def original_placeholder_make(*, original: Original) -> bool:
    """Make the original's placeholder (BlurHash and dominant colour) again from its stored bytes, read through the
    store (a bucket too), and record it; False when the record is gone meanwhile. FileNotFoundError when the store
    lost the bytes, PlaceholderError when they cannot be decoded, DarkroomError when the store is away."""
    stored, _ = original_file(original)
    with stored:
        placeholder = placeholder_of(stored)
    original.blurhash, original.dominant_color = placeholder.blurhash, placeholder.color
    # Only these two columns: a focal point set meanwhile stays as it is.
    updated = Original.objects.filter(pk=original.pk).update(
        blurhash=placeholder.blurhash, dominant_color=placeholder.color
    )
    logger.info("original placeholder id=%s blurhash=%s color=%s", original.id, placeholder.blurhash, placeholder.color)
    return bool(updated)


def storage_discrepancies() -> tuple[list[str], list[str]]:
    """(records without objects, objects without records), as store names (`ab/<sha256>.<ext>`); what
    `darkroom_check --storage` reports. Objects are listed once, records read in one query."""
    expected = {
        store.name_for(sha256, EXTENSIONS.get(format_, "bin"))
        for sha256, format_ in Original.objects.values_list("sha256", "format").distinct()
    }
    with _store_errors():
        stored = set(store.names())
    return sorted(expected - stored), sorted(stored - expected)
