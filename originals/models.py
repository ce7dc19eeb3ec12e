"""The custom user model and the Original: metadata of one untouched uploaded file."""

import re
import secrets

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """Django's user, swappable from the first migration as Django advises for new projects."""


ORIGINAL_ID = re.compile(r"[A-Za-z0-9_-]{1,16}")


def new_original_id() -> str:
    """Twelve URL-safe characters from 72 random bits: short, unguessable, not sequential."""
    return secrets.token_urlsafe(9)


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

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [models.Index(fields=["owner", "sha256"])]

    def __str__(self) -> str:
        return f"{self.id} ({self.format} {self.width}x{self.height})"
