"""The upload page in headless chromium: Dropzone's real upload path, the gallery, the URL builder, the keyboard."""

import json
import re
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Locator, Page, expect

from tests import server as live

from .conftest import Watched, noise_file, photo_file, throttle_uploads

pytestmark = pytest.mark.browser

RECORD_PROGRESS = """() => {
  window.progressSeen = [];
  document.getElementById("upload-zone").addEventListener("dropzone:uploadprogress",
    (event) => window.progressSeen.push(event.detail.args[1]));
}"""
LOADED = "(img) => img.complete && img.naturalWidth > 0"


def drop(page: Page, *files: Path) -> None:
    """Give files to Dropzone's own (hidden) file input: the same path as a drop, through Dropzone's upload."""
    page.set_input_files("input.dz-hidden-input", [str(path) for path in files])


def row(page: Page, name: str) -> Locator:
    return page.locator("#uploads .upload-row").filter(has_text=name)


def tile_image(page: Page, name: str) -> Locator:
    return page.locator(f'#gallery .tile img[alt="{name}"]')


def assert_loads(image: Locator) -> None:
    image.scroll_into_view_if_needed()
    expect(image).to_be_visible()
    image.page.wait_for_function(f"(img) => ({LOADED})(img)", arg=image.element_handle())
    assert image.evaluate("(img) => img.naturalWidth") > 0


def test_a_dropped_jpeg_shows_progress_then_its_thumbnail_which_stays(watched: Watched, tmp_path: Path):
    page = watched.page
    name = f"photo-{uuid.uuid4().hex[:8]}.jpg"
    page.goto("/")
    page.evaluate(RECORD_PROGRESS)
    throttle_uploads(page, 512 * 1024)  # about half a second for this file, so progress has steps

    drop(page, noise_file(tmp_path, name, (600, 400)))

    expect(row(page, name)).to_have_class(re.compile(r"\bdz-success\b"))
    expect(row(page, name).locator("progress")).to_have_attribute("value", "100")
    progress = page.evaluate("window.progressSeen")
    assert progress[-1] == 100 and any(0 < value < 100 for value in progress), progress
    thumbnail = tile_image(page, name)
    assert_loads(thumbnail)
    assert "w=240" in (thumbnail.get_attribute("src") or "") and " 2x" in (thumbnail.get_attribute("srcset") or "")

    page.reload()
    assert_loads(tile_image(page, name))
    watched.assert_clean()


def test_a_text_file_named_png_shows_the_servers_refusal(watched: Watched, tmp_path: Path):
    page = watched.page
    fake = tmp_path / "notes.png"
    fake.write_text("these are words, not pixels\n")
    page.goto("/")

    with page.expect_response("**/upload/") as answer:
        drop(page, fake)
    refusal = answer.value
    assert refusal.status == 415
    message = refusal.json()["error"]

    expect(row(page, "notes.png")).to_have_class(re.compile(r"\bdz-error\b"))
    expect(row(page, "notes.png").locator(".upload-error")).to_have_text(message)
    assert "not an accepted image format" in message
    expect(tile_image(page, "notes.png")).to_have_count(0)
    watched.assert_clean(refused=("/upload/",))


def test_several_files_at_once(watched: Watched, tmp_path: Path):
    page = watched.page
    names = [f"batch-{index}-{uuid.uuid4().hex[:6]}.jpg" for index in range(3)]
    page.goto("/")

    drop(page, *(photo_file(tmp_path, name, (400, 300)) for name in names))

    for name in names:
        expect(row(page, name)).to_have_class(re.compile(r"\bdz-success\b"))
        assert_loads(tile_image(page, name))
    watched.assert_clean()


def test_the_zone_opens_the_file_picker_from_the_keyboard(watched: Watched, tmp_path: Path):
    page = watched.page
    name = f"keyboard-{uuid.uuid4().hex[:8]}.jpg"
    # A standing listener keeps Playwright's file chooser interception on; expect_file_chooser alone turns it
    # on asynchronously, racing the key press.
    page.on("filechooser", lambda chooser: None)
    page.goto("/")
    for _ in range(5):  # past the masthead's links to the zone
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.classList.contains('zone-message')"):
            break
    assert page.evaluate("document.activeElement.classList.contains('zone-message')")

    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Enter")
    chooser.value.set_files(photo_file(tmp_path, name, (300, 200)))
    expect(row(page, name)).to_have_class(re.compile(r"\bdz-success\b"))
    with page.expect_file_chooser():
        page.keyboard.press(" ")
    assert page.evaluate("window.scrollY") == 0  # Space opened the picker; it did not scroll the page
    watched.assert_clean()


def test_load_more_pages_through_older_originals(watched: Watched, service: live.Server, tmp_path: Path):
    for index in range(25):  # more than one page of 24, whatever earlier tests uploaded
        status, _, body = service.upload(photo_file(tmp_path, "old.jpg", (120, 90)).read_bytes(), f"old-{index}.jpg")
        assert status == 201, body
    total = json.loads(service.request("GET", "/api/v1/originals/")[2])["count"]
    page = watched.page
    page.goto("/")
    tiles = page.locator("#gallery .tile")
    expect(tiles).to_have_count(24)

    page.click("#gallery-more")

    expect(tiles).to_have_count(min(total, 48))
    ids = tiles.evaluate_all("(items) => items.map((item) => item.dataset.id)")
    assert len(set(ids)) == len(ids)
    watched.assert_clean()


def test_the_url_builder_previews_each_change(watched: Watched, tmp_path: Path):
    page = watched.page
    name = f"builder-{uuid.uuid4().hex[:8]}.jpg"
    page.goto("/")
    drop(page, photo_file(tmp_path, name, (800, 600)))
    tile_image(page, name).click()
    expect(page.locator("h1")).to_have_text(name)
    preview = page.locator("#preview")
    assert_loads(preview)
    first = preview.get_attribute("src")

    page.fill("#builder input[name=w]", "200")
    expect(preview).not_to_have_attribute("src", first)
    expect(preview).to_have_attribute("src", re.compile(r"\?w=200$"))
    page.wait_for_function("(img) => img.naturalWidth === 200", arg=preview.element_handle())

    page.select_option("#builder select[name=fmt]", "png")
    page.select_option("#builder select[name=rotate]", "90")
    expect(preview).to_have_attribute("src", re.compile(r"\?fmt=png&rotate=90&w=200$"))
    page.wait_for_function(
        "(img) => img.naturalWidth === 200 && img.naturalHeight === 267", arg=preview.element_handle()
    )
    url = page.input_value("#variant-url")
    assert url.startswith("http://127.0.0.1:") and url.endswith(preview.get_attribute("src") or "?")

    shown = preview.get_attribute("src")
    page.fill("#builder input[name=w]", "99999")
    expect(page.locator("#builder-error")).to_have_text("w must be an integer from 1 to 8192, got '99999'")
    assert preview.get_attribute("src") == shown
    link_path = urlsplit(page.url).path + "url/"  # the builder asks the server for each URL
    watched.assert_clean(refused=(link_path,))


def test_without_javascript_the_plain_form_uploads_and_explains_refusals(watched_without_js: Watched, tmp_path: Path):
    page = watched_without_js.page
    name = f"plain-{uuid.uuid4().hex[:8]}.jpg"
    page.goto("/")
    expect(page.locator(".zone-message")).to_be_hidden()

    page.set_input_files("#upload-file", photo_file(tmp_path, name, (320, 240)))
    with page.expect_response("**/upload/") as answer:
        page.click("button[type=submit]")
    assert answer.value.status == 303
    expect(page.locator(".notice")).to_have_text(f"Uploaded {name}.")
    expect(tile_image(page, name)).to_have_count(1)

    fake = tmp_path / "words.png"
    fake.write_text("words\n")
    page.set_input_files("#upload-file", fake)
    with page.expect_response("**/upload/") as answer:
        page.click("button[type=submit]")
    assert answer.value.status == 415
    expect(page.locator(".refusal")).to_contain_text("not an accepted image format")
    watched_without_js.assert_clean(refused=("/upload/",))


def test_screenshots(watched: Watched, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory):
    page = watched.page
    page.goto("/")
    fake = tmp_path / "not-a-picture.png"
    fake.write_text("plain text\n")
    drop(page, photo_file(tmp_path, "harbour.jpg", (1200, 800)), fake)
    expect(row(page, "harbour.jpg")).to_have_class(re.compile(r"\bdz-success\b"))
    expect(row(page, "not-a-picture.png")).to_have_class(re.compile(r"\bdz-error\b"))
    assert_loads(tile_image(page, "harbour.jpg"))
    shots = tmp_path_factory.mktemp("screenshots")
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=shots / "upload-page.png")

    tile_image(page, "harbour.jpg").click()
    assert_loads(page.locator("#preview"))
    page.screenshot(path=shots / "original-page.png", full_page=True)
    print(f"\nscreenshots: {shots / 'upload-page.png'} {shots / 'original-page.png'}")
    watched.assert_clean(refused=("/upload/",))
