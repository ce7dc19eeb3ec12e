"""A per-client limit on renders (cache misses): hits cost next to nothing and are never counted."""

import ipaddress

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit.core import get_usage


class RendersThrottled(Exception):
    """This client asked for more renders than RENDER_RATE allows; `wait` is seconds until the window ends."""

    def __init__(self, wait: int) -> None:
        super().__init__(f"too many renders; try again in {wait} s")
        self.wait = wait


def client_key(group: str, request: HttpRequest) -> str:
    """The client's address as RequestMiddleware set it; an IPv6 client counts by its /64 (it holds them all)."""
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return "unknown"  # no socket address (a unix socket, an in-process call): one shared client
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False).network_address)
    return str(address)


def admit_render(request: HttpRequest) -> None:
    """Count one render for the request's client (its address, as RequestMiddleware sets it); raise when over.

    Counted in the Django cache (Redis when configured, so across workers and hosts), in fixed windows as
    django-ratelimit keeps them. When the cache is down, renders are let
    through (RATELIMIT_FAIL_OPEN): Redis is an accelerator, never a reason to refuse.
    """
    usage = get_usage(request, group="darkroom.renders", key=client_key, rate=settings.RENDER_RATE, increment=True)
    if usage is not None and usage["should_limit"]:
        raise RendersThrottled(max(1, int(usage["time_left"])))
