"""The fetcher alone (no Django), against real servers on 127.0.0.1: it connects to the address it checked, with the
URL's host as Host, SNI and the certificate's name; each redirect is looked up and checked again."""

import io
import ipaddress
import socket
import ssl
import threading
import time
from contextlib import suppress

import pytest
import trustme

from originals.destinations import IPAddress, parse_host_pattern
from originals.fetch import FetchPolicy, LocalWriteError, fetch
from originals.fetch_errors import FetchError

from .conftest import jpeg_bytes
from .remote import body, redirect

PHOTO = jpeg_bytes(color="yellow")
LOOPBACK = ipaddress.ip_address("127.0.0.1")
PRIVATE = ipaddress.ip_address("10.0.0.1")


def policy(*hosts: str, **overrides: object) -> FetchPolicy:
    settings: dict[str, object] = {"max_bytes": 1_000_000, "timeout": 3.0, "allow_loopback": True}
    settings.update(overrides)
    return FetchPolicy(hosts=tuple(parse_host_pattern(h) for h in hosts), **settings)  # type: ignore[arg-type]


def refused(url: str, rules: FetchPolicy) -> FetchError:
    with pytest.raises(FetchError) as caught:
        fetch(url, io.BytesIO(), rules)
    return caught.value


class Resolver:
    """DNS as a test sees it: the answers it is told to give, one list a lookup, each lookup recorded."""

    def __init__(self, *answers: list[IPAddress], delay: float = 0.0, error: Exception | None = None):
        self.answers = list(answers)
        self.delay, self.error = delay, error
        self.asked: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int) -> list[IPAddress]:
        self.asked.append((host, port))
        time.sleep(self.delay)
        if self.error is not None:
            raise self.error
        return self.answers[min(len(self.asked), len(self.answers)) - 1]


def test_the_socket_goes_to_the_address_that_was_checked(remotes):
    remote = remotes({"/a.jpg": body(PHOTO)})
    rebinding = Resolver([LOOPBACK], [PRIVATE])  # a second lookup would get 10.0.0.1
    into = io.BytesIO()
    fetched = fetch(f"http://images.test:{remote.port}/a.jpg", into, policy("*:*", resolve=rebinding))
    assert into.getvalue() == PHOTO and fetched.size == len(PHOTO)
    assert rebinding.asked == [("images.test", remote.port)], "one lookup, and the connection went to its answer"
    assert remote.seen[0].headers["Host"] == f"images.test:{remote.port}"


def test_each_redirect_is_looked_up_and_checked_again(remotes):
    remote = remotes({"/go": redirect("/a.jpg"), "/a.jpg": body(PHOTO)})
    rebinding = Resolver([LOOPBACK], [PRIVATE])
    error = refused(f"http://images.test:{remote.port}/go", policy("*:*", resolve=rebinding))
    assert error.code == "url_address_forbidden" and "resolves to 10.0.0.1" in error.message
    assert remote.paths() == ["/go"] and len(rebinding.asked) == 2


def test_one_forbidden_address_refuses_the_host(remotes):
    remote = remotes({"/a.jpg": body(PHOTO)})
    for answer in ([LOOPBACK, PRIVATE], [PRIVATE, LOOPBACK]):
        error = refused(f"http://images.test:{remote.port}/a.jpg", policy("*:*", resolve=Resolver(answer)))
        assert error.code == "url_address_forbidden"
    assert remote.seen == []


def test_the_addresses_are_tried_in_turn(remotes):
    remote = remotes({"/a.jpg": body(PHOTO)})
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there: refused at once
    ipv6_first = Resolver([ipaddress.ip_address("::1"), LOOPBACK])
    assert fetch(f"http://images.test:{remote.port}/a.jpg", io.BytesIO(), policy("*:*", resolve=ipv6_first)).size
    error = refused(f"http://images.test:{port}/a.jpg", policy("*:*", resolve=Resolver([LOOPBACK])))
    assert error.code == "url_unreachable" and "refused" in error.message


def test_a_resolver_that_hangs_costs_the_deadline_and_no_more(remotes):
    slow = Resolver([LOOPBACK], delay=5)
    started = time.monotonic()
    error = refused("http://images.test/a.jpg", policy("*:*", resolve=slow, timeout=1.0))
    assert error.code == "url_timeout" and time.monotonic() - started < 1.5


def test_a_name_that_does_not_resolve_is_unreachable(remotes):
    missing = Resolver(error=socket.gaierror(socket.EAI_NONAME, "Name or service not known"))
    error = refused("http://images.test/a.jpg", policy("*", resolve=missing))
    assert (error.code, error.status) == ("url_unreachable", 502) and "resolved" in error.message


def test_the_system_resolver_is_asked_for_names(remotes):
    remote = remotes({"/a.jpg": body(PHOTO)})
    assert fetch(remote.url("/a.jpg", host="localhost"), io.BytesIO(), policy("localhost:*")).size == len(PHOTO)
    error = refused(remote.url("/a.jpg", host="localhost"), policy("localhost:*", allow_loopback=False))
    assert error.code == "url_address_forbidden" and "loopback" in error.message


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_remote(ca, remotes):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(context)
    return remotes({"/a.jpg": body(PHOTO)}, tls=context)


@pytest.fixture
def ca_file(ca, tmp_path) -> str:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def test_https_sends_the_host_as_sni_and_verifies_its_certificate(tls_remote, ca_file):
    into = io.BytesIO()
    fetch(tls_remote.url("/a.jpg", host="localhost"), into, policy("localhost:*", ca_file=ca_file))
    assert into.getvalue() == PHOTO
    assert tls_remote.server_names == ["localhost"]
    assert tls_remote.seen[0].headers["Host"] == f"localhost:{tls_remote.port}"


def test_https_to_an_address_the_certificate_does_not_name_is_refused(tls_remote, ca_file):
    error = refused(tls_remote.url("/a.jpg", host="127.0.0.1"), policy("127.0.0.1:*", ca_file=ca_file))
    assert (error.code, error.status) == ("url_tls", 502)
    assert tls_remote.seen == []


def test_https_from_an_unknown_ca_is_refused(tls_remote):
    error = refused(tls_remote.url("/a.jpg", host="localhost"), policy("localhost:*"))  # the system's CAs only
    assert error.code == "url_tls" and "certificate" in error.message
    assert tls_remote.seen == []


def test_https_to_a_plain_http_server_is_refused(remotes, ca_file):
    remote = remotes({"/a.jpg": body(PHOTO)})
    error = refused(f"https://localhost:{remote.port}/a.jpg", policy("localhost:*", ca_file=ca_file))
    assert error.code == "url_tls"


def test_a_tls_handshake_that_never_comes_is_cut_at_the_deadline(remotes):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # accepts into the backlog, never speaks: the client's handshake waits for ever
    try:
        started = time.monotonic()
        error = refused(f"https://localhost:{silent.getsockname()[1]}/", policy("localhost:*", timeout=1.0))
        assert error.code == "url_timeout" and time.monotonic() - started < 1.5
    finally:
        silent.close()


def test_the_deadline_covers_every_hop(remotes):
    remote = remotes({})

    def slow_redirect(handler):
        time.sleep(0.4)
        redirect("/hop")(handler)

    remote.routes["/hop"] = slow_redirect
    started = time.monotonic()
    error = refused(remote.url("/hop"), policy("127.0.0.1:*", timeout=1.0, max_redirects=10))
    assert error.code == "url_timeout" and time.monotonic() - started < 1.5
    assert 2 <= len(remote.seen) <= 3


def test_nothing_is_left_running(remotes):
    """Each fetch's watchdog ends with it: no timer thread outlives a fetch."""
    remote = remotes({"/a.jpg": body(PHOTO), "/404": body(b"", status=404)})
    before = threading.active_count()
    for path in ("/a.jpg", "/404") * 5:
        with suppress(FetchError):
            fetch(remote.url(path), io.BytesIO(), policy("127.0.0.1:*"))
    time.sleep(0.1)
    assert threading.active_count() <= before + 1  # the server's last handler may still be closing


def test_a_connect_that_hangs_costs_the_connect_timeout(remotes):
    full = socket.socket()
    full.bind(("127.0.0.1", 0))
    full.listen(0)  # a backlog that fills at once: Linux then drops further SYNs, and a connect waits
    waiting = []
    for _ in range(4):  # fill it: connect until one waits
        try:
            waiting.append(socket.create_connection(full.getsockname(), timeout=0.2))
        except TimeoutError:
            break
    else:
        pytest.fail("the backlog never filled")
    try:
        started = time.monotonic()
        rules = policy("127.0.0.1:*", connect_timeout=0.5, timeout=3.0)
        error = refused(f"http://127.0.0.1:{full.getsockname()[1]}/a.jpg", rules)
        elapsed = time.monotonic() - started
    finally:
        for sock in (*waiting, full):
            sock.close()
    assert error.code == "url_timeout" and "accept a connection within 0.5 seconds" in error.message
    assert 0.4 < elapsed < 1.0


def test_a_file_that_cannot_be_written_is_not_taken_for_the_remotes_fault(remotes):
    remote = remotes({"/a.jpg": body(PHOTO)})
    with open("/dev/full", "wb", buffering=0) as full, pytest.raises(LocalWriteError, match="No space left"):
        fetch(remote.url("/a.jpg"), full, policy("127.0.0.1:*"))
