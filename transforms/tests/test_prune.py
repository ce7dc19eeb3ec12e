"""The disk cap: enforced by a worker's prune thread, never by a render request; least recently used first."""

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import override_settings

from transforms import cache
from transforms.cache import prune
from transforms.cache.locks import file_lock, locks_dir
from transforms.cache.prune import prune_pass


@pytest.fixture
def variants_root(tmp_path: Path) -> Iterator[Path]:
    """A variants directory of this test's own, so that its 10,000 files slow no other test's walk."""
    root = tmp_path / "variants"
    root.mkdir()
    with override_settings(VARIANTS_DIR=root):
        yield root
    assert cache.prune_schedule.wait_idle(10), "no pass outlives its test"


def fill(root: Path, originals: int, per_original: int, size: int = 10) -> list[Path]:
    """`originals` times `per_original` variant files of `size` bytes, the first the oldest (one second apart)."""
    files: list[Path] = []
    start = time.time() - 10 * originals * per_original
    for i in range(originals):
        directory = root / f"filler{i:05d}"
        directory.mkdir()
        for j in range(per_original):
            path = directory / f"{j:064x}.png"
            path.write_bytes(b"x" * size)
            age = start + len(files)
            os.utime(path, (age, age))
            files.append(path)
    return files


def render_until_due() -> int:
    """Render new variants until the schedule comes due, as the requests of a worker do; how many it took."""
    count = cache.prune_schedule.every - cache.prune_schedule.renders % cache.prune_schedule.every
    for _ in range(count):
        key = cache.variant_key(
            pipeline_version="test", original_sha256=str(time.perf_counter_ns()), canonical_query="", out_format="png"
        )
        _, tier = cache.fetch_or_render(
            original_id="prunetest", key=key, out_format="png", render=lambda: b"a fresh variant"
        )
        assert tier == "miss"
    return count


@pytest.fixture
def scandirs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Every os.scandir call from now on, as (thread name, directory): the real function, watched."""
    calls: list[tuple[str, str]] = []
    real = os.scandir

    def watched(path: str | os.PathLike[str] = ".") -> "os._ScandirIterator[str]":
        calls.append((threading.current_thread().name, os.fspath(path)))
        return real(path)

    monkeypatch.setattr(os, "scandir", watched)
    return calls


def test_a_render_request_never_walks_the_variants_directory(variants_root: Path, scandirs):
    fill(variants_root, originals=100, per_original=100)  # 10,000 variants of other originals
    with override_settings(VARIANT_CACHE_MAX_BYTES=10**9):
        render_until_due()
        mine = {path for thread, path in scandirs if thread == threading.current_thread().name}
        assert mine <= {str(variants_root / "prunetest")}, "only the rendered original's own directory (its cap)"
        assert cache.prune_schedule.wait_idle(10)
    walked = {thread for thread, path in scandirs if path == str(variants_root)}
    assert walked == {"darkroom-prune"}, "the whole directory is walked, by the worker's prune thread"


def test_the_prune_thread_keeps_the_cap_least_recently_used_first(variants_root: Path):
    files = fill(variants_root, originals=20, per_original=50, size=100)
    oldest, newest = files[:400], files[400:]
    renders = cache.prune_schedule.every - cache.prune_schedule.renders % cache.prune_schedule.every
    with override_settings(VARIANT_CACHE_MAX_BYTES=600 * 100 + renders * len(b"a fresh variant")):
        assert render_until_due() == renders
        assert cache.prune_schedule.wait_idle(10)
    assert not any(path.exists() for path in oldest)
    assert all(path.exists() for path in newest), "and nothing more recent than what had to go"
    assert len(list((variants_root / "prunetest").iterdir())) == renders, "the renders themselves are the newest"


def test_prune_leaves_lock_and_temporary_files_alone(variants_root: Path):
    fill(variants_root, originals=2, per_original=3)
    with file_lock(locks_dir(variants_root) / "ab.lock") as taken:
        assert taken
    temporary = variants_root / "filler00000" / ".tmp-half-written"
    temporary.write_bytes(b"x" * 1000)
    result = cache.variants_prune(0)
    assert (result.files_before, result.files_removed) == (6, 6)
    assert (locks_dir(variants_root) / "ab.lock").exists(), "deleting a lock file in use would let a second holder in"
    assert temporary.exists(), "its writer renames it into place"


def test_one_pass_at_a_time_on_a_machine(variants_root: Path):
    files = fill(variants_root, originals=1, per_original=5)
    with file_lock(locks_dir(variants_root) / "prune.lock") as taken:
        assert taken
        assert prune_pass(str(variants_root), 0) is None, "another process is pruning: this one leaves it be"
        assert all(path.exists() for path in files)
    result = prune_pass(str(variants_root), 0)
    assert result is not None and result.files_removed == 5


def test_the_prune_threads_walk_gives_the_interpreter_away_and_the_commands_does_not(
    variants_root: Path, monkeypatch: pytest.MonkeyPatch
):
    fill(variants_root, originals=10, per_original=100)
    sleeps: list[float] = []
    # The pacer's sleep alone: time.sleep itself is every thread's (the event log's follower sleeps 50 ms a turn).
    monkeypatch.setattr(prune._Pacer, "sleep", staticmethod(sleeps.append))
    assert prune_pass(str(variants_root), 10**9) is not None
    assert sleeps == [prune.PACE_SECONDS] * (1000 // prune.PACE_ENTRIES), "a pause every PACE_ENTRIES files"
    sleeps.clear()
    assert cache.variants_prune(10**9).files_before == 1000
    assert sleeps == [], "prune_variants runs in a process of its own: no pauses"
