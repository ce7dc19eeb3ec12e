"""The custom user model and the Original: metadata of one untouched uploaded file."""

import re
import secrets
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models


class User(AbstractUser):
    """Django's user, swappable from the first migration as Django advises for new projects."""

    _password_withdrawn = False

    def set_unusable_password(self) -> None:
        super().set_unusable_password()
        self._password_withdrawn = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        """A new or withdrawn password (set_password() then save(): the admin, changepassword, the API) revokes
        every refresh token of the user. Django keeps the raw password in _password until save() for the same test
        before password_changed(), and leaves it unset when it merely upgrades the stored hash."""
        password_changed = getattr(self, "_password", None) is not None or self._password_withdrawn
        is_new = self._state.adding  # a new user has no tokens to revoke
        super().save(*args, **kwargs)
        if password_changed and not is_new:
            from .tokens import refresh_tokens_revoke

            refresh_tokens_revoke(self)
            self._password_withdrawn = False


ORIGINAL_ID = re.compile(r"[A-Za-z0-9_-]{1,16}")
UNIT_INTERVAL = [MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(1))]
BLURHASH_MAX_LENGTH = 4 + 2 * 9 * 9  # the longest BlurHash: 9x9 components (ours have 12 to 16: 28 to 36 characters)


def new_original_id() -> str:
    """Twelve URL-safe characters (72 random bits, less the few of a first character that is a letter or a digit):
    short, unguessable, not sequential. An id starting with '-' would read as an option on a command line
    (`warm_variants --original -PjQ…`), and one in 32 would; older ids that do still work everywhere."""
    while True:
        candidate = secrets.token_urlsafe(9)
        if candidate[0].isascii() and candidate[0].isalnum():
            return candidate


class Original(models.Model):
    id = models.CharField(primary_key=True, max_length=16, default=new_original_id, editable=False)
    sha256 = models.CharField(max_length=64, db_index=True)
    format = models.CharField(max_length=16)  # Pillow's name: JPEG, PNG, WEBP, ...
    mime_type = models.CharField(max_length=64)
    width = models.PositiveIntegerField()  # as displayed, after EXIF orientation
    height = models.PositiveIntegerField()
    bytes = models.PositiveBigIntegerField()
    frames = models.PositiveIntegerField(default=1)
    has_alpha = models.BooleanField(default=False)
    filename = models.CharField(max_length=255, blank=True)  # sanitised, for display only
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="originals"
    )
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    # The focal point (as Wagtail has one): where the subject is, as fractions of the upright picture's width and
    # height, to a ten-thousandth; both or neither. What variants with gravity=focal keep.
    focal_x = models.DecimalField(max_digits=5, decimal_places=4, null=True, blank=True, validators=UNIT_INTERVAL)
    focal_y = models.DecimalField(max_digits=5, decimal_places=4, null=True, blank=True, validators=UNIT_INTERVAL)
    # What a page paints while the picture loads (originals/placeholders.py), made at upload; both or neither. Null,
    # not "", means not made yet (originals from before, or a picture Pillow could not shrink): backfill_placeholders.
    blurhash = models.CharField(max_length=BLURHASH_MAX_LENGTH, null=True, blank=True)  # noqa: DJ001
    dominant_color = models.CharField(max_length=7, null=True, blank=True)  # noqa: DJ001 - "#rrggbb"

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [models.Index(fields=["owner", "sha256"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(focal_x__isnull=True, focal_y__isnull=True)
                | models.Q(
                    focal_x__isnull=False,  # a CHECK passes when it is NULL: say "not null" for one set alone
                    focal_y__isnull=False,
                    focal_x__gte=0,
                    focal_x__lte=1,
                    focal_y__gte=0,
                    focal_y__lte=1,
                ),
                name="focal_point_both_or_neither_in_0_1",
                violation_error_message="Set both focal_x and focal_y (fractions from 0 to 1), or clear both.",
            ),
            models.CheckConstraint(
                condition=models.Q(blurhash__isnull=True, dominant_color__isnull=True)
                | models.Q(blurhash__isnull=False, dominant_color__isnull=False),
                name="placeholder_both_or_neither",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.id} ({self.format} {self.width}x{self.height})"
