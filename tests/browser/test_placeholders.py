"""Placeholders in headless chromium: the gallery paints each picture's BlurHash and colour while the picture itself is
held back (a route that answers only when the test lets it), takes them away when it arrives, and breaks no rule of
the pages' Content-Security-Policy. The page's decoder paints what the reference decoder paints."""

import io
import json
import uuid
from pathlib import Path

import blurhash
import pytest
from PIL import Image
from playwright.sync_api import Page, Route, expect

from tests import server as live

from .conftest import Watched

pytestmark = pytest.mark.browser

RECORD_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation",
  (event) => window.cspViolations.push(event.violatedDirective + " " + event.blockedURI));
"""
LOADED = "(img) => img.complete && img.naturalWidth > 0"
PAINTED = "(img) => img.style.backgroundImage.startsWith('url(\"data:image/png')"
RED, BLUE = (220, 30, 30), (30, 30, 220)


def halves() -> bytes:
    """Red on the left, blue on the right: which side is which shows in the painted placeholder. One pixel differs
    from call to call, so every upload is a new original."""
    image = Image.new("RGB", (900, 600), BLUE)
    image.paste(RED, (0, 0, 450, 600))
    image.putpixel((899, 599), tuple(uuid.uuid4().bytes[:3]))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def upload(service: live.Server, name: str) -> dict:
    status, _, body = service.upload(halves(), name)
    assert status == 201, body
    return json.loads(body)


def hold_images(page: Page) -> list[Route]:
    """Every /image/ request waits, unanswered, until the test continues it."""
    held: list[Route] = []

    def hold(route: Route) -> None:
        held.append(route)

    page.route("**/image/**", hold)
    return held


def release(page: Page, held: list[Route]) -> None:
    """Let the held requests through, and any made from now on."""
    while held:
        held.pop().continue_()
    page.unroute("**/image/**")


def near(found: tuple[int, ...], expected: tuple[int, ...], tolerance: int) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(found, expected, strict=False))


def pixel(image, fx, fy):
    return image.getpixel((int(fx * image.width), int(fy * image.height)))


def painted_pixels(page: Page, selector: str) -> Image.Image:
    return Image.open(io.BytesIO(page.locator(selector).screenshot())).convert("RGB")


def test_the_gallery_paints_the_placeholder_until_the_picture_arrives(
    watched: Watched, service: live.Server, tmp_path: Path
):
    original = upload(service, f"halves-{uuid.uuid4().hex[:8]}.png")
    page = watched.page
    page.add_init_script(RECORD_VIOLATIONS)
    held = hold_images(page)
    page.goto("/")
    tile = f'#gallery .tile[data-id="{original["id"]}"] img'
    img = page.locator(tile)
    assert img.get_attribute("data-blurhash") == original["blurhash"]
    assert img.get_attribute("data-color") == original["dominant_color"]
    page.wait_for_function(PAINTED, arg=img.element_handle())
    assert not img.evaluate(LOADED), "the picture is held back: what shows is the placeholder"
    assert img.evaluate("(img) => getComputedStyle(img).backgroundColor") in ("rgb(220, 30, 30)", "rgb(30, 30, 220)")
    shot = painted_pixels(page, tile)
    left, right = pixel(shot, 0.125, 0.5), pixel(shot, 0.875, 0.5)
    assert left[0] > 150 > left[2] and right[2] > 150 > right[0], ("red left, blue right", left, right)
    shot.save(tmp_path / "placeholder.png")

    release(page, held)
    page.wait_for_function(LOADED, arg=img.element_handle())
    expect(img).to_have_attribute("data-placeholder", "painted")
    assert img.evaluate("(img) => img.style.backgroundImage + img.style.backgroundColor") == "", "taken away"
    assert page.evaluate("window.cspViolations") == []
    watched.assert_clean()


def test_an_uploaded_tile_is_painted_too(watched: Watched, service: live.Server, tmp_path: Path):
    page = watched.page
    page.add_init_script(RECORD_VIOLATIONS)
    page.goto("/")
    held = hold_images(page)
    name = f"dropped-{uuid.uuid4().hex[:8]}.png"
    path = tmp_path / name
    path.write_bytes(halves())
    page.set_input_files("input.dz-hidden-input", [str(path)])
    img = page.locator(f'#gallery .tile img[alt="{name}"]')
    expect(img).to_have_attribute("data-placeholder", "painted")
    assert not img.evaluate(LOADED)
    release(page, held)
    page.wait_for_function(LOADED, arg=img.element_handle())
    assert img.evaluate("(img) => img.style.backgroundImage") == ""
    assert page.evaluate("window.cspViolations") == []
    watched.assert_clean()


def test_the_pages_decoder_paints_what_the_reference_paints(watched: Watched, service: live.Server):
    original = upload(service, f"reference-{uuid.uuid4().hex[:8]}.png")
    page = watched.page
    page.goto("/")
    for hash_ in (
        original["blurhash"],
        "LEHV6nWB2yk8pyo0adR*.7kCMdnj",
        "|rF?hV%2WCj[ayj[a|j[az_NaeWBj@ayfRayfQfQM{M|azj[azf6fQfQfQIpWXofj[ayj[j[fQayWCoeoeaya}j[ayfQa{oLj?j[WVj[ayayj[fQoff7azayj[ayj[j[ayofayayayj[fQj[ayayj[ayfjj[j[ayjuayj[",
    ):
        rgba = page.evaluate("(hash) => Array.from(window.darkroomPlaceholders.decode(hash, 9, 7))", hash_)
        found = [tuple(rgba[i : i + 3]) for i in range(0, len(rgba), 4)]
        reference = [tuple(pixel) for row in blurhash.decode(hash_, 9, 7) for pixel in row]
        assert all(near(a, b, 1) for a, b in zip(found, reference, strict=True)), hash_
        assert rgba[3::4] == [255] * 63
    refused = page.evaluate("""() => { try { window.darkroomPlaceholders.decode("L!!!!", 4, 3); return "decoded"; }
                                       catch (error) { return error.message; } }""")
    assert refused.startswith("not a BlurHash")
    watched.assert_clean()
