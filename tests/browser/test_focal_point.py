"""Picking an original's focal point on its page in headless chromium: a click (PATCH), and the form without JS."""

import json
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests import server as live

from .conftest import Watched, photo_file

pytestmark = pytest.mark.browser

PASSWORD = "focal-password-1"


@pytest.fixture(scope="module")
def staff(service: live.Server) -> str:
    """A staff user in the service's own database (staff may move any original's focal point)."""
    return service.superuser(PASSWORD)


def log_in_and_open(page: Page, service: live.Server, staff: str, tmp_path: Path) -> str:
    status, _, body = service.upload(photo_file(tmp_path, "focal.jpg", (800, 600)).read_bytes(), "focal.jpg")
    assert status == 201
    original_id = json.loads(body)["id"]
    page.goto(f"/admin/login/?next=/originals/{original_id}/")
    page.fill("input[name=username]", staff)
    page.fill("input[name=password]", PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator("#focal-title")).to_have_text("Focal point")
    return str(original_id)


def focal_of(service: live.Server, original_id: str) -> tuple[float | None, float | None]:
    status, _, body = service.request("GET", f"/api/v1/originals/{original_id}/")
    assert status == 200
    facts = json.loads(body)
    return facts["focal_x"], facts["focal_y"]


def test_clicking_the_picture_sets_the_focal_point(watched: Watched, service: live.Server, staff: str, tmp_path: Path):
    page = watched.page
    original_id = log_in_and_open(page, service, staff, tmp_path)
    picture = page.locator("#focal-picture")
    picture.scroll_into_view_if_needed()
    page.wait_for_function("(img) => img.complete && img.naturalWidth === 320", arg=picture.element_handle())
    box = picture.bounding_box()
    assert box is not None
    with page.expect_response(f"**/api/v1/originals/{original_id}/") as answer:
        picture.click(position={"x": box["width"] * 0.25, "y": box["height"] * 0.75})
    assert answer.value.status == 200 and answer.value.request.method == "PATCH"
    x, y = focal_of(service, original_id)
    assert x is not None and y is not None
    assert x == pytest.approx(0.25, abs=0.01) and y == pytest.approx(0.75, abs=0.01)
    ring = page.locator("#focal-ring")
    expect(ring).to_have_attribute("cx", f"{x * 100:.2f}%")
    expect(page.locator("#focal-state")).to_contain_text(f"Now at {x}, {y}")
    assert float(page.input_value("input[name=focal_x]")) == x

    page.fill("input[name=focal_x]", "1.5")
    page.click("#focal button[value=save]")
    expect(page.locator("#focal-error")).to_contain_text("focal_x")
    page.click("#focal button[value=clear]")
    expect(page.locator("#focal-state")).to_have_text("Not set: they keep the centre.")
    assert focal_of(service, original_id) == (None, None)
    watched.assert_clean(refused=(f"/api/v1/originals/{original_id}/", "/favicon.ico"))  # the admin login has no icon


def test_without_javascript_the_form_sets_it(
    watched_without_js: Watched, service: live.Server, staff: str, tmp_path: Path
):
    page = watched_without_js.page
    original_id = log_in_and_open(page, service, staff, tmp_path)
    page.fill("input[name=focal_x]", "0.6")
    page.fill("input[name=focal_y]", "0.2")
    with page.expect_response(f"**/originals/{original_id}/focal/") as answer:
        page.click("#focal button[value=save]")
    assert answer.value.status == 303
    expect(page.locator("#focal-state")).to_contain_text("Now at 0.6000, 0.2000")
    assert focal_of(service, original_id) == (0.6, 0.2)
    watched_without_js.assert_clean(refused=("/favicon.ico",))
