"""The smallest WSGI app that returns the same bytes as a darkroom cache hit: the ceiling of W1."""

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

_BODY = Path(os.environ.get("BENCH_BODY_FILE", "/dev/null")).read_bytes()
_HEADERS = [
    ("Content-Type", os.environ.get("BENCH_CONTENT_TYPE", "image/jpeg")),
    ("Content-Length", str(len(_BODY))),
    ("Cache-Control", "public, max-age=31536000, immutable"),
]


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", _HEADERS)
    return [_BODY]
