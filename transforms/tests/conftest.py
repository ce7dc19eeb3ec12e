"""Fixtures for variant tests: upload generated images through the real API."""

from collections.abc import Callable

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient


@pytest.fixture
def upload_original(db: None) -> Callable[..., dict]:
    """Upload bytes through POST /api/v1/originals/ and return the original's JSON."""

    def _upload(data: bytes, name: str = "image.bin") -> dict:
        response = APIClient().post("/api/v1/originals/", {"file": SimpleUploadedFile(name, data)}, format="multipart")
        assert response.status_code in (200, 201), response.content
        return response.json()

    return _upload
