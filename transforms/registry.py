"""The registry of operations: what an operation is, the ordered operations of a variant, and their parameters by name.

A module of operations (transforms/operations.py, transforms/filters.py, a plugin's) needs only this one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib import import_module
from typing import TYPE_CHECKING, Any, ClassVar

from PIL import Image

from transforms.geometry import Plan, T
from transforms.params import Limits, Param, Source

if TYPE_CHECKING:
    from transforms.spec import VariantSpec


class Operation:
    """One step of a variant. Each hook has a do-nothing default, so an operation writes only what it does."""

    params: ClassVar[tuple[Param[Any], ...]] = ()

    def canonicalize(self, values: dict[str, Any], limits: Limits) -> None:
        """Rewrite parsed `values` (by parameter name) so that every spelling of one variant is one spec; raise
        InvalidSpec, naming a parameter, for values that are well-formed alone but not together."""

    def resolve(self, values: dict[str, Any], source: Source) -> None:
        """Rewrite canonical `values` against the original's facts, so that spellings relative to the original
        (fractions of its size, its focal point) become absolute ones; InvalidSpec when they do not fit it."""

    def transpose(self, spec: VariantSpec) -> T | None:
        """The transpose this operation adds to the picture's orientation (after EXIF's, in registry order)."""
        return None

    def plan(self, plan: Plan) -> Plan:
        """This operation's part of the plan, from the recorded or decoded size alone: no pixels."""
        return plan

    def refine(self, image: Image.Image, plan: Plan) -> Plan:
        """This operation's part of the plan that needs the decoded pixels (a content-aware crop), before any
        `apply`; most operations need none."""
        return plan

    def apply(self, image: Image.Image, plan: Plan) -> Image.Image:
        """This operation's part of the pixels; returns the image unchanged when the plan does not need it."""
        return image

    def idle_params(self, spec: VariantSpec, *, padded: bool, has_alpha: bool) -> tuple[str, ...]:
        """Those of this operation's parameters in `spec` that change no pixel of a variant that is (or is not) padded
        of an original with (or without) alpha: they are left out of its cache key."""
        return ()

    def frame_pixels(self, spec: VariantSpec) -> int | None:
        """The most pixels a frame may have for this operation to work on it within a render's memory budget, for an
        operation that holds more copies of a frame at once than a resize does; None when it sets no bound."""
        return None


def import_string(path: str) -> Any:
    """The object at a dotted path (Django's import_string, which this module may not import)."""
    module, _, name = path.rpartition(".")
    return getattr(import_module(module), name)


class Registry:
    """The operations of a variant, in order, and their parameters by name."""

    def __init__(self, operations: tuple[Operation, ...]) -> None:
        self._set(operations)

    def _set(self, operations: tuple[Operation, ...]) -> None:
        params: dict[str, Param[Any]] = {}
        for operation in operations:
            for param in operation.params:
                if param.name in params or param.name == "preset":
                    raise ValueError(f"two operations declare the parameter {param.name!r}")
                params[param.name] = param
        self.operations, self.params = operations, params

    def paths(self) -> tuple[str, ...]:
        """Where each operation's class lives, in order: what a render process needs to hold the same registry."""
        return tuple(f"{type(operation).__module__}.{type(operation).__qualname__}" for operation in self.operations)

    def load(self, paths: tuple[str, ...]) -> None:
        """Hold the operations at `paths` (as `paths()` wrote them), in that order, if not already."""
        if paths != self.paths():
            self._set(tuple(import_string(path)() for path in paths))

    @contextmanager
    def extended(self, operation: Operation, *, before: type[Operation] | None = None) -> Iterator[None]:
        """Register `operation` ahead of the first `before` (by default the last operation, the output's) for
        the duration (tests, plugins being tried)."""
        saved = self.operations
        at = next((i for i, existing in enumerate(saved) if before and isinstance(existing, before)), len(saved) - 1)
        self._set((*saved[:at], operation, *saved[at:]))
        try:
            yield
        finally:
            self._set(saved)
