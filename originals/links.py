"""How an original's JSON names its variant URLs while the originals app knows nothing of variants.

The variants app provides them from its AppConfig.ready (transforms/apps.py): originals asks, never imports.
"""

from collections.abc import Callable

from django.core.exceptions import ImproperlyConfigured

from .models import Original

# an original -> (the variant base URL, {name: a ready-made variant URL})
VariantLinks = Callable[[Original], tuple[str, dict[str, str]]]

_provider: VariantLinks | None = None


def provide(provider: VariantLinks) -> None:
    global _provider
    _provider = provider


def variant_links(original: Original) -> tuple[str, dict[str, str]]:
    if _provider is None:
        raise ImproperlyConfigured("No app provides variant links: is transforms in INSTALLED_APPS?")
    return _provider(original)
