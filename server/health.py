"""Liveness (/healthz), readiness (/readyz) and the Prometheus endpoint (/metrics)."""

import hmac
import logging
import tempfile
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache

from server.errors import COMPACT_JSON, allow_methods, error_response

from .metrics import exposition

logger = logging.getLogger(__name__)
UNAVAILABLE = "unavailable"


@never_cache
@allow_methods("GET", "HEAD")
def healthz(request: HttpRequest) -> JsonResponse:
    """The process answers; nothing else is checked (a dead Redis must not get a worker restarted)."""
    return JsonResponse({"status": "ok"}, json_dumps_params=COMPACT_JSON)


def _check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "ok"


def _check_data_dir() -> str:
    directory = Path(settings.DATA_DIR)
    with tempfile.NamedTemporaryFile(dir=directory, prefix=".readyz-") as probe:
        probe.write(b"ok")
        probe.flush()
    return "ok"


def _check_redis() -> str:
    if not settings.REDIS_URL:
        return "not configured"
    from django_redis import get_redis_connection

    get_redis_connection("default").ping()  # bypasses the circuit breaker: readiness wants the truth now
    return "ok"


CHECKS = {"database": _check_database, "data_dir": _check_data_dir, "redis": _check_redis}


@never_cache
@allow_methods("GET", "HEAD")
def readyz(request: HttpRequest) -> JsonResponse:
    """Ready when the database answers, DATA_DIR is writable and Redis answers (or is not configured)."""
    results: dict[str, str] = {}
    reasons: list[str] = []
    for name, check in CHECKS.items():
        try:
            results[name] = check()
        except Exception as exc:  # noqa: BLE001 - every failure is a reason to report, not to crash on
            # The body says which; why (addresses, paths, messages) is for the operator's log only.
            results[name] = UNAVAILABLE
            reasons.append(f"{name}: {type(exc).__name__}: {exc}"[:300])
    failed = [name for name, result in results.items() if result == UNAVAILABLE]
    if failed:
        logger.warning("not ready: %s", "; ".join(reasons))
        names = failed[0] if len(failed) == 1 else f"{', '.join(failed[:-1])} and {failed[-1]}"
        error = f"Not ready: {names} {'is' if len(failed) == 1 else 'are'} unavailable"
        response = JsonResponse(
            {"error": error, "code": "not_ready", "checks": results}, status=503, json_dumps_params=COMPACT_JSON
        )
        response._has_been_logged = True  # type: ignore[attr-defined] # logged above; not again by django.request
        return response
    return JsonResponse({"status": "ok", "checks": results}, json_dumps_params=COMPACT_JSON)


@never_cache
@allow_methods("GET", "HEAD")
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text format; public only where METRICS_PUBLIC is on, else behind METRICS_TOKEN."""
    if not settings.METRICS_PUBLIC:
        supplied = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        token = settings.METRICS_TOKEN
        if not token or not hmac.compare_digest(supplied.encode(), token.encode()):
            return error_response("Metrics need `Authorization: Bearer <METRICS_TOKEN>`.", "permission_denied", 403)
    return HttpResponse(exposition(), content_type="text/plain; version=0.0.4; charset=utf-8")
