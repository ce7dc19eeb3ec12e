"""Pre-render variants so the first visitor gets a cache hit."""

from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import parse_qsl

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from originals.models import Original
from originals.selectors import original_list
from transforms import signing
from transforms.pipeline import RenderError
from transforms.render_pool import RenderCrashed
from transforms.spec import InvalidSpec, VariantSpec, parse
from transforms.variants import variant_fetch, variant_resolve

ID_OPTION = "--original"


def glue_id_values(args: Sequence[str]) -> list[str]:
    """`--original -PjQ…` as `--original=-PjQ…`: argparse reads a value starting with '-' as another option, and
    one id in 32 made before ids had to start with a letter or digit does."""
    glued: list[str] = []
    pending = False
    for arg in args:
        if pending:
            glued[-1] = f"{ID_OPTION}={arg}"
            pending = False
        else:
            glued.append(arg)
            pending = arg == ID_OPTION
    return glued


class Command(BaseCommand):
    help = "Render the given variant queries (e.g. 'w=300&fmt=webp') for all originals, or the named ones."

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parse_args: Callable[..., Any] = parser.parse_args

        def parse_args_any_id(args: Sequence[str] | None = None, namespace: Any = None) -> Any:
            return parse_args(None if args is None else glue_id_values(args), namespace)

        # Both `manage.py warm_variants …` and call_command() parse through here.
        parser.parse_args = parse_args_any_id  # type: ignore[method-assign]
        return parser

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("queries", nargs="+", help="variant queries, as in /image/<id>/?<query>")
        parser.add_argument(ID_OPTION, action="append", default=[], help="an original's id (repeatable)")
        parser.add_argument("--accept", default="", help="Accept header used for fmt=auto")

    def _specs(self, queries: list[str]) -> list[VariantSpec]:
        specs = []
        presets = signing.presets()  # as /image/ reads them, so `preset=thumbnail` warms what it serves
        for query in queries:
            try:
                pairs = parse_qsl(query, keep_blank_values=True)
                specs.append(parse(pairs, max_side=settings.MAX_OUTPUT_SIDE, presets=presets))
            except InvalidSpec as exc:
                raise CommandError(f"{query!r}: {exc.message}") from exc
        return specs

    def handle(self, *args: Any, queries: list[str], original: list[str], accept: str, **options: Any) -> None:
        specs = self._specs(queries)
        originals = original_list()
        if original:
            originals = originals.filter(pk__in=original)
            missing = sorted(set(original) - set(originals.values_list("pk", flat=True)))
            if missing:
                raise CommandError(f"No original has the id {', '.join(map(repr, missing))}.")
        counts = dict.fromkeys(("miss", "hit-memory", "hit-redis", "hit-disk", "failed"), 0)
        for item in originals.iterator():
            for spec in specs:
                counts[self._warm(item, spec, accept)] += 1
        cached = counts["hit-memory"] + counts["hit-redis"] + counts["hit-disk"]
        self.stdout.write(f"rendered {counts['miss']}, already cached {cached}, failed {counts['failed']}")
        if counts["failed"]:  # a script must be able to tell: exit status 1, as for any failed command
            raise CommandError(f"{counts['failed']} variant(s) could not be warmed; each is named above.")

    def _warm(self, original: Original, spec: VariantSpec, accept: str) -> str:
        try:
            return variant_fetch(variant_resolve(spec, original, accept=accept)).tier
        except InvalidSpec as exc:  # not for this original: a crop outside it, over a budget
            self.stderr.write(f"{original.id}?{spec.canonical_query}: {exc.message}")
            return "failed"
        except (RenderError, RenderCrashed, OSError) as exc:
            self.stderr.write(f"{original.id}?{spec.canonical_query}: {exc}")
            return "failed"
