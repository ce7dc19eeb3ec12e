"""The content-addressed store of untouched originals: an object's name is derived from its sha256, never a name.

The bytes live in Django's storage `originals` (settings.STORAGES): the filesystem under DATA_DIR/originals by
default (`ContentAddressedFileSystemStorage`, written atomically and fsynced), or an S3-compatible bucket through
django-storages' S3 backend when one is configured (STORAGE_URL, or AWS_STORAGE_BUCKET_NAME). Either way an
original is `ab/<sha256>.<ext>`, put once (idempotent by its hash), and deleted only under `locked(sha256)` when no
record uses it. A store that cannot be reached raises StoreUnavailable, which callers answer with a 503.
"""

import fcntl
import hashlib
import logging
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.files import File
from django.core.files.storage import FileSystemStorage, Storage, storages
from django.db import connection

logger = logging.getLogger(__name__)

_SHA256 = re.compile(r"[0-9a-f]{64}")
_EXTENSION = re.compile(r"[a-z0-9]{1,5}")
_CHUNK = 1 << 20
_NAME = re.compile(r"[0-9a-f]{2}/[0-9a-f]{64}\.[a-z0-9]{1,5}")


class StoreUnavailable(Exception):
    """The object store could not be reached or answered an error of its own: try again later."""


class ContentAddressedFileSystemStorage(FileSystemStorage):
    """The embedded default: files under settings.ORIGINALS_DIR, read at each use (tests move DATA_DIR)."""

    @property
    def base_location(self) -> str:
        return str(settings.ORIGINALS_DIR)

    @property
    def location(self) -> str:
        return os.path.abspath(self.base_location)


def backend() -> Storage:
    return storages["originals"]


def is_local() -> bool:
    """True when originals are files on this machine (the render process may then read them by path)."""
    return isinstance(backend(), FileSystemStorage)


def name_for(sha256: str, extension: str) -> str:
    """`ab/abcdef….jpg`; both parts are checked so nothing else can ever become a name or a path."""
    if not _SHA256.fullmatch(sha256) or not _EXTENSION.fullmatch(extension):
        raise ValueError(f"not a content address: {sha256!r}.{extension!r}")
    return f"{sha256[:2]}/{sha256}.{extension}"


def path_for(sha256: str, extension: str) -> Path:
    """The file of an original in the filesystem store (`DATA_DIR/originals/ab/abcdef….jpg`)."""
    return Path(settings.ORIGINALS_DIR) / name_for(sha256, extension)


def local_path(sha256: str, extension: str) -> Path | None:
    """The original's file on this machine, or None when the store is remote (read() its bytes instead)."""
    return path_for(sha256, extension) if is_local() else None


def sha256_of(chunks: Iterable[bytes]) -> str:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


@contextmanager
def _remote_errors() -> Iterator[None]:
    """botocore's failures as StoreUnavailable; a missing object as FileNotFoundError."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("404", "NoSuchKey", "NotFound"):
            raise FileNotFoundError(str(exc)) from exc
        raise StoreUnavailable(f"the object store answered {code or 'an error'}: {exc}") from exc
    except BotoCoreError as exc:
        raise StoreUnavailable(f"the object store cannot be reached: {exc}") from exc


def put(file: IO[bytes], sha256: str, extension: str) -> None:
    """Store the bytes of `file` once under their hash (its caller hashed them); nothing when already there.

    On disk: to a temporary file, verified, fsynced, then renamed into place. In a bucket: streamed by boto3's
    managed transfer (parts of AWS_S3_TRANSFER_CHUNK_BYTES, so memory stays bounded whatever the size).
    """
    name = name_for(sha256, extension)
    if is_local():
        file.seek(0)
        _put_file(iter(lambda: file.read(_CHUNK), b""), sha256, extension)
        return
    storage = backend()
    with _remote_errors():
        if storage.exists(name):
            return
        file.seek(0)
        saved = storage.save(name, File(file, name=name))
    if saved != name:  # never expected with file_overwrite; a renamed object would be an orphan
        raise StoreUnavailable(f"the object store saved {saved!r} instead of {name!r}")


def _put_file(chunks: Iterable[bytes], sha256: str, extension: str) -> Path:
    target = path_for(sha256, extension)
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as tmp:
            for chunk in chunks:
                digest.update(chunk)
                tmp.write(chunk)
            tmp.flush()
            os.fsync(tmp.fileno())
        if digest.hexdigest() != sha256:
            raise OSError(f"the bytes written hash to {digest.hexdigest()}, not {sha256}")
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return target


def read(sha256: str, extension: str) -> bytes:
    """The original's bytes; FileNotFoundError when the store has none, StoreUnavailable when it is away."""
    if is_local():
        return path_for(sha256, extension).read_bytes()
    with _remote_errors(), backend().open(name_for(sha256, extension), "rb") as stored:
        return stored.read()


def open_file(sha256: str, extension: str) -> tuple[IO[bytes], int]:
    """An open file of the original and its size, for downloads (seekable, for byte ranges)."""
    if is_local():
        path = path_for(sha256, extension)
        size = path.stat().st_size
        return path.open("rb"), size
    name = name_for(sha256, extension)
    with _remote_errors():
        size = backend().size(name)
        return backend().open(name, "rb"), size


def delete(sha256: str, extension: str) -> None:
    if is_local():
        path_for(sha256, extension).unlink(missing_ok=True)
        return
    with _remote_errors():
        backend().delete(name_for(sha256, extension))


def exists(sha256: str, extension: str) -> bool:
    if is_local():
        return path_for(sha256, extension).is_file()
    with _remote_errors():
        return bool(backend().exists(name_for(sha256, extension)))


def names() -> Iterator[str]:
    """Every object in the store, as `ab/<sha256>.<ext>` (darkroom_check --storage)."""
    if is_local():
        root = Path(settings.ORIGINALS_DIR)
        for path in root.glob("??/*"):
            if path.is_file() and not path.name.startswith("."):
                yield f"{path.parent.name}/{path.name}"
        return
    storage: Any = backend()
    with _remote_errors():
        prefix = storage.location.rstrip("/") + "/" if storage.location else ""
        for page in storage.bucket.meta.client.get_paginator("list_objects_v2").paginate(
            Bucket=storage.bucket_name, Prefix=prefix
        ):
            for item in page.get("Contents", []):
                name = item["Key"][len(prefix) :]
                if _NAME.fullmatch(name):  # not the result tier's `results/…`
                    yield name


def _lock_number(sha256: str) -> int:
    """PostgreSQL's advisory lock number of a hash: its first 60 bits."""
    return int(sha256[:15], 16)


@contextmanager
def locked(sha256: str) -> Iterator[None]:
    """Serialise put-and-record against count-and-unlink for one hash.

    With PostgreSQL, a session advisory lock on the hash: every host sharing the database waits for it, and it goes
    with the connection if the process dies. With SQLite (one machine by nature), a file lock beside the originals.
    """
    if not _SHA256.fullmatch(sha256):
        raise ValueError(f"not a sha256: {sha256!r}")
    if connection.vendor == "postgresql":
        number = _lock_number(sha256)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [number])
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [number])
        return
    directory = Path(settings.ORIGINALS_DIR) / sha256[:2]
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / f".{sha256}.lock", "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
