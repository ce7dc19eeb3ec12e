"""Browser fixtures: the service under its server (as make run) in a throwaway DATA_DIR, and Debian's chromium
driven by Playwright."""

import io
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from PIL import Image
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from tests import server as live

CHROMIUM = Path("/usr/bin/chromium")
# Debian's chromium, never a downloaded one; quiet: no sync, no updates, no background requests of its own.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[live.Server]:
    running = live.start(tmp_path_factory.mktemp("browser-data"), workers=2)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Module scope on purpose: Playwright's sync API keeps an event loop running in this thread, and
    # Django refuses database work while one runs, so it must be gone before other modules' tests.
    if not CHROMIUM.exists():
        pytest.fail("the browser tests need Debian's chromium: apt-get install -y chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@dataclass
class Watched:
    """A page, with every URL it requested and every JavaScript error it logged."""

    page: Page
    requests: list[str] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (text, the URL it is about)

    def assert_clean(self, refused: tuple[str, ...] = ()) -> None:
        """No JavaScript error, and no request off this host. `refused`: paths whose 4xx answer a test
        asked for; chromium logs each as "Failed to load resource", which is no JavaScript error."""
        errors = [
            (text, url)
            for text, url in self.errors
            if not (text.startswith("Failed to load resource") and urlsplit(url).path in refused)
        ]
        assert errors == [], errors
        foreign = [url for url in self.requests if not is_local(url)]
        assert foreign == [], foreign
        assert self.requests, "no request was recorded"


def is_local(url: str) -> bool:
    if url.startswith("data:"):
        return True
    parts = urlsplit(url.removeprefix("blob:"))  # blob:http://127.0.0.1:…/uuid names its origin
    return parts.scheme in ("http", "https") and parts.hostname in LOCAL_HOSTS


def _watch(browser: Browser, service: live.Server, **options: Any) -> Iterator[Watched]:
    context = browser.new_context(
        base_url=f"http://127.0.0.1:{service.port}", viewport={"width": 1200, "height": 900}, **options
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    seen = Watched(page)
    page.on("request", lambda request: seen.requests.append(request.url))
    page.on("console", lambda message: _console(seen, message))
    page.on("pageerror", lambda error: seen.errors.append((f"{error.name}: {error.message}", "")))
    yield seen
    context.close()


def _console(seen: Watched, message: ConsoleMessage) -> None:
    if message.type == "error":
        seen.errors.append((message.text, message.location.get("url", "")))


@pytest.fixture
def watched(browser: Browser, service: live.Server) -> Iterator[Watched]:
    yield from _watch(browser, service)


@pytest.fixture
def watched_without_js(browser: Browser, service: live.Server) -> Iterator[Watched]:
    yield from _watch(browser, service, java_script_enabled=False)


def photo_file(directory: Path, name: str, size: tuple[int, int] = (800, 600)) -> Path:
    """A JPEG of soft random colours: unique bytes every call, so uploads never deduplicate."""
    rng = random.Random()
    small = Image.new("RGB", (3, 3))
    small.putdata(
        [(rng.randrange(256), rng.randrange(256), rng.randrange(256)) for _ in range(small.width * small.height)]
    )
    image = small.resize(size, Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    path = directory / name
    path.write_bytes(buffer.getvalue())
    return path


def noise_file(directory: Path, name: str, size: tuple[int, int] = (600, 400)) -> Path:
    """A JPEG of random pixels: it hardly compresses, so its upload takes long enough to show progress."""
    image = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    path = directory / name
    image.save(path, "JPEG", quality=90)
    return path


def throttle_uploads(page: Page, bytes_per_second: int) -> None:
    """Chromium's network emulation: uploads at `bytes_per_second`, so progress has steps to show."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    conditions = {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": bytes_per_second}
    cdp.send("Network.emulateNetworkConditions", conditions)
