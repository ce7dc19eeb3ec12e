"""Make the placeholders (BlurHash, dominant colour) of originals that have none, from their stored bytes."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from originals.models import Original
from originals.placeholders import PlaceholderError
from originals.services import original_placeholder_make
from server.errors import DarkroomError

BATCH_SIZE = 100


class Command(BaseCommand):
    help = (
        "Make the placeholder (BlurHash and dominant colour) of every original that has none, reading its bytes "
        "through the store; --force makes them all again. Exits 1 when any could not be made."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--force", action="store_true", help="make them again for originals that have one")
        parser.add_argument(
            "--batch-size", type=int, default=BATCH_SIZE, help=f"originals read at once (default {BATCH_SIZE})"
        )

    def handle(self, *args: Any, force: bool, batch_size: int, **options: Any) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        todo = Original.objects.all() if force else Original.objects.filter(blurhash__isnull=True)
        total = todo.count()
        already = Original.objects.count() - total
        counts = dict.fromkeys(("made", "gone", "failed"), 0)
        last = ""
        while batch := list(todo.filter(pk__gt=last).order_by("pk")[:batch_size]):
            for item in batch:
                counts[self._make(item)] += 1
            last = batch[-1].pk
            done = sum(counts.values())
            self.stdout.write(f"{done} of {total}: made {counts['made']}, failed {counts['failed']}")
        self.stdout.write(
            f"made {counts['made']}, already had one {already}, deleted meanwhile {counts['gone']}, "
            f"failed {counts['failed']}"
        )
        if counts["failed"]:  # a script must be able to tell: exit status 1, as for any failed command
            raise CommandError(f"{counts['failed']} placeholder(s) could not be made; each is named above.")

    def _make(self, original: Original) -> str:
        try:
            return "made" if original_placeholder_make(original=original) else "gone"
        except FileNotFoundError:
            self.stderr.write(f"{original.id}: its file is missing from the store ({original.sha256})")
        except PlaceholderError as exc:
            self.stderr.write(f"{original.id}: {exc}")
        except DarkroomError as exc:  # the store away: this one fails, the next may get through
            self.stderr.write(f"{original.id}: {exc.message}")
        return "failed"
