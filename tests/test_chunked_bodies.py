"""Bodies sent with `Transfer-Encoding: chunked` (no Content-Length) are read as sent (server/bodies.py): an upload is
stored, an import is read, and a body over the limit is refused from its length, in-process and over the real server.
"""

import io
import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest
from django.test import override_settings
from PIL import Image

from server.bodies import body_limit
from server.wsgi import application
from tests import server as live
from tests.inprocess import keep_test_connection


def jpeg(colour: str = "navy", size: tuple[int, int] = (64, 48)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def multipart(data: bytes, name: str = "photo.jpg") -> tuple[str, bytes]:
    boundary = uuid.uuid4().hex
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode()
    return f"multipart/form-data; boundary={boundary}", body + data + f"\r\n--{boundary}--\r\n".encode()


class Trickle(io.RawIOBase):
    """wsgi.input as a server hands over a chunked body: de-chunked, a few bytes a read, no length known."""

    def __init__(self, data: bytes, step: int = 1000) -> None:
        self.data, self.step = data, step

    def read(self, size: int = -1) -> bytes:
        size = self.step if size < 0 else min(size, self.step)
        chunk, self.data = self.data[:size], self.data[size:]
        return chunk


def post(
    path: str, content_type: str, body: bytes, *, chunked: bool = True, stream: Trickle | None = None
) -> tuple[int, dict[str, Any]]:
    environ: dict[str, Any] = {"PATH_INFO": path, "REQUEST_METHOD": "POST", "CONTENT_TYPE": content_type}
    environ["wsgi.errors"] = sys.stderr
    setup_testing_defaults(environ)
    environ["wsgi.input"] = stream or Trickle(body)
    if chunked:
        environ["HTTP_TRANSFER_ENCODING"] = "chunked"
    else:
        environ["CONTENT_LENGTH"] = str(len(body))
    answer: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        answer["status"] = int(status.split()[0])

    with keep_test_connection():
        payload = b"".join(application(environ, start_response))
    return answer["status"], json.loads(payload)


@pytest.mark.django_db
def test_a_chunked_upload_is_stored_as_one_with_a_length():
    data = jpeg("teal")
    content_type, body = multipart(data)
    status, chunked = post("/api/v1/originals/", content_type, body)
    assert status == 201, chunked
    assert (chunked["bytes"], chunked["width"]) == (len(data), 64)
    status, again = post("/api/v1/originals/", content_type, body, chunked=False)
    assert (status, again["id"]) == (200, chunked["id"]), "the same bytes: the same original"


@pytest.mark.django_db
def test_a_chunked_json_body_is_read():
    status, answer = post("/api/v1/originals/", "application/json", b'{"url": "https://images.example.com/a.jpg"}')
    assert (status, answer["code"]) == (403, "import_disabled"), answer  # the URL was read: imports are off here


@pytest.mark.django_db
@override_settings(MAX_UPLOAD_BYTES=100_000)
def test_a_chunked_upload_over_the_limit_is_refused_before_it_is_read_whole():
    content_type, body = multipart(os.urandom(4_000_000))
    stream = Trickle(body, step=64 * 1024)
    status, answer = post("/api/v1/originals/", content_type, body, stream=stream)
    assert (status, answer["code"]) == (413, "file_too_large"), answer
    read = len(body) - len(stream.data)
    assert read == body_limit() + 1, "read one byte past the largest body any URL takes (a non-file body's), no more"


@pytest.mark.slow
def test_a_chunked_upload_over_the_real_server(tmp_path: Path):
    running = live.start(tmp_path / "data", workers=1)
    try:
        data = jpeg("olive")
        content_type, body = multipart(data, "olive.jpg")
        chunks = b"".join(
            f"{len(body[i : i + 700]):x}\r\n".encode() + body[i : i + 700] + b"\r\n" for i in range(0, len(body), 700)
        )
        request = (
            (
                f"POST /api/v1/originals/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                f"Content-Type: {content_type}\r\nTransfer-Encoding: chunked\r\n\r\n"
            ).encode()
            + chunks
            + b"0\r\n\r\n"
        )
        status, headers, payload = running.raw(request)
        assert status == 201, payload[:500]
        if headers.get("transfer-encoding") == "chunked":
            payload = payload.split(b"\r\n", 1)[1].rsplit(b"\r\n0\r\n", 1)[0]
        created = json.loads(payload)
        assert created["bytes"] == len(data)
        status, _, stored = running.request("GET", f"/api/v1/originals/{created['id']}/file/")
        assert (status, stored) == (200, data)
    finally:
        running.stop()
