"""Fixtures for the originals tests: API clients, users and small images made in code."""

import io
from collections.abc import Callable, Iterator

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from rest_framework.test import APIClient

from originals.models import User

from .remote import GUARD, Remote, Route


def jpeg_bytes(
    size: tuple[int, int] = (64, 48), color: str | tuple[int, int, int] = "red", orientation: int | None = None
) -> bytes:
    image = Image.new("RGB", size, color)
    image.paste((0, 0, 255), (0, 0, size[0] // 2, size[1] // 2))
    buffer = io.BytesIO()
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    image.save(buffer, "JPEG", quality=90, exif=exif.tobytes())
    return buffer.getvalue()


def image_bytes(fmt: str, size: tuple[int, int] = (40, 30), mode: str = "RGB", **save: object) -> bytes:
    image = Image.new(mode, size, "green" if mode != "1" else 1)
    buffer = io.BytesIO()
    image.save(buffer, fmt, **save)
    return buffer.getvalue()


def upload(data: bytes, name: str = "photo.jpg", content_type: str = "image/jpeg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


@pytest.fixture
def client() -> APIClient:
    return APIClient()


@pytest.fixture
def alice(db: None) -> User:
    return User.objects.create_user("alice", password="alice-password-1")


@pytest.fixture
def staff(db: None) -> User:
    return User.objects.create_user("root", password="root-password-1", is_staff=True)


def bearer(client: APIClient, username: str, password: str) -> APIClient:
    """A client carrying a JWT obtained through the real token endpoint."""
    response = client.post("/api/v1/token/", {"username": username, "password": password}, format="json")
    assert response.status_code == 200, response.content
    authed = APIClient()
    authed.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
    return authed


@pytest.fixture
def alice_client(client: APIClient, alice: User) -> APIClient:
    return bearer(client, "alice", "alice-password-1")


@pytest.fixture
def staff_client(client: APIClient, staff: User) -> APIClient:
    return bearer(client, "root", "root-password-1")


@pytest.fixture
def remotes() -> Iterator[Callable[..., Remote]]:
    """Start real servers on 127.0.0.1 (`remotes({"/a.jpg": body(...)})`); while the test runs, nothing may connect
    to any other address or look up any other name (remote.GUARD)."""
    started: list[Remote] = []

    def start(routes: dict[str, Route], tls: object = None) -> Remote:
        remote = Remote(routes, tls).start()  # type: ignore[arg-type]
        started.append(remote)
        return remote

    GUARD.refused.clear()
    GUARD.on = True
    try:
        yield start
    finally:
        GUARD.on = False
        for remote in started:
            remote.stop()
    assert GUARD.refused == [], "the fetcher tried to reach beyond loopback"
