"""Login throttles: django-axes' glue (client, limits, the 429s) and the same limit on bad refresh tokens."""

import logging
import time
from datetime import timedelta
from typing import Any

from axes.backends import AxesStandaloneBackend
from axes.handlers.cache import AxesCacheHandler
from axes.helpers import get_cache
from axes.signals import user_locked_out
from django.conf import settings
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import RedisError
from rest_framework.exceptions import Throttled
from rest_framework.request import Request

logger = logging.getLogger(__name__)


def client_ip(request: HttpRequest) -> str:
    """The client as server/middleware.py has set it: REMOTE_ADDR, from the trusted proxy header when configured.

    Named explicitly so that axes never falls back on django-ipware, which would believe X-Forwarded-For."""
    return str(request.META.get("REMOTE_ADDR", ""))


def username_key(request: HttpRequest, credentials: dict[str, Any] | None = None) -> str:
    """The username as axes keys it: prefixed, so that a username spelled like an IP address (failing as
    "203.0.113.7") counts against that name and never against the client 203.0.113.7 (axes hashes both alike)."""
    if credentials is not None:
        username = credentials.get("username")
    else:
        username = getattr(request, "data", request.POST).get("username")
    return f"user:{username or ''}"


def failure_limit(request: HttpRequest | None = None, credentials: dict[str, Any] | None = None) -> int:
    return int(settings.LOGIN_FAILURE_LIMIT)


def lockout_time(request: HttpRequest | None = None) -> timedelta:
    return timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS)


def _past_the_limit(request: object) -> bool:
    """Axes flags the failure that reaches the limit; Darkroom answers that one as the failure it is, and
    refuses every attempt after it (which axes no longer lets reach the password check)."""
    return int(getattr(request, "axes_failures_since_start", None) or 0) > failure_limit()


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: dict[str, Any] | None = None
) -> HttpResponse | None:
    """AXES_LOCKOUT_CALLABLE for the login forms (the admin, the browsable API): an HTML 429 with Retry-After."""
    if not _past_the_limit(request):
        return original_response
    seconds = settings.LOGIN_LOCKOUT_SECONDS
    response = render(request, "login_throttled.html", {"minutes": -(-seconds // 60)}, status=429)
    response["Retry-After"] = str(seconds)
    response["Cache-Control"] = "no-store"
    return response


@receiver(user_locked_out)
def refuse_locked_api_login(sender: object, request: HttpRequest | Request | None = None, **kwargs: Any) -> None:
    """The token endpoint authenticates a DRF request, which AxesMiddleware never sees: refuse it here, as a
    throttle, so that Darkroom's error handler answers 429 {"code": "throttled"} with Retry-After."""
    if isinstance(request, Request) and _past_the_limit(request):
        raise Throttled(wait=settings.LOGIN_LOCKOUT_SECONDS)


class LoginThrottleBackend(AxesStandaloneBackend):
    """Axes' backend (first in AUTHENTICATION_BACKENDS: refuses a locked-out client or username before the password
    is hashed), letting through authenticate() calls without a request, such as Django's test client login() or a
    script: they are no login over HTTP, and have no client to count against. Every login URL passes its request."""

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> None:
        if request is not None:
            super().authenticate(request, username, password, **kwargs)


class _FailOpenCounters:
    """The cache as axes counts in it, where a cache that fails counts nothing: while Redis is away logins go
    unthrottled (as uploads do) instead of failing with a 500, and after a failure the cache is left alone for
    REDIS_RETRY_SECONDS, so a hanging Redis costs one timeout, not one per call. IGNORE_EXCEPTIONS alone is not
    enough: django-redis then answers None for a count, and lets touch()'s errors through."""

    def __init__(self) -> None:
        self._away_until: dict[str, float] = {}  # per cache location

    def _call(self, method: str, *args: Any) -> Any:
        location = str(settings.CACHES.get("default", {}).get("LOCATION"))
        if time.monotonic() < self._away_until.get(location, 0.0):
            return None
        try:
            result = getattr(get_cache(), method)(*args)  # looked up on each use: cache connections are per thread
        except (RedisError, ConnectionInterrupted, OSError) as exc:
            result, error = None, str(exc)
        else:
            if result is not None or method in ("get", "delete"):  # None: django-redis swallowed an error
                return result
            error = f"{method}() failed"
        logger.warning("login throttle: the cache failed (%s); attempts go uncounted for a moment", error)
        self._away_until[location] = time.monotonic() + settings.REDIS_RETRY_SECONDS
        return result

    def get(self, key: str, default: int = 0) -> int:
        value = self._call("get", key, default)
        return value if isinstance(value, int) else default

    def add(self, key: str, value: int, timeout: int | None) -> bool:
        return bool(self._call("add", key, value, timeout))

    def incr(self, key: str, delta: int = 1) -> int:
        try:
            value = self._call("incr", key, delta)
        except ValueError:  # expired between add() and incr()
            self.add(key, delta, settings.LOGIN_LOCKOUT_SECONDS)
            return delta
        return value if isinstance(value, int) else 0

    def touch(self, key: str, timeout: int | None) -> bool:
        return bool(self._call("touch", key, timeout))

    def delete(self, key: str) -> bool:
        return bool(self._call("delete", key))


_counters = _FailOpenCounters()


class LoginAttempts(AxesCacheHandler):
    """AXES_HANDLER: axes' cache handler (Redis when REDIS_URL is set, else the file cache under DATA_DIR), so the
    counts are shared by every worker process, and a Redis outage costs throttling, never a login."""

    def __init__(self) -> None:
        self.cache = _counters


# Refresh tokens are not checked by authenticate(), so axes never hears of a bad one: count those failures here,
# per client (a bad token names no user that can be trusted), with the same limit, cool-off and cache.


def _refresh_failures_key(request: HttpRequest) -> str:
    return f"login-refresh-failures:{client_ip(request)}"


def refresh_refused_for(request: HttpRequest) -> int | None:
    """Seconds to wait when this client has sent too many bad refresh tokens, else None."""
    if _counters.get(_refresh_failures_key(request)) < failure_limit():
        return None
    refresh_failed(request)  # like axes: trying while refused starts the cool-off again
    return int(settings.LOGIN_LOCKOUT_SECONDS)


def refresh_failed(request: HttpRequest) -> None:
    key, timeout = _refresh_failures_key(request), int(settings.LOGIN_LOCKOUT_SECONDS)
    if not _counters.add(key, 1, timeout):
        _counters.incr(key)
        _counters.touch(key, timeout)
