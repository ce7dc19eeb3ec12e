"""Enforce the disk cap of the variant cache, least recently used first."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from transforms.cache import variants_prune


class Command(BaseCommand):
    help = "Delete least recently used variants until the disk cache fits VARIANT_CACHE_MAX_BYTES."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--max-bytes", type=int, default=None, help="the cap (default: VARIANT_CACHE_MAX_BYTES)")
        parser.add_argument("--dry-run", action="store_true", help="report what would be removed")

    def handle(self, *args: Any, max_bytes: int | None, dry_run: bool, **options: Any) -> None:
        cap = settings.VARIANT_CACHE_MAX_BYTES if max_bytes is None else max_bytes
        result = variants_prune(cap, dry_run=dry_run)
        verb = "would remove" if dry_run else "removed"
        self.stdout.write(
            f"{result.files_before} variants, {result.bytes_before} bytes; cap {cap} bytes; "
            f"{verb} {result.files_removed} variants, {result.bytes_removed} bytes"
        )
