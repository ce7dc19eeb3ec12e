"""The filters: grey, blur and sharpen, applied to the resized picture before it is flattened, turned and padded."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PIL import Image, ImageFilter

from transforms.geometry import Plan
from transforms.params import Choice, Tenths
from transforms.registry import Operation

if TYPE_CHECKING:
    from transforms.spec import VariantSpec


class Gray(Operation):
    """`gray=1`: the picture in shades of grey (Pillow's ITU-R 601 luma), transparency kept. After the resize (fewer
    pixels) and the conversion to sRGB (the right ones); before flattening and padding, which it leaves alone."""

    params = (
        Choice(
            "gray",
            0,
            label="Grey",
            spellings={"0": 0, "1": 1},
            offered={"": "no", "1": "yes"},
            doc="the picture in shades of grey",
        ),
    )

    def apply(self, image: Image.Image, plan: Plan) -> Image.Image:
        if plan.spec is None or not plan.spec.value("gray") or image.mode in ("L", "LA"):
            return image
        return image.convert("LA" if image.mode == "RGBA" else "L")


def _filtered(image: Image.Image, kernel: ImageFilter.Filter) -> Image.Image:
    """`image` through `kernel`, with alpha premultiplied, so the colour of transparent pixels (often black, or
    anything) does not bleed into the edges of what is visible."""
    premultiplied = {"RGBA": "RGBa", "LA": "La"}.get(image.mode)
    if premultiplied is None:
        return image.filter(kernel)
    return image.convert(premultiplied).filter(kernel).convert(image.mode)


# Pillow's blur holds the frame it reads, the one it writes and a transposed copy at once: a 24 MP picture blurred
# at full size peaked at 281 MB over the render process's idle size, 16 MP at 235 MB (test_render_memory.py holds it).
FILTER_FRAME_PIXELS = 16_000_000


class Blur(Operation):
    """`blur=<sigma>`: a Gaussian blur, sigma in pixels of the output. After the resize: Pillow's blur (three
    box passes) costs the same for any sigma but grows with the pixels, so it blurs the fewest."""

    params = (
        Tenths(
            "blur",
            None,
            label="Blur",
            placeholder="none",
            low=0.1,
            high=50,
            doc="Gaussian blur: its sigma, in pixels of the output",
        ),
    )

    def apply(self, image: Image.Image, plan: Plan) -> Image.Image:
        sigma = plan.spec and plan.spec.value("blur")
        return image if not sigma else _filtered(image, ImageFilter.GaussianBlur(sigma))

    def frame_pixels(self, spec: VariantSpec) -> int | None:
        return FILTER_FRAME_PIXELS if spec.value("blur") else None


class Sharpen(Operation):
    """`sharpen=<sigma>`: an unsharp mask of that radius (sigma, in output pixels), with Pillow's and the photo
    editors' usual strength (150 %) and threshold (3 levels, so flat areas and their noise are left alone).
    After the resize, which softens, and after a blur when both are asked."""

    params = (
        Tenths(
            "sharpen",
            None,
            label="Sharpen",
            placeholder="none",
            low=0.1,
            high=10,
            doc="unsharp mask: its sigma, in pixels of the output",
        ),
    )
    PERCENT = 150
    THRESHOLD = 3

    def apply(self, image: Image.Image, plan: Plan) -> Image.Image:
        sigma = plan.spec and plan.spec.value("sharpen")
        if not sigma:
            return image
        return _filtered(image, ImageFilter.UnsharpMask(sigma, self.PERCENT, self.THRESHOLD))

    def frame_pixels(self, spec: VariantSpec) -> int | None:
        return FILTER_FRAME_PIXELS if spec.value("sharpen") else None
