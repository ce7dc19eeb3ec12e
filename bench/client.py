"""A tiny HTTP client on http.client for the bench's own requests (always to 127.0.0.1)."""

from __future__ import annotations

import contextlib
import http.client
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes
    seconds: float  # from sending the request to the last byte of the body

    def json(self) -> Any:
        return json.loads(self.body)


def request(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    *,
    timeout: float = 120.0,
) -> Response:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        started = time.perf_counter()
        # A server may answer (413, 429) and close before reading the whole body: read that answer.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        seconds = time.perf_counter() - started
        return Response(response.status, {k.lower(): v for k, v in response.getheaders()}, data, seconds)
    finally:
        conn.close()


def upload(port: int, data: bytes, name: str = "photo.jpg", *, timeout: float = 120.0) -> Response:
    """POST /api/v1/originals/ as multipart, the way a browser or `curl -F file=@…` does."""
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    body = head + data + f"\r\n--{boundary}--\r\n".encode()
    content_type = f"multipart/form-data; boundary={boundary}"
    return request(port, "POST", "/api/v1/originals/", body, {"Content-Type": content_type}, timeout=timeout)


def upload_id(port: int, data: bytes, name: str = "photo.jpg") -> str:
    """Upload and return the new original's id; raises on anything but 200/201."""
    response = upload(port, data, name)
    if response.status not in (200, 201):
        raise RuntimeError(f"upload of {name} answered {response.status}: {response.body[:300]!r}")
    return str(response.json()["id"])


def server_timing(header: str) -> dict[str, float]:
    """Each `name;dur=` of a Server-Timing header, in seconds (a malformed duration is left out)."""
    durations = {}
    for part in header.split(","):
        name, _, rest = part.strip().partition(";")
        if "dur=" in rest:
            try:
                durations[name] = float(rest.split("dur=", 1)[1].split(";")[0]) / 1000
            except ValueError:
                continue
    return durations


def server_timing_total(header: str) -> float | None:
    """The `total;dur=` of a Server-Timing header, in seconds."""
    return server_timing(header).get("total")


def server_timing_stages(header: str) -> float | None:
    """The sum of a Server-Timing header's durations but `total` (a render's stages), in seconds; None for none."""
    stages = [seconds for name, seconds in server_timing(header).items() if name != "total"]
    return sum(stages) if stages else None
