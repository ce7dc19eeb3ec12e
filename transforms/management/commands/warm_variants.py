"""Pre-render variants so the first visitor gets a cache hit."""

from typing import Any
from urllib.parse import parse_qsl

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from originals.models import Original
from originals.selectors import original_list
from transforms.pipeline import RenderError
from transforms.render_pool import RenderCrashed
from transforms.spec import InvalidSpec, VariantSpec, parse
from transforms.variants import variant_fetch, variant_resolve


class Command(BaseCommand):
    help = "Render the given variant queries (e.g. 'w=300&fmt=webp') for all originals, or the named ones."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("queries", nargs="+", help="variant queries, as in /image/<id>/?<query>")
        parser.add_argument("--original", action="append", default=[], help="an original's id (repeatable)")
        parser.add_argument("--accept", default="", help="Accept header used for fmt=auto")

    def _specs(self, queries: list[str]) -> list[VariantSpec]:
        specs = []
        for query in queries:
            try:
                specs.append(parse(parse_qsl(query, keep_blank_values=True), max_side=settings.MAX_OUTPUT_SIDE))
            except InvalidSpec as exc:
                raise CommandError(f"{query!r}: {exc.message}") from exc
        return specs

    def handle(self, *args: Any, queries: list[str], original: list[str], accept: str, **options: Any) -> None:
        specs = self._specs(queries)
        originals = original_list()
        if original:
            originals = originals.filter(pk__in=original)
        counts = {"miss": 0, "hit-redis": 0, "hit-disk": 0, "failed": 0}
        for item in originals.iterator():
            for spec in specs:
                counts[self._warm(item, spec, accept)] += 1
        self.stdout.write(
            f"rendered {counts['miss']}, already cached {counts['hit-redis'] + counts['hit-disk']}, "
            f"failed {counts['failed']}"
        )

    def _warm(self, original: Original, spec: VariantSpec, accept: str) -> str:
        try:
            return variant_fetch(variant_resolve(spec, original, accept=accept)).tier
        except (RenderError, RenderCrashed, OSError) as exc:
            self.stderr.write(f"{original.id}?{spec.canonical_query}: {exc}")
            return "failed"
