"""Login throttles on every login endpoint, keyed by client and by username, over HTTP with the real cache (Redis)."""

import itertools
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.test import Client, override_settings

from originals.models import User

pytestmark = pytest.mark.django_db

LIMIT = 3
LOCKOUT = 600
_addresses = itertools.count(1)


def new_ip() -> str:
    """An address of its own per call, so that tests never share a throttle count (the cache outlives a test)."""
    n = next(_addresses)
    return f"198.18.{n // 250}.{n % 250 + 1}"


def new_user(password: str = "a-long-password-1") -> User:
    """Staff, so that the admin's login lets it in too."""
    return User.objects.create_user(f"u{uuid.uuid4().hex[:12]}", password=password, is_staff=True)


@dataclass(frozen=True)
class Login:
    """One login endpoint: how to post a username and password, and what it answers on success and on failure."""

    name: str
    path: str
    as_json: bool
    succeeded: int
    failed: int

    def post(self, username: str, password: str, ip: str):
        data = {"username": username, "password": password}
        if self.as_json:
            return Client().post(self.path, data, content_type="application/json", REMOTE_ADDR=ip)
        return Client().post(self.path, {**data, "next": "/"}, REMOTE_ADDR=ip)


LOGINS = [
    Login("token", "/api/v1/token/", as_json=True, succeeded=200, failed=401),
    Login("admin", "/admin/login/", as_json=False, succeeded=302, failed=200),  # the form again, with its error
    Login("browsable-api", "/api-auth/login/", as_json=False, succeeded=302, failed=200),
]


@pytest.fixture(autouse=True)
def _small_limits():
    with override_settings(LOGIN_FAILURE_LIMIT=LIMIT, LOGIN_LOCKOUT_SECONDS=LOCKOUT):
        yield


def assert_throttled(login: Login, response) -> None:
    assert response.status_code == 429, response.content[:300]
    assert response["Retry-After"] == str(LOCKOUT)
    if login.as_json:
        body = response.json()
        assert body["code"] == "throttled" and f"try again in {LOCKOUT} seconds" in body["error"], "as Retry-After"
    else:
        assert response["Content-Type"].startswith("text/html")
        assert b"Too many failed logins" in response.content


def fail_then_lock(login: Login, attempt: Callable[[int], tuple[str, str]], right: tuple[User, str]) -> None:
    """LIMIT failures, each answered as the failure it is; the next attempt is refused even with a right password."""
    for n in range(LIMIT):
        username, ip = attempt(n)
        response = login.post(username, "wrong-password", ip)
        assert response.status_code == login.failed, (n, response.content[:300])
    user, ip = right
    assert_throttled(login, login.post(user.username, "a-long-password-1", ip))


@pytest.mark.parametrize("login", LOGINS, ids=lambda login: login.name)
def test_one_client_rotating_usernames_is_stopped(login):
    attacker, victim, bystander = new_ip(), new_user(), new_user()
    fail_then_lock(login, lambda n: (f"nobody-{uuid.uuid4().hex[:8]}", attacker), right=(victim, attacker))
    assert login.post(victim.username, "a-long-password-1", new_ip()).status_code == login.succeeded
    assert login.post(bystander.username, "a-long-password-1", new_ip()).status_code == login.succeeded


@pytest.mark.parametrize("login", LOGINS, ids=lambda login: login.name)
def test_many_clients_on_one_username_are_stopped(login):
    target, other = new_user(), new_user()
    attackers = [new_ip() for _ in range(LIMIT)]
    fail_then_lock(login, lambda n: (target.username, attackers[n]), right=(target, new_ip()))
    # Another username logs in, from a fresh client or from one of the attackers' own (one failure each).
    assert login.post(other.username, "a-long-password-1", new_ip()).status_code == login.succeeded
    assert login.post(other.username, "a-long-password-1", attackers[0]).status_code == login.succeeded


def test_failures_count_across_the_login_endpoints():
    """One count per client and per username, whichever door is knocked on: three doors do not give 3x the guesses."""
    target, ip = new_user(), new_ip()
    for login in LOGINS:
        assert login.post(target.username, "wrong-password", ip).status_code == login.failed
    for login in LOGINS:
        assert_throttled(login, login.post(target.username, "a-long-password-1", ip))


def test_a_username_spelled_as_an_address_does_not_lock_that_address():
    """axes hashes an IP and a username alike; failing as "198.18.x.y" must not lock out the client 198.18.x.y."""
    victim_ip, user, token = new_ip(), new_user(), LOGINS[0]
    for _ in range(LIMIT + 1):
        token.post(victim_ip, "wrong-password", new_ip())
    assert token.post(user.username, "a-long-password-1", victim_ip).status_code == 200


def test_logins_go_on_while_redis_hangs(settings):
    """The counts live in Redis; with Redis hanging, logins are answered (unthrottled), never a 500, and the
    cache is left alone for a moment after the first timeout instead of costing one per call."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(128)  # accepts into the backlog and never answers: every connection is one attempt
    url = f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    caches = {"default": {**settings.CACHES["default"], "LOCATION": url}}
    token = LOGINS[0]

    def logins() -> tuple[list[int], float]:
        user = new_user()
        started = time.monotonic()
        statuses = [token.post(user.username, "wrong-password", new_ip()).status_code for _ in range(LIMIT + 1)]
        statuses.append(token.post(user.username, "a-long-password-1", new_ip()).status_code)
        return statuses, time.monotonic() - started

    try:
        with override_settings(CACHES=caches):
            statuses, elapsed = logins()
        server.setblocking(False)
        attempts = 0
        while True:  # redis-py drops a connection that timed out: each attempt on the hanging Redis is a new one
            try:
                server.accept()[0].close()
            except BlockingIOError:
                break
            attempts += 1
    finally:
        server.close()
    assert statuses == [401] * (LIMIT + 1) + [200]
    # Counted, not timed (the machine is shared): after a timeout the cache is left alone for REDIS_RETRY_SECONDS,
    # so these logins try Redis about once per window. The bug (one 0.25 s timeout per cache call) made ~36 tries.
    assert 1 <= attempts <= 2 + elapsed / settings.REDIS_RETRY_SECONDS, (
        f"{len(statuses)} logins tried the hanging Redis {attempts} times in {elapsed:.1f}s"
    )
