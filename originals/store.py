"""The content-addressed store of untouched originals: a file's path is derived from its sha256, never a name."""

import fcntl
import hashlib
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings

_SHA256 = re.compile(r"[0-9a-f]{64}")
_EXTENSION = re.compile(r"[a-z0-9]{1,5}")
_CHUNK = 1 << 20


def _root() -> Path:
    return Path(settings.ORIGINALS_DIR)


def path_for(sha256: str, extension: str) -> Path:
    """`originals/ab/abcdef….jpg`; both parts are checked so nothing else can ever become a path."""
    if not _SHA256.fullmatch(sha256) or not _EXTENSION.fullmatch(extension):
        raise ValueError(f"not a content address: {sha256!r}.{extension!r}")
    return _root() / sha256[:2] / f"{sha256}.{extension}"


def sha256_of(chunks: Iterable[bytes]) -> str:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


def put(chunks: Iterable[bytes], sha256: str, extension: str) -> Path:
    """Write the bytes once under their hash: to a temporary file, verified, fsynced, then renamed into place."""
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
    return path_for(sha256, extension).read_bytes()


def delete(sha256: str, extension: str) -> None:
    path_for(sha256, extension).unlink(missing_ok=True)


def exists(sha256: str, extension: str) -> bool:
    return path_for(sha256, extension).is_file()


@contextmanager
def locked(sha256: str) -> Iterator[None]:
    """Serialise put-and-record against count-and-unlink for one hash, across processes on this machine."""
    if not _SHA256.fullmatch(sha256):
        raise ValueError(f"not a sha256: {sha256!r}")
    directory = _root() / sha256[:2]
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / f".{sha256}.lock", "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
