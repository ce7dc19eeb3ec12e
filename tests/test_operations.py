"""Health, readiness, metrics, request ids, the client IP behind a proxy, and JSON logs."""

import json
import logging
import re
import socket
from ipaddress import ip_network
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client, override_settings
from rest_framework.test import APIClient

from originals.tests.conftest import jpeg_bytes, upload
from transforms import cache as variant_cache

from . import server as live

pytestmark = pytest.mark.django_db


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"


def metric(client: Client, name: str, **labels: str) -> float:
    text = client.get("/metrics").content.decode()
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    total = 0.0
    for line in text.splitlines():
        match = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
        if match and all(part in match.group(1).split(",") for part in wanted.split(",")):
            total += float(match.group(2))
    return total


def test_healthz(client: Client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_follows_redis(client: Client):
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "data_dir": "ok", "redis": "ok"}
    down = closed_port_url()
    with override_settings(CACHES={"default": {**settings.CACHES["default"], "LOCATION": down}}, REDIS_URL=down):
        response = client.get("/readyz")
        assert response.status_code == 503
        body = response.json()
        assert body["code"] == "not_ready" and "redis" in body["error"]
        assert body["checks"]["redis"] == "unavailable"
        assert body["checks"]["database"] == "ok"
    assert client.get("/readyz").status_code == 200, "ready again once Redis is back"
    with override_settings(REDIS_URL=""):
        assert client.get("/readyz").json()["checks"]["redis"] == "not configured"


@pytest.mark.parametrize(
    ("down", "error"),
    [
        (["redis"], "Not ready: redis is unavailable"),
        (["data_dir", "redis"], "Not ready: data_dir and redis are unavailable"),
    ],
)
def test_readyz_names_what_is_down_and_logs_why_once(
    client: Client, caplog: pytest.LogCaptureFixture, tmp_path: Path, down: list[str], error: str
):
    redis_url = closed_port_url()
    overrides: dict[str, Any] = {
        "CACHES": {"default": {**settings.CACHES["default"], "LOCATION": redis_url}},
        "REDIS_URL": redis_url,
    }
    if "data_dir" in down:
        overrides["DATA_DIR"] = tmp_path / "missing"
    with override_settings(**overrides), caplog.at_level("INFO"):
        response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body == {
        "error": error,
        "code": "not_ready",
        "checks": {"database": "ok", "data_dir": "unavailable" if "data_dir" in down else "ok", "redis": "unavailable"},
    }
    # What went wrong stays out of the body: no exception class, no address, no path, no message.
    for secret in ("Error", "127.0.0.1", redis_url.rsplit(":", 1)[1].split("/")[0], str(tmp_path), "refused"):
        assert secret not in response.content.decode()
    serious = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(serious) == 1 and serious[0].levelno == logging.WARNING, [r.getMessage() for r in serious]
    assert "ConnectionError" in serious[0].getMessage() and serious[0].exc_info is None


def test_metrics_move_after_a_miss_and_a_hit(client: Client):
    original = APIClient().post("/api/v1/originals/", {"file": upload(jpeg_bytes())}, format="multipart").json()
    before = {tier: metric(client, "darkroom_variant_requests_total", tier=tier) for tier in ("miss", "hit-redis")}
    renders_before = metric(client, "darkroom_render_seconds_count", stage="encode", format="jpeg")
    client.get(f"/image/{original['id']}/?w=17")
    client.get(f"/image/{original['id']}/?w=17")
    assert metric(client, "darkroom_variant_requests_total", tier="miss") == before["miss"] + 1
    assert metric(client, "darkroom_variant_requests_total", tier="hit-redis") == before["hit-redis"] + 1
    assert metric(client, "darkroom_render_seconds_count", stage="encode", format="jpeg") == renders_before + 1
    assert metric(client, "darkroom_bytes_served_total", kind="variant") > 0
    assert metric(client, "darkroom_http_responses_total", route="image", status="200") >= 2
    assert "darkroom_variant_cache_bytes" in client.get("/metrics").content.decode()


def test_a_head_counts_its_tier_and_no_body_bytes(client: Client):
    """darkroom_bytes_served counts the body bytes sent: a HEAD's answer has none, from the view or the fast path."""
    from server.wsgi import application

    original = APIClient().post("/api/v1/originals/", {"file": upload(jpeg_bytes())}, format="multipart").json()
    path = f"/image/{original['id']}/"
    assert client.get(path, {"w": 19}).status_code == 200  # a miss, rendered

    def through_the_fast_path() -> None:
        environ = {
            "REQUEST_METHOD": "HEAD",
            "PATH_INFO": path,
            "QUERY_STRING": "w=19",
            "SERVER_NAME": "testserver",
            "SERVER_PORT": "80",
            "HTTP_HOST": "testserver",
            "wsgi.url_scheme": "http",
            "wsgi.input": None,
        }
        answers: list[tuple[str, list[tuple[str, str]]]] = []
        body = b"".join(application(environ, lambda status, headers, exc_info=None: answers.append((status, headers))))
        assert answers[0][0] == "200 OK" and body == b"" and int(dict(answers[0][1])["Content-Length"]) > 0

    def through_the_view() -> None:
        response = client.head(path, {"w": 19})  # the test client calls Django's handler: the view
        assert response.status_code == 200 and response.content == b"" and int(response["Content-Length"]) > 0

    # the view; the fast path working the URL out, then answering it the hot way
    for head in (through_the_view, through_the_fast_path, through_the_fast_path):
        served, hits = metric(client, "darkroom_bytes_served_total", kind="variant"), _variant_hits(client)
        head()
        assert metric(client, "darkroom_bytes_served_total", kind="variant") == served, head.__name__
        assert _variant_hits(client) == hits + 1, head.__name__


def _variant_hits(client: Client) -> float:
    return sum(
        metric(client, "darkroom_variant_requests_total", tier=tier) for tier in ("hit-memory", "hit-redis", "hit-disk")
    )


def test_the_disk_cache_gauges_count_variants_not_lock_or_temporary_files(tmp_path: Path):
    from server.metrics import DiskCacheCollector

    (tmp_path / "AAAAAAAAAAAA").mkdir()
    (tmp_path / "AAAAAAAAAAAA" / f"{'0' * 64}.jpeg").write_bytes(b"x" * 100)
    (tmp_path / "AAAAAAAAAAAA" / f"{'1' * 64}.webp").write_bytes(b"x" * 50)
    (tmp_path / "AAAAAAAAAAAA" / ".tmp-123").write_bytes(b"x" * 1000)  # a write under way
    (tmp_path / ".locks").mkdir()
    (tmp_path / ".locks" / "ab.lock").write_bytes(b"")
    (tmp_path / ".locks" / "prune.lock").write_bytes(b"")
    with override_settings(VARIANTS_DIR=str(tmp_path)):
        gauges = {family.name: family.samples[0].value for family in DiskCacheCollector().collect()}
    assert gauges == {"darkroom_variant_cache_bytes": 150, "darkroom_variant_cache_files": 2}


def test_upload_refusals_are_counted(client: Client):
    before = metric(client, "darkroom_upload_refusals_total", code="unsupported_format")
    APIClient().post("/api/v1/originals/", {"file": upload(b"not an image", "x.png")}, format="multipart")
    assert metric(client, "darkroom_upload_refusals_total", code="unsupported_format") == before + 1


@override_settings(METRICS_PUBLIC=False, METRICS_TOKEN="s3cret-token")
def test_metrics_are_private_in_production(client: Client):
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token").status_code == 200


def test_request_id_is_echoed_or_made(client: Client):
    assert client.get("/healthz", HTTP_X_REQUEST_ID="abc12345-req").headers["X-Request-ID"] == "abc12345-req"
    made = client.get("/healthz", HTTP_X_REQUEST_ID="bad id with spaces").headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", made)


@override_settings(CLIENT_IP_HEADER="Fly-Client-IP", ANON_UPLOAD_RATE="1/minute")
def test_throttle_uses_the_proxy_client_ip():
    client = APIClient()
    for ip in ("203.0.113.7", "203.0.113.8"):
        cache.delete(f"throttle_anon_upload_{ip}")

    def post(ip: str, colour: str, spoofed_xff: str = "") -> int:
        extra: dict[str, Any] = {"HTTP_FLY_CLIENT_IP": ip, "HTTP_X_FORWARDED_FOR": spoofed_xff or ip}
        data = {"file": upload(jpeg_bytes(color=colour))}
        return client.post("/api/v1/originals/", data, format="multipart", **extra).status_code

    assert post("203.0.113.7", "red") == 201
    assert post("203.0.113.7", "blue", spoofed_xff="198.51.100.1") == 429, "X-Forwarded-For must not help"
    assert post("203.0.113.8", "green") == 201, "another client has its own budget"
    for ip in ("203.0.113.7", "203.0.113.8"):
        cache.delete(f"throttle_anon_upload_{ip}")


LOOPBACK = (ip_network("127.0.0.1/32"), ip_network("::1/128"))  # TRUSTED_PROXIES' default
FLY = (ip_network("10.0.0.0/8"), ip_network("172.16.0.0/12"), ip_network("192.168.0.0/16"))


@pytest.mark.parametrize(
    ("trusted_proxies", "peer", "trusted"),
    [
        (LOOPBACK, "127.0.0.1", True),
        (LOOPBACK, "::1", True),
        (LOOPBACK, "198.51.100.20", False),
        (LOOPBACK, "172.19.0.5", False),
        (FLY, "172.19.0.5", True),
        (FLY, "::ffff:172.19.0.5", True),  # an IPv4 peer on a dual-stack socket
        (FLY, "127.0.0.1", False),
        (FLY, "fdaa:0:1::2", False),  # another Machine on the private network is not the proxy
    ],
)
def test_client_ip_header_is_believed_only_from_trusted_proxies(
    caplog: pytest.LogCaptureFixture, trusted_proxies, peer: str, trusted: bool
):
    forged = ("203.0.113.21", "203.0.113.22")
    for ip in (peer, *forged):
        cache.delete(f"throttle_anon_upload_{ip}")
    client = APIClient(REMOTE_ADDR=peer)
    statuses = []
    with (
        override_settings(
            CLIENT_IP_HEADER="Fly-Client-IP", ANON_UPLOAD_RATE="1/minute", TRUSTED_PROXIES=trusted_proxies
        ),
        caplog.at_level("INFO", logger="darkroom.request"),
    ):
        for ip, colour in zip(forged, ("red", "blue"), strict=True):
            data = {"file": upload(jpeg_bytes(color=colour))}
            statuses.append(
                client.post("/api/v1/originals/", data, format="multipart", HTTP_FLY_CLIENT_IP=ip).status_code
            )
    logged = [r.__dict__["client_ip"] for r in caplog.records if r.getMessage().startswith("POST /api/v1/originals/")]
    if trusted:
        assert statuses == [201, 201], "each client the proxy names has its own throttle"
        assert logged == list(forged)
    else:
        assert statuses == [201, 429], "a header from anyone but the proxy does not buy a new throttle"
        assert logged == [peer, peer]
    for ip in (peer, *forged):
        cache.delete(f"throttle_anon_upload_{ip}")


def test_prune_schedule_enforces_the_cap(tmp_path: Path):
    with override_settings(VARIANT_CACHE_MAX_BYTES=1):
        for _ in range(variant_cache.prune_schedule.every - variant_cache.prune_schedule.renders % 200):
            variant_cache.prune_schedule.rendered()
        variant_cache.prune_schedule.wait_idle(10)  # the pass runs on this worker's prune thread, not in rendered()
    files = [p for p in Path(settings.VARIANTS_DIR).glob("*/*") if not p.name.startswith(".")]
    assert sum(p.stat().st_size for p in files) <= 1


@pytest.mark.slow
@pytest.mark.parametrize("server_name", live.TRIAL)
def test_json_logs_with_request_id_and_timing(tmp_path: Path, server_name: str):
    log_path = tmp_path / "server.log"
    env = {"LOG_FORMAT": "json"}
    running = live.start(tmp_path / "data", workers=1, extra_env=env, log_path=log_path, server=server_name)
    try:
        status, _, _ = running.request("GET", "/healthz", headers={"X-Request-ID": "trace-me-123"})
        assert status == 200
    finally:
        running.stop()
    records = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    line = next(r for r in records if r.get("path") == "/healthz")
    assert line["request_id"] == "trace-me-123" and line["status"] == 200
    assert line["level"] == "INFO" and isinstance(line["duration_ms"], float)


@pytest.mark.slow
@pytest.mark.parametrize(("trusted_proxies", "trusted"), [("127.0.0.0/8", True), ("192.0.2.0/24", False)])
@pytest.mark.parametrize("server_name", live.TRIAL)
def test_production_server_believes_proxy_headers_only_from_trusted_proxies(
    tmp_path: Path, trusted_proxies: str, trusted: bool, server_name: str
):
    """The server (the scheme) and Django (the client's address) both ask TRUSTED_PROXIES, in production mode.

    And a Host outside ALLOWED_HOSTS, there too, is a JSON 400 with one WARNING line, not an ERROR and a traceback.
    """
    log_path = tmp_path / "server.log"
    env = {
        "DARKROOM_ENV": "production",
        "SECRET_KEY": "s" * 50,
        "ALLOWED_HOSTS": "127.0.0.1",
        "ANONYMOUS_UPLOADS": "true",
        "CLIENT_IP_HEADER": "Fly-Client-IP",
        "TRUSTED_PROXIES": trusted_proxies,
        "LOG_FORMAT": "json",
    }
    running = live.start(tmp_path / "data", workers=1, extra_env=env, log_path=log_path, server=server_name)
    try:
        proxy_headers = {"Fly-Client-IP": "203.0.113.9", "X-Forwarded-Proto": "https", "Accept": "application/json"}
        status, _, body = running.upload(jpeg_bytes(), headers=proxy_headers)
        assert status == 201
        bad_host_status, _, bad_host_body = running.request("GET", "/api/v1/originals/", headers={"Host": "evil.test"})
    finally:
        running.stop()
    assert json.loads(body)["url"].startswith("https://" if trusted else "http://")
    assert bad_host_status == 400 and json.loads(bad_host_body)["code"] == "bad_request"

    text = log_path.read_text()
    records = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    upload_line = next(r for r in records if r.get("path") == "/api/v1/originals/" and r.get("status") == 201)
    assert upload_line["client_ip"] == ("203.0.113.9" if trusted else "127.0.0.1")
    host_lines = [r for r in records if r["logger"] == "django.security.DisallowedHost"]
    assert [r["level"] for r in host_lines] == ["WARNING"] and "exc_info" not in host_lines[0]
    assert "Traceback" not in text and not [r for r in records if r["level"] in ("ERROR", "CRITICAL")]


@override_settings(ALLOWED_HOSTS=["images.example.com"])
def test_probes_answer_whatever_host_the_prober_sends(client: Client):
    assert client.get("/healthz", HTTP_HOST="172.19.17.130:8080").status_code == 200
    assert client.get("/readyz", HTTP_HOST="172.19.17.130:8080").status_code == 200
    assert client.get("/api/v1/originals/", HTTP_HOST="172.19.17.130:8080").status_code == 400


@override_settings(ALLOWED_HOSTS=["images.example.com"])
@pytest.mark.parametrize("path", ["/api/v1/originals/", "/", "/admin/login/"])
def test_a_disallowed_host_is_a_400_and_one_warning_line(client: Client, caplog: pytest.LogCaptureFixture, path: str):
    with caplog.at_level("INFO"):
        response = client.get(path, HTTP_HOST="scanner.invalid")
    assert response.status_code == 400 and response.json()["code"] == "bad_request"
    serious = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [(r.name, r.levelname) for r in serious] == [("django.security.DisallowedHost", "WARNING")]
    assert serious[0].exc_info is None and serious[0].stack_info is None, "no traceback"


def test_cache_hits_are_counted_not_logged_unless_asked(client: Client, caplog: pytest.LogCaptureFixture):
    original = APIClient().post("/api/v1/originals/", {"file": upload(jpeg_bytes())}, format="multipart").json()
    path = f"/image/{original['id']}/?w=23"
    with caplog.at_level("INFO", logger="darkroom.request"):
        client.get(path)  # a miss: logged
        client.get(path)  # a hit: counted only
        with override_settings(LOG_CACHE_HITS=True):
            client.get(path)
    lines = [r for r in caplog.records if r.name == "darkroom.request" and r.getMessage().startswith("GET /image/")]
    assert [r.__dict__["cache"] for r in lines] == ["miss", "hit-redis"]


def test_a_body_over_the_limit_is_a_413_and_one_warning_line(client: Client, caplog: pytest.LogCaptureFixture):
    body = json.dumps({"username": "a" * 3_000_000, "password": "b"})
    with caplog.at_level("INFO"):
        response = client.post("/api/v1/token/", body, content_type="application/json")
    assert response.status_code == 413 and response.json()["code"] == "body_too_large"
    serious = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [(r.name, r.levelname) for r in serious] == [("django.security.RequestDataTooBig", "WARNING")]
    assert serious[0].exc_info is None, "no traceback: the client's mistake, answered"


# What each server answers to requests its HTTP layer may refuse before Django sees them, as (status, code): a code is
# the house's JSON error, None an empty body. gunicorn's refusals are written as the house's JSON
# (server/gunicorn.py, write_json_error). granian's HTTP layer is hyper, in Rust: it refuses bytes that are not HTTP,
# more than 100 headers and a request line over 64 KB before any Python runs, with the right status and an empty body,
# and has no hook to write another (README, "Why granian"); what it lets through, Django answers in JSON.
_LONG_QUERY = b"GET /image/abc/?w=" + b"9" * 9000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
_HUGE_LINE = b"GET /image/abc/?w=" + b"9" * 70_000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
_MANY_HEADERS = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + b"X-A: b\r\n" * 200 + b"\r\n"
_NOT_HTTP = b"NOT HTTP AT ALL\r\n\r\n"
_EXPECT_TEA = b"GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\nExpect: tea\r\n\r\n"
_BROTLI_CHUNKED = (
    b"POST /api/v1/originals/ HTTP/1.1\r\nHost: a\r\nConnection: close\r\n"
    b"Transfer-Encoding: br, chunked\r\n\r\n0\r\n\r\n"
)
REFUSALS: dict[str, list[tuple[bytes, int, str | None]]] = {
    "gunicorn": [
        (_LONG_QUERY, 414, "uri_too_long"),
        (_HUGE_LINE, 414, "uri_too_long"),
        (_MANY_HEADERS, 431, "headers_too_large"),
        (_NOT_HTTP, 400, "bad_request"),
        (_EXPECT_TEA, 417, "expectation_failed"),
        (_BROTLI_CHUNKED, 501, "not_implemented"),
    ],
    "granian": [
        (_LONG_QUERY, 400, "query_too_long"),  # Django's
        (_HUGE_LINE, 414, None),
        (_MANY_HEADERS, 431, None),
        (_NOT_HTTP, 400, None),
        (_EXPECT_TEA, 200, "served"),  # RFC 9110 10.1.1: a server MAY answer 417 to an expectation it does not know
        (_BROTLI_CHUNKED, 400, "missing_parameter"),  # read as chunked (empty): Django's answer to an upload of nothing
    ],
}


@pytest.mark.slow
@pytest.mark.parametrize("server_name", live.TRIAL)
def test_the_servers_own_refusals(tmp_path: Path, server_name: str):
    """What the server refuses before Django sees it (a long request line, too many headers, bytes that are not HTTP)
    gets a deliberate status; gunicorn's in the house's JSON, not its HTML page; granian's from its HTTP layer with an
    empty body (REFUSALS). The worker goes on serving after each."""
    running = live.start(tmp_path / "data", workers=1, server=server_name)
    try:
        answers = [(status, code, running.raw(request, timeout=10)) for request, status, code in REFUSALS[server_name]]
        assert running.request("GET", "/healthz")[0] == 200, "and the worker goes on serving"
    finally:
        running.stop()
    for status, code, (got, headers, body) in answers:
        assert got == status, (code, got, body[:200])
        if code is None:  # the HTTP layer's own: status only
            assert body == b"" and "content-type" not in headers, (status, headers, body)
        elif code == "served":
            assert headers["content-type"] == "application/json"
        else:
            assert (headers["content-type"], headers["cache-control"]) == ("application/json", "no-store"), headers
            payload = json.loads(body)
            assert payload["code"] == code and payload["error"].endswith("."), payload
            assert set(payload) <= {"error", "code", "param"}
            assert int(headers["content-length"]) == len(body)
