"""The host's event log (transforms/event_log.py): appends, a follower, torn lines, rotation, refusals."""

import multiprocessing
from pathlib import Path

import pytest

from transforms.event_log import LogFollower, append


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "events.log"


def follower_of(path: Path) -> LogFollower:
    follower = LogFollower(path)
    follower.start()
    return follower


def test_a_follower_reads_what_is_appended_after_it_started(log: Path):
    append(log, "deleted", "before")
    follower = follower_of(log)
    assert follower.poll() == []
    append(log, "deleted", "aB3_-x")
    append(log, "changed", "Zz9")
    assert follower.poll() == [("deleted", "aB3_-x"), ("changed", "Zz9")]
    assert follower.poll() == []
    assert log.read_bytes() == b"deleted:before\ndeleted:aB3_-x\nchanged:Zz9\n"
    assert log.stat().st_mode & 0o777 == 0o600


def test_a_log_that_appears_after_the_follower_started_is_read_from_its_start(log: Path):
    follower = follower_of(log)
    assert follower.poll() == []
    append(log, "deleted", "first")
    assert follower.poll() == [("deleted", "first")]


def test_a_torn_last_line_waits_for_its_newline(log: Path):
    follower = follower_of(log)
    with open(log, "ab", buffering=0) as writer:
        writer.write(b"deleted:ab")
        assert follower.poll() == []
        writer.write(b"cd")
        assert follower.poll() == []
        writer.write(b"\nchanged:")
        assert follower.poll() == [("deleted", "abcd")]
        writer.write(b"xyz\n")
    assert follower.poll() == [("changed", "xyz")]


def test_a_follower_started_inside_a_line_skips_its_tail(log: Path):
    with open(log, "ab", buffering=0) as writer:
        writer.write(b"deleted:one\nchanged:tw")
        follower = follower_of(log)
        writer.write(b"o\ndeleted:three\n")
    assert follower.poll() == [("deleted", "three")]  # not "o" or "changed:two", which began before it


def test_lines_that_are_not_events_are_skipped(log: Path):
    follower = follower_of(log)
    with open(log, "ab", buffering=0) as writer:
        writer.write(b"garbage\ndeleted:../etc\ndeleted:\n:abc\nDeleted:abc\ndeleted:\xff\xfe\n")
        writer.write(b"x" * 5000)  # no newline, longer than any event: dropped, and its end with it
        writer.write(b"tail\ndeleted:ok\n")
    assert follower.poll() == [("deleted", "ok")]


@pytest.mark.parametrize(
    "kind,original_id",
    [
        ("deleted", ""),
        ("deleted", "../../etc/passwd"),
        ("deleted", "abc\nchanged:xyz"),
        ("deleted", "abc:def"),
        ("deleted", "x" * 17),
        ("deleted", "\uff41bc"),  # a fullwidth letter
        ("deleted", "abc "),
        ("Deleted", "abc"),
        ("del\neted", "abc"),
        ("", "abc"),
    ],
)
def test_nothing_is_written_for_what_is_not_an_event(log: Path, kind: str, original_id: str):
    with pytest.raises(ValueError):
        append(log, kind, original_id)
    assert not log.exists()
    append(log, "deleted", "abc")
    with pytest.raises(ValueError):
        append(log, kind, original_id)
    assert log.read_bytes() == b"deleted:abc\n"


def test_the_publisher_rotates_and_the_follower_keeps_up(log: Path):
    append(log, "deleted", "before")
    follower = follower_of(log)
    seen: list[tuple[str, str]] = []
    sent = [("deleted" if n % 2 else "changed", f"id{n}") for n in range(200)]
    rotations, size = 0, log.stat().st_size
    for n, (kind, original_id) in enumerate(sent):
        append(log, kind, original_id, max_bytes=100)  # about 8 lines a file
        rotations, size = rotations + (log.stat().st_size < size), log.stat().st_size
        assert size <= 100
        if n % 3 == 0:  # lines reach the old file after the rotation too, before the follower looks again
            seen += follower.poll()
    seen += follower.poll()
    assert seen == sent
    assert rotations > 20  # it did rotate, again and again
    assert not list(log.parent.glob(".events.log.*")), "no temporary file is left behind"


def test_a_follower_that_rotated_reads_its_old_files_remaining_lines_first(log: Path):
    log.touch(0o600)
    follower = follower_of(log)
    append(log, "deleted", "a")
    with open(log, "ab", buffering=0) as old:  # a publisher that opened the file just before the rotation
        append(log, "deleted", "b", max_bytes=10)  # past 10 bytes: rotated
        old.write(b"deleted:c\n")  # into the old file, before any follower noticed: not lost
    append(log, "deleted", "d")
    assert follower.poll() == [("deleted", "a"), ("deleted", "b"), ("deleted", "c"), ("deleted", "d")]
    assert log.read_bytes() == b"deleted:d\n"


def _publish_many(path: str, prefix: str, count: int) -> None:
    for n in range(count):
        append(Path(path), "deleted", f"{prefix}{n}")


def test_appends_from_several_processes_at_once_arrive_whole_and_once(log: Path):
    follower = follower_of(log)
    context = multiprocessing.get_context("fork")
    publishers = [context.Process(target=_publish_many, args=(str(log), f"p{p}x", 2000)) for p in range(4)]
    for publisher in publishers:
        publisher.start()
    seen: list[tuple[str, str]] = []
    while any(publisher.is_alive() for publisher in publishers):
        seen += follower.poll()
    for publisher in publishers:
        publisher.join()
        assert publisher.exitcode == 0
    seen += follower.poll()
    assert sorted(seen) == sorted(("deleted", f"p{p}x{n}") for p in range(4) for n in range(2000))
    for p in range(4):  # each publisher's own lines stay in its order
        assert [i for _, i in seen if i.startswith(f"p{p}x")] == [f"p{p}x{n}" for n in range(2000)]
