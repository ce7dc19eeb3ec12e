"""A throw-away operation for the registry's tests, importable (no Django) so render processes can load it too."""

from typing import Any, ClassVar

from PIL import Image

from transforms.geometry import Plan
from transforms.operations import Operation
from transforms.params import Choice, Param


class Tint(Operation):
    """Blend the picture half-way with a colour."""

    params: ClassVar[tuple[Param[Any], ...]] = (
        Choice(
            "tint", None, label="Tint", spellings={"red": "red", "blue": "blue"}, offered={"": "none", "red": "red"}
        ),
    )

    def apply(self, image: Image.Image, plan: Plan) -> Image.Image:
        if plan.spec is None or plan.spec.value("tint") is None:
            return image
        return Image.blend(image.convert("RGB"), Image.new("RGB", image.size, plan.spec.value("tint")), 0.5)
