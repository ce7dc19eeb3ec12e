"""The same-host transport of transforms/events.py: one `<kind>:<original id>` line a change, appended to a file in
DATA_DIR that every worker process of the host follows.

A publisher opens the file with O_APPEND for each event and writes its line in one write(): the kernel puts appends
of a few bytes one after the other, never into each other, so workers, threads and management commands may publish
at once without a lock. A follower remembers the file's identity (device, inode) and how far it has read; a poll is
one stat(), and reads only when the file grew. Lines are dispatched once whole: a line read while it is being written
waits for its newline.

The file stays small: the publisher whose append takes it past MAX_BYTES rotates it (a fresh empty file is put over
the path with os.replace, under a lock on the old file, so two publishers do not both rotate). A follower that sees
another inode at the path reads what is left of the file it holds to its end, then reads the new one from its start.
The race this leaves: a publisher that opened the old file just before the rotation may append after a follower has
finished it and switched, and that line is lost; the facts' expiry (KNOWN_ORIGINALS_SECONDS) stays the bound, as it
is for a message Redis loses.
"""

import fcntl
import os
import re
from pathlib import Path

from originals.models import ORIGINAL_ID

MAX_BYTES = 2**20  # past this the publisher rotates the file: about 40,000 events
POLL_SECONDS = 0.05  # how often a follower looks: the delay a worker of the same host hears a change with
KIND = re.compile(r"[a-z]{1,32}")
_READ_BYTES = 2**16
_MAX_LINE = 256  # longer than any event: bytes without a newline beyond this are not an event, and are skipped

Event = tuple[str, str]  # (kind, original id)


def append(path: Path, kind: str, original_id: str, *, max_bytes: int = MAX_BYTES) -> None:
    """Append one event; ValueError (nothing written) for a kind or id that is not one, OSError from the file."""
    if not KIND.fullmatch(kind) or not ORIGINAL_ID.fullmatch(original_id):
        raise ValueError(f"not an event: {kind!r}, {original_id!r}")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, f"{kind}:{original_id}\n".encode())
        if os.fstat(fd).st_size > max_bytes:
            _rotate(path, fd)
    finally:
        os.close(fd)


def _rotate(path: Path, fd: int) -> None:
    """Put a fresh file over `path` if it is still the file `fd` wrote to, and no other publisher is rotating it."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return  # another publisher is rotating it now
    try:
        if _identity(os.stat(path)) != _identity(os.fstat(fd)):
            return  # rotated already, between our append and our lock
        fresh = path.with_name(f".{path.name}.{os.getpid()}.new")
        os.close(os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600))
        os.replace(fresh, path)
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


def parse(line: bytes) -> Event | None:
    """The event a whole line (without its newline) names, or None for anything else."""
    kind, _, original_id = line.decode("ascii", errors="replace").partition(":")
    if KIND.fullmatch(kind) and ORIGINAL_ID.fullmatch(original_id):
        return kind, original_id
    return None


def _identity(stat: os.stat_result) -> tuple[int, int]:
    return stat.st_dev, stat.st_ino


class LogFollower:
    """One process's reader of the log at `path`: the events appended since it started, across rotations."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._identity = (0, 0)
        self._offset = 0
        self._pending = b""  # the start of a line whose newline has not been read yet
        self._skipping = False  # inside a line we did not see begin: drop it up to its newline

    def start(self) -> None:
        """Follow from the log's current end (nothing appended before is an event for this process); a log that
        does not exist yet is read from its start once it does. OSError when it exists and cannot be read."""
        try:
            self._open(at_end=True)
        except FileNotFoundError:
            self._fd = None

    def poll(self) -> list[Event]:
        """The events appended since the last poll: one stat() when there are none."""
        try:
            stat: os.stat_result | None = os.stat(self.path)
        except FileNotFoundError:
            stat = None
        events: list[Event] = []
        if self._fd is not None:
            same = stat is not None and _identity(stat) == self._identity
            if same and stat is not None and stat.st_size == self._offset:
                return events
            if same and stat is not None and stat.st_size < self._offset:  # cut short in place: read it anew
                self._offset, self._pending = 0, b""
            events += self._drain()
            if same:
                return events
            self.close()  # rotated or removed: the old file is read to its end, and is done with
        if stat is not None:
            self._open(at_end=False)
            events += self._drain()
        return events

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _open(self, *, at_end: bool) -> None:
        fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        stat = os.fstat(fd)
        self._fd, self._identity, self._pending = fd, _identity(stat), b""
        self._offset = stat.st_size if at_end else 0
        # Started in the middle of a line being appended: its tail is not an event.
        self._skipping = self._offset > 0 and os.pread(fd, 1, self._offset - 1) != b"\n"

    def _drain(self) -> list[Event]:
        """Read the open file to its end; the whole lines are events, the last partial one waits."""
        assert self._fd is not None
        chunks = [self._pending]
        while chunk := os.pread(self._fd, _READ_BYTES, self._offset):
            self._offset += len(chunk)
            chunks.append(chunk)
        *lines, self._pending = b"".join(chunks).split(b"\n")
        if self._skipping and lines:
            lines, self._skipping = lines[1:], False
        if len(self._pending) > _MAX_LINE:  # not an event however it ends
            self._pending, self._skipping = b"", True
        return [event for line in lines if (event := parse(line)) is not None]
