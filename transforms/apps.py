"""The transforms app: variant specs, the Pillow pipeline, the variant cache and /image/<id>/."""

from django.apps import AppConfig


class TransformsConfig(AppConfig):
    name = "transforms"

    def ready(self) -> None:
        from originals import links
        from originals.signals import original_changed, original_deleted

        from . import events
        from .links import links_of
        from .signing import presets
        from .variants import forget_everywhere_here, forget_facts, forget_original, known_originals

        presets()  # a malformed VARIANT_PRESETS stops the start, naming the preset
        # originals knows nothing of variants: a deletion reaches them through its signal.
        original_deleted.connect(forget_original, dispatch_uid="transforms.forget_original")
        original_changed.connect(forget_facts, dispatch_uid="transforms.forget_facts")  # a moved focal point
        # And every other worker: this host's through its event log, every host's through Redis (transforms/events.py).
        events.listener.on("deleted", forget_everywhere_here)
        events.listener.on("changed", known_originals.forget)
        links.provide(links_of)  # and it names an original's variant URLs through this hook
