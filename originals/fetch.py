"""Fetch one image by URL for an import: to public addresses only, each checked before it is connected to (the
socket goes to the address that was checked: no second lookup for DNS rebinding to change), redirects followed by
hand and checked again, the body streamed to a file under a byte limit, all of it within one deadline.

Pure (no Django): the caller passes a FetchPolicy built from its settings and a file to write to.
"""

import http.client
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import BinaryIO
from urllib.parse import urljoin

from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.response import BaseHTTPResponse

from .destinations import HostPattern, IPAddress, Target, check_address, check_allowed, parse_target
from .fetch_errors import FetchError

REDIRECTS = frozenset({301, 302, 303, 307, 308})
CHUNK_BYTES = 64 * 1024
Resolver = Callable[[str, int], list[IPAddress]]


def resolve_addresses(host: str, port: int) -> list[IPAddress]:
    """Every address the system's resolver gives for the host, in its order, once each."""
    found: dict[IPAddress, None] = {}
    for *_, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP):
        found[ipaddress.ip_address(sockaddr[0])] = None
    return list(found)


@dataclass(frozen=True)
class FetchPolicy:
    """What a fetch may do: the hosts it may ask (IMPORT_URL_HOSTS), the bytes it may take, how long it may take in
    all and to connect, how many redirects it follows; `resolve` is the system's resolver but for tests."""

    hosts: tuple[HostPattern, ...]
    max_bytes: int
    timeout: float = 10.0
    connect_timeout: float = 3.0
    max_redirects: int = 3
    allow_loopback: bool = False
    ca_file: str | None = None
    user_agent: str = "Darkroom-import/1"
    resolve: Resolver = resolve_addresses


class LocalWriteError(RuntimeError):
    """The file the body goes to failed (a full disk): this server's fault, a 500, not the remote's."""


@dataclass(frozen=True)
class Fetched:
    url: str  # the URL the body came from, after redirects
    size: int
    content_type: str  # as the server said: for the log only, never for the format
    redirects: int


# Lookups run apart so that a resolver that hangs costs the deadline, not the worker's thread. Four at once: more
# imports wait their turn, within their own deadlines.
_LOOKUPS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="import-dns")


class Deadline:
    def __init__(self, seconds: float):
        self.seconds = seconds
        self.ends = time.monotonic() + seconds

    def remaining(self) -> float:
        """Seconds left; FetchError url_timeout when none are."""
        left = self.ends - time.monotonic()
        if left <= 0:
            raise self.expired()
        return left

    def expired(self) -> FetchError:
        return FetchError(
            f"The URL's server did not answer in full within {self.seconds:g} seconds.", code="url_timeout", status=504
        )


class _Watchdog:
    """Shuts the connection's socket down at the deadline, whatever the reading thread waits for: a server that
    drips a header or the body a byte at a time keeps every single read under its timeout."""

    def __init__(self, connection: HTTPConnection, deadline: Deadline):
        self.connection = connection
        self.sockets: list[socket.socket] = []
        self.fired = threading.Event()
        self.timer = threading.Timer(max(0.0, deadline.ends - time.monotonic()), self._cut)
        self.timer.daemon = True

    def remember(self, sock: socket.socket | None) -> None:
        if sock is not None:
            self.sockets.append(sock)  # http.client lets go of it once a response will close the connection

    def _cut(self) -> None:
        self.fired.set()
        for sock in (*self.sockets, self.connection.sock):
            if sock is not None:
                with suppress(OSError):  # the plain socket's shutdown, also under TLS: SSLSocket's drops its state
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _unreachable(target: Target, why: str) -> FetchError:
    return FetchError(f"{target.host_header} could not be reached: {why}.", code="url_unreachable", status=502)


def _why(exc: BaseException) -> str:
    reason = exc.__cause__ or exc.__context__ or exc
    if isinstance(exc, NewConnectionError) and isinstance(reason, OSError) and reason.strerror:
        return reason.strerror.lower()
    if isinstance(exc, http.client.HTTPException | ConnectionError):
        return "the connection broke, or the answer was not HTTP"
    return type(exc).__name__


def _addresses(target: Target, policy: FetchPolicy, deadline: Deadline) -> list[IPAddress]:
    """The host's addresses, every one of them checked: one forbidden address refuses the host."""
    if target.address is not None:
        addresses = [target.address]
    else:
        lookup = _LOOKUPS.submit(policy.resolve, target.host, target.port)
        try:
            addresses = lookup.result(timeout=deadline.remaining())
        except FutureTimeout:
            raise deadline.expired() from None
        except (OSError, UnicodeError) as exc:
            raise _unreachable(target, "its host name could not be resolved") from exc
        if not addresses:
            raise _unreachable(target, "its host name has no address")
    for address in addresses:
        check_address(target, address, allow_loopback=policy.allow_loopback)
    return addresses


def _connection(target: Target, address: IPAddress, policy: FetchPolicy, timeout: float) -> HTTPConnection:
    """A connection to this address, presenting (and, for https, verifying the certificate of) the URL's host."""
    if target.scheme == "https":
        return HTTPSConnection(
            str(address),
            target.port,
            timeout=timeout,
            server_hostname=target.host,  # SNI, and the name the certificate must carry
            cert_reqs="CERT_REQUIRED",
            ca_certs=policy.ca_file,
        )
    return HTTPConnection(str(address), target.port, timeout=timeout)


def _connect(
    target: Target, policy: FetchPolicy, deadline: Deadline, watchdog_of: Callable[..., _Watchdog]
) -> tuple[HTTPConnection, _Watchdog]:
    """Connected (and, for https, past the verified handshake) to the first of the host's checked addresses that
    answers."""
    failure: BaseException | None = None
    for address in _addresses(target, policy, deadline):
        connection = _connection(target, address, policy, min(policy.connect_timeout, deadline.remaining()))
        watchdog = watchdog_of(connection)
        try:
            connection.connect()
        except ConnectTimeoutError as exc:  # and NewConnectionError, its subclass: refused, unroutable
            watchdog.timer.cancel()
            failure = exc
            continue
        except Exception as exc:  # the TLS handshake: refused, broken, or too slow
            watchdog.timer.cancel()
            connection.close()
            raise _handshake_failure(target, exc, watchdog, deadline, policy) from exc
        watchdog.remember(connection.sock)
        return connection, watchdog
    deadline.remaining()  # a connect timeout that spent the deadline is a timeout
    if isinstance(failure, ConnectTimeoutError) and not isinstance(failure, NewConnectionError):  # its subclass
        raise _slow(target, "accept a connection", policy.connect_timeout) from failure
    assert failure is not None
    raise _unreachable(target, _why(failure)) from failure


def _slow(target: Target, what: str, seconds: float) -> FetchError:
    return FetchError(
        f"{target.host_header} did not {what} within {seconds:g} seconds.", code="url_timeout", status=504
    )


def _handshake_failure(
    target: Target, exc: Exception, watchdog: _Watchdog, deadline: Deadline, policy: FetchPolicy
) -> FetchError:
    if watchdog.fired.is_set():
        return deadline.expired()
    if isinstance(exc, TimeoutError):
        return _slow(target, "complete the TLS handshake", policy.connect_timeout)
    if isinstance(exc, ssl.SSLError):
        why = getattr(exc, "verify_message", "") or getattr(exc, "reason", "") or type(exc).__name__
        return FetchError(f"The TLS handshake with {target.host_header} failed: {why}.", code="url_tls", status=502)
    return _unreachable(target, _why(exc))


@contextmanager
def _exchange(target: Target, policy: FetchPolicy, deadline: Deadline) -> Iterator[BaseHTTPResponse]:
    """One GET to one checked address, its response open (headers read, body not) while the block runs."""

    def watchdog_of(connection: HTTPConnection) -> _Watchdog:
        watchdog = _Watchdog(connection, deadline)
        watchdog.timer.start()
        return watchdog

    connection, watchdog = _connect(target, policy, deadline, watchdog_of)
    response: BaseHTTPResponse | None = None
    try:
        connection.timeout = deadline.remaining()  # each read's bound; the watchdog is the whole exchange's
        headers = {
            "Host": target.host_header,
            "User-Agent": policy.user_agent,
            "Accept": "image/*",
            "Accept-Encoding": "identity",  # the bytes as stored, never a compressed stream to inflate
            "Connection": "close",
        }
        connection.request("GET", target.target, headers=headers, preload_content=False, decode_content=False)
        response = connection.getresponse()
        yield response
        if watchdog.fired.is_set():  # a body cut short at the deadline can look like a clean end
            raise deadline.expired()
    except (FetchError, LocalWriteError):
        raise
    except Exception as exc:  # sockets, http.client, urllib3's ProtocolError: what broke is the remote's answer
        if watchdog.fired.is_set() or isinstance(exc, TimeoutError):
            raise deadline.expired() from exc
        if response is not None:  # it was reached and answered, then broke off (a truncated body, a reset)
            raise FetchError(
                f"{target.host_header} broke off its answer: {_why(exc)}.", code="url_unreachable", status=502
            ) from exc
        raise _unreachable(target, _why(exc)) from exc
    finally:
        watchdog.timer.cancel()
        if response is not None:
            response.close()
        connection.close()


def _too_large(size: int | None, limit: int) -> FetchError:
    got = f" ({size:,} bytes)" if size else ""
    return FetchError(
        f"The image at the URL is too large{got}; the limit is {limit:,} bytes.", code="file_too_large", status=413
    )


def _stream(response: BaseHTTPResponse, into: BinaryIO, max_bytes: int, deadline: Deadline) -> int:
    """The body into the file, refused (413) from its Content-Length up front or once it passes the limit."""
    declared = response.headers.get("Content-Length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(int(declared), max_bytes)
    size = 0
    while chunk := response.read(CHUNK_BYTES, decode_content=False):
        size += len(chunk)
        if size > max_bytes:
            raise _too_large(None, max_bytes)
        try:
            into.write(chunk)
        except OSError as exc:  # this host's disk, not the remote: never to be taken for a broken connection
            raise LocalWriteError(f"the fetched body could not be written: {exc}") from exc
        deadline.remaining()
    return size


def _redirected(target: Target, response: BaseHTTPResponse, policy: FetchPolicy) -> Target:
    """The next hop, checked as the client's URL was: scheme, host, allow-list (its addresses when it is asked)."""
    locations = response.headers.getlist("Location")
    if len(locations) != 1 or not locations[0]:
        raise FetchError(
            f"{target.host_header} answered {response.status} without one Location to follow.",
            code="url_status",
            status=502,
        )
    location = locations[0]
    with suppress(UnicodeError):  # http.client reads headers as Latin-1; a server's raw UTF-8 is text again
        location = location.encode("latin-1").decode("utf-8")
    shown = location if len(location) <= 200 else location[:200] + "…"
    try:
        following = parse_target(urljoin(target.url, location))
        check_allowed(following, policy.hosts)
        if following.address is not None:  # checked here too, so that the refusal says where it was sent
            check_address(following, following.address, allow_loopback=policy.allow_loopback)
    except FetchError as exc:
        raise FetchError(
            f"{target.url} redirected to {shown}: {exc.message}", code=exc.code, status=exc.status
        ) from None
    return following


def fetch(url: str, into: BinaryIO, policy: FetchPolicy) -> Fetched:
    """Write the body of the URL's 200 answer into `into`, following at most policy.max_redirects redirects;
    FetchError for anything else, within policy.timeout seconds in all."""
    deadline = Deadline(policy.timeout)
    target = parse_target(url)
    check_allowed(target, policy.hosts)
    redirects = 0
    while True:
        with _exchange(target, policy, deadline) as response:
            if response.status in REDIRECTS:
                if redirects == policy.max_redirects:
                    raise FetchError(
                        f"The URL redirected more than {policy.max_redirects} times (the limit).",
                        code="url_too_many_redirects",
                        status=502,
                    )
                redirects += 1
                target = _redirected(target, response, policy)
                continue
            if response.status != 200:
                reason = f" {response.reason}" if response.reason else ""
                raise FetchError(
                    f"{target.host_header} answered {response.status}{reason}; only a 200 with the image is taken.",
                    code="url_status",
                    status=502,
                )
            size = _stream(response, into, policy.max_bytes, deadline)
            content_type = response.headers.get("Content-Type", "")
        return Fetched(target.url, size, content_type, redirects)
