"""Test-wide setup: every run gets its own DATA_DIR; Redis is the real one named by REDIS_URL."""

import shutil
import tempfile
from pathlib import Path

import pytest


def pytest_configure(config: pytest.Config) -> None:
    from django.conf import settings

    data_dir = Path(tempfile.mkdtemp(prefix="darkroom-test-"))
    settings.DATA_DIR = data_dir
    settings.ORIGINALS_DIR = data_dir / "originals"
    settings.VARIANTS_DIR = data_dir / "variants"
    for directory in (settings.ORIGINALS_DIR, settings.VARIANTS_DIR):
        directory.mkdir(parents=True, exist_ok=True)
    # Test runs share one Redis: give this run's cache keys (throttle counters) a prefix of their own.
    settings.CACHES["default"]["KEY_PREFIX"] = data_dir.name
    config.stash[_DATA_DIR] = data_dir


def pytest_unconfigure(config: pytest.Config) -> None:
    data_dir = config.stash.get(_DATA_DIR, None)
    if data_dir is not None:
        shutil.rmtree(data_dir, ignore_errors=True)


_DATA_DIR = pytest.StashKey[Path]()
