"""A real remote for the import tests: an HTTP(S) server on 127.0.0.1 in a thread, one handler per path, that
records what it was asked; and a guard that fails a test which would connect anywhere but loopback."""

import ipaddress
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Route = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class Seen:
    path: str
    headers: dict[str, str]


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that hang up are what these tests are about: no traceback for them."""


@dataclass
class Remote:
    routes: dict[str, Route]
    tls: ssl.SSLContext | None = None
    seen: list[Seen] = field(default_factory=list)
    server_names: list[str | None] = field(default_factory=list)  # the SNI of each TLS handshake
    stopping: threading.Event = field(default_factory=threading.Event)

    def start(self) -> "Remote":
        remote = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                remote.seen.append(Seen(self.path, dict(self.headers.items())))
                route = remote.routes.get(self.path.split("?", 1)[0])
                if route is None:
                    self.send_error(404)
                    return
                with suppress(OSError):  # the client hung up: what imports do to slow and endless servers
                    route(self)

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        if self.tls is not None:

            def remember_sni(sock: ssl.SSLObject | ssl.SSLSocket, name: str | None, _: ssl.SSLContext) -> None:
                remote.server_names.append(name)

            self.tls.sni_callback = remember_sni
            self.server.socket = self.tls.wrap_socket(
                self.server.socket, server_side=True, do_handshake_on_connect=False
            )
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        return self

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}{path}"

    def stop(self) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()

    def paths(self) -> list[str]:
        return [seen.path for seen in self.seen]


def body(data: bytes, content_type: str = "image/jpeg", status: int = 200, length: int | None = None) -> Route:
    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(data) if length is None else length))
        handler.send_header("Connection", "close")  # so that a body shorter than its length ends
        handler.close_connection = True
        handler.end_headers()
        handler.wfile.write(data)

    return route


def redirect(location: str | None, status: int = 302) -> Route:
    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        if location is not None:
            handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return route


def drip(remote: Remote, *, in_headers: bool = False, per_second: float = 1.0) -> Route:
    """A byte a second: of the body after honest headers, or of the headers themselves."""

    def route(handler: BaseHTTPRequestHandler) -> None:
        if in_headers:
            handler.wfile.write(b"HTTP/1.1 200 OK\r\n")
            data = b"X-Slow: " + b"a" * 1000
        else:
            handler.send_response(200)
            handler.send_header("Content-Length", "1000")
            handler.end_headers()
            data = b"\xff" * 1000
        for byte in data:
            if remote.stopping.is_set():
                return
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()
            time.sleep(1 / per_second)

    return route


def endless(remote: Remote) -> Route:
    """A JPEG's first bytes, then zeros for ever: no Content-Length, closed only by the client."""

    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "image/jpeg")
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.wfile.write(b"\xff\xd8\xff")
        while not remote.stopping.is_set():
            handler.wfile.write(b"\0" * 65536)

    return route


def hang_up(handler: BaseHTTPRequestHandler) -> None:
    """Read the request, answer nothing, close."""
    handler.close_connection = True
    handler.connection.shutdown(socket.SHUT_RDWR)


class LoopbackGuard:
    """While on: a connection to any address but loopback, or a lookup of any name but localhost, fails (and is
    recorded) before a packet leaves, so that a bug in the fetcher's checks fails a test instead of reaching out."""

    def __init__(self) -> None:
        self.on = False
        self.refused: list[str] = []
        sys.addaudithook(self._audit)

    def _audit(self, event: str, args: tuple[Any, ...]) -> None:
        if not self.on:
            return
        if event == "socket.connect" and isinstance(args[1], tuple):
            host = str(args[1][0]).split("%")[0]
            if not ipaddress.ip_address(host).is_loopback:
                self.refused.append(f"connect {host}")
                raise ConnectionRefusedError(f"the test guard refused a connection to {host}")
        elif event == "socket.getaddrinfo" and args[0] is not None:
            name = args[0].decode() if isinstance(args[0], bytes) else str(args[0])
            try:
                ipaddress.ip_address(name.split("%")[0])
            except ValueError:
                if name != "localhost":
                    self.refused.append(f"lookup {name}")
                    raise socket.gaierror(socket.EAI_NONAME, f"the test guard refused a lookup of {name}") from None


GUARD = LoopbackGuard()
