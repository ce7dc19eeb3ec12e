"""Check what a deployment needs: settings, Pillow codecs, Redis, the database and disk."""

import shutil
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from PIL import features

from server.health import CHECKS

CODECS = {"jpg": "JPEG", "zlib": "PNG", "webp": "WebP", "avif": "AVIF", "littlecms2": "ICC colour management"}


class Command(BaseCommand):
    help = "Report settings, Pillow codecs, the database, DATA_DIR and Redis; exit 1 if anything is missing."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--storage",
            action="store_true",
            help="Only compare the originals' records with the store: list records without objects and objects "
            "without records; exit 1 if there are any.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["storage"]:
            self._storage()
            return
        problems: list[str] = []
        self._line("mode", settings.DARKROOM_ENV)
        self._line("DEBUG", str(settings.DEBUG))  # settings refuse DEBUG in production
        self._line("ALLOWED_HOSTS", ", ".join(settings.ALLOWED_HOSTS))
        self._line("ANONYMOUS_UPLOADS", str(settings.ANONYMOUS_UPLOADS))
        self._line("URL_SIGNING", self._signing())
        self._line("TRUSTED_PROXIES", ", ".join(map(str, settings.TRUSTED_PROXIES)) or "none")
        self._line(
            "limits",
            f"{settings.MAX_UPLOAD_BYTES} B, {settings.MAX_SOURCE_PIXELS} px, "
            f"{settings.MAX_FRAMES} frames, output side {settings.MAX_OUTPUT_SIDE}",
        )
        for feature, name in CODECS.items():
            ok = bool(features.check(feature))
            self._line(f"codec {name}", "ok" if ok else "MISSING")
            if not ok:
                problems.append(f"Pillow lacks {name}")
        for name, check in CHECKS.items():
            try:
                result = check()
            except Exception as exc:  # noqa: BLE001 - reported, then counted as a problem
                result = f"error: {type(exc).__name__}: {exc}"
                problems.append(f"{name}: {result}")
            self._line(name, result)
        usage = shutil.disk_usage(settings.DATA_DIR)
        self._line("DATA_DIR", f"{settings.DATA_DIR} ({usage.free // 2**20} MiB free)")
        if usage.free < 512 * 2**20:
            problems.append("less than 512 MiB free in DATA_DIR")
        if problems:
            raise CommandError("; ".join(problems))
        self.stdout.write(self.style.SUCCESS("ready"))

    def _signing(self) -> str:
        mode = settings.URL_SIGNING
        if mode == "off":
            if settings.LOCAL:
                return "off"
            return (
                "off (warning: URL_SIGNING=off in production lets anyone make this server render unbounded "
                "variants; unset it for the default, presets)"
            )
        keys = len(settings.URL_SIGNING_KEYS)
        source = f"{keys} key(s) from URL_SIGNING_KEYS" if keys else "a key derived from SECRET_KEY"
        return f"{mode}, signed with {source}"

    def _storage(self) -> None:
        from originals.services import storage_discrepancies
        from originals.store import backend

        self._line("originals store", type(backend()).__name__)
        missing, orphans = storage_discrepancies()
        for name in missing:
            self.stdout.write(f"record without object: {name}")
        for name in orphans:
            self.stdout.write(f"object without record: {name}")
        self.stdout.write(f"{len(missing)} records without objects, {len(orphans)} objects without records")
        if missing or orphans:
            raise CommandError("the originals' records and the store disagree")

    def _line(self, name: str, value: str) -> None:
        self.stdout.write(f"{name:>28}: {value}")
