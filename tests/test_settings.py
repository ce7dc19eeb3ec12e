"""server/settings.py read afresh from an environment: production fails closed, bad values stop the start."""

import os
import runpy
import subprocess
import sys
from ipaddress import ip_network
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = {"DARKROOM_ENV": "production", "SECRET_KEY": "s" * 50, "ALLOWED_HOSTS": "images.example.com"}
LOCAL = {"DARKROOM_ENV": "local"}
# Every variable these tests set, cleared first so that the developer's or CI's environment cannot leak in.
NAMES = (
    "DARKROOM_ENV",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "DEBUG",
    "URL_SIGNING",
    "URL_SIGNING_KEYS",
    "WIDTH_LADDER",
    "TRUSTED_PROXIES",
    "FORWARDED_ALLOW_IPS",
    "AUTO_FORMATS",
    "PUBLIC_BASE_URL",
    "IMPORT_URL_HOSTS",
    "IMPORT_URL_MAX_REDIRECTS",
    "IMPORT_URL_TIMEOUT_SECONDS",
    "IMPORT_URL_CONNECT_TIMEOUT_SECONDS",
    "IMPORT_URL_CA_FILE",
    "IMPORT_URL_ALLOW_LOOPBACK",
    "RENDER_PROCESS_KEEP",
    "RENDER_THREADS",
)


def load(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> dict[str, Any]:
    for name in NAMES:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(ROOT / "server" / "settings.py"))


@pytest.mark.parametrize(
    ("env", "mode"),
    [
        (PRODUCTION, "presets"),  # signed by default, with a key derived from SECRET_KEY
        ({**PRODUCTION, "URL_SIGNING_KEYS": "k" * 32}, "presets"),
        ({**PRODUCTION, "URL_SIGNING": "required"}, "required"),
        ({**PRODUCTION, "URL_SIGNING": "off"}, "off"),  # only when asked for in so many words
        (LOCAL, "off"),  # the quick start: unsigned until keys are set
        ({**LOCAL, "URL_SIGNING_KEYS": "k" * 32}, "presets"),
    ],
)
def test_url_signing_defaults(monkeypatch, env, mode):
    assert load(monkeypatch, env)["URL_SIGNING"] == mode


@pytest.mark.parametrize("env", [PRODUCTION, LOCAL])
def test_the_width_ladder_starts_with_placeholder_and_avatar_widths(monkeypatch, env):
    ladder = load(monkeypatch, env)["WIDTH_LADDER"]
    assert ladder[:3] == [32, 64, 160] and ladder[-1] == 2560


@pytest.mark.parametrize(
    ("env", "refused"),
    [
        ({**PRODUCTION, "DEBUG": "true"}, "DEBUG"),
        ({**PRODUCTION, "DEBUG": "1"}, "DEBUG"),
        ({**PRODUCTION, "TRUSTED_PROXIES": "*"}, "TRUSTED_PROXIES"),
        ({**PRODUCTION, "TRUSTED_PROXIES": "0.0.0.0/0"}, "TRUSTED_PROXIES"),
        ({**PRODUCTION, "TRUSTED_PROXIES": "10.0.0.0/8,::/0"}, "TRUSTED_PROXIES"),
        ({**PRODUCTION, "TRUSTED_PROXIES": "fly-proxy"}, "TRUSTED_PROXIES"),
        ({**PRODUCTION, "TRUSTED_PROXIES": "10.0.0.1/8"}, "TRUSTED_PROXIES"),  # host bits: a typo
        ({**PRODUCTION, "FORWARDED_ALLOW_IPS": "*"}, "TRUSTED_PROXIES"),
        ({**LOCAL, "FORWARDED_ALLOW_IPS": "127.0.0.1"}, "TRUSTED_PROXIES"),
        ({**LOCAL, "AUTO_FORMATS": "avif,png"}, "AUTO_FORMATS"),
        ({**LOCAL, "AUTO_FORMATS": "jxl"}, "AUTO_FORMATS"),
        ({**LOCAL, "AUTO_FORMATS": "webp,webp"}, "AUTO_FORMATS"),
        ({**LOCAL, "AUTO_FORMATS": "AVIF"}, "AUTO_FORMATS"),
        ({**LOCAL, "PUBLIC_BASE_URL": "img.example.com"}, "PUBLIC_BASE_URL"),
        ({**LOCAL, "PUBLIC_BASE_URL": "https://img.example.com/?a=1"}, "PUBLIC_BASE_URL"),
        ({**LOCAL, "PUBLIC_BASE_URL": "javascript:alert(1)"}, "PUBLIC_BASE_URL"),
        ({**PRODUCTION, "IMPORT_URL_ALLOW_LOOPBACK": "true"}, "IMPORT_URL_ALLOW_LOOPBACK"),
        ({**LOCAL, "IMPORT_URL_ALLOW_LOOPBACK": "maybe"}, "IMPORT_URL_ALLOW_LOOPBACK"),
        ({**LOCAL, "IMPORT_URL_HOSTS": "https://images.example.com"}, "IMPORT_URL_HOSTS"),
        ({**LOCAL, "IMPORT_URL_HOSTS": "images.example.com,*.*.example.com"}, "IMPORT_URL_HOSTS"),
        ({**LOCAL, "IMPORT_URL_MAX_REDIRECTS": "-1"}, "IMPORT_URL_MAX_REDIRECTS"),
        ({**LOCAL, "IMPORT_URL_TIMEOUT_SECONDS": "0"}, "IMPORT_URL_TIMEOUT_SECONDS"),
        ({**LOCAL, "IMPORT_URL_TIMEOUT_SECONDS": "600"}, "IMPORT_URL_TIMEOUT_SECONDS"),
        ({**LOCAL, "IMPORT_URL_TIMEOUT_SECONDS": "ten"}, "IMPORT_URL_TIMEOUT_SECONDS"),
        ({**LOCAL, "IMPORT_URL_CONNECT_TIMEOUT_SECONDS": "20"}, "IMPORT_URL_CONNECT_TIMEOUT_SECONDS"),
        ({**LOCAL, "IMPORT_URL_CA_FILE": "/nonexistent/ca.pem"}, "IMPORT_URL_CA_FILE"),
        ({**LOCAL, "RENDER_PROCESS_KEEP": "1000"}, "RENDER_PROCESS_KEEP"),
        ({**LOCAL, "RENDER_THREADS": "0"}, "RENDER_THREADS"),
        ({**LOCAL, "RENDER_THREADS": "two"}, "RENDER_THREADS"),
    ],
)
def test_refused_at_start(monkeypatch, env, refused):
    with pytest.raises(ImproperlyConfigured, match=refused):
        load(monkeypatch, env)


@pytest.mark.parametrize("command", [["manage.py", "migrate"], ["-m", "server.granian_serve"]])
def test_a_refused_setting_stops_make_run_with_one_line(command):
    """make run migrates, then serves: either says what is wrong in one line, not in a 58-line traceback."""
    # PROMETHEUS_MULTIPROC_DIR too: granian_serve empties it at its start
    kept = {name: value for name, value in os.environ.items() if name not in NAMES}
    env = {name: value for name, value in kept.items() if name != "PROMETHEUS_MULTIPROC_DIR"}
    env.update(LOCAL, RENDER_PROCESS_KEEP="1000", PORT="1")  # were it served, port 1 would fail, not collide
    done = subprocess.run([sys.executable, *command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip() == "darkroom: RENDER_PROCESS_KEEP must be at least 16777216, got 1000"


@pytest.mark.parametrize(
    ("value", "formats"),
    [
        (None, ["avif", "webp"]),
        ("webp,avif", ["webp", "avif"]),
        ("webp", ["webp"]),
        (" avif , webp", ["avif", "webp"]),
        ("", []),
    ],
)
def test_auto_formats(monkeypatch, value, formats):
    assert load(monkeypatch, LOCAL if value is None else {**LOCAL, "AUTO_FORMATS": value})["AUTO_FORMATS"] == formats


def test_debug_is_allowed_in_the_quick_start(monkeypatch):
    assert load(monkeypatch, {**LOCAL, "DEBUG": "true"})["DEBUG"] is True


@pytest.mark.parametrize(
    ("value", "networks"),
    [
        (None, [ip_network("127.0.0.1/32"), ip_network("::1/128")]),
        ("10.0.0.0/8, 172.16.0.0/12", [ip_network("10.0.0.0/8"), ip_network("172.16.0.0/12")]),
        ("192.0.2.7", [ip_network("192.0.2.7/32")]),
    ],
)
def test_trusted_proxies(monkeypatch, value, networks):
    env = PRODUCTION if value is None else {**PRODUCTION, "TRUSTED_PROXIES": value}
    settings = load(monkeypatch, env)
    assert list(settings["TRUSTED_PROXIES"]) == networks
    # The scheme comes from these peers alone (server/granian_serve.py, gunicorn's forwarded_allow_ips); Django's own
    # SECURE_PROXY_SSL_HEADER would believe X-Forwarded-Proto from anyone.
    assert "SECURE_PROXY_SSL_HEADER" not in settings


@pytest.mark.parametrize(
    ("value", "base"),
    [
        (None, ""),
        ("https://img.example.com/", "https://img.example.com"),
        ("http://127.0.0.1:8000/dr", "http://127.0.0.1:8000/dr"),
    ],
)
def test_public_base_url(monkeypatch, value, base):
    assert load(monkeypatch, LOCAL if value is None else {**LOCAL, "PUBLIC_BASE_URL": value})["PUBLIC_BASE_URL"] == base


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (PRODUCTION, {"IMPORT_URL_HOSTS": [], "IMPORT_URL_MAX_REDIRECTS": 3, "IMPORT_URL_TIMEOUT_SECONDS": 10.0}),
        (PRODUCTION, {"IMPORT_URL_CONNECT_TIMEOUT_SECONDS": 3.0, "IMPORT_URL_ALLOW_LOOPBACK": False}),
        ({**LOCAL, "IMPORT_URL_TIMEOUT_SECONDS": "2"}, {"IMPORT_URL_CONNECT_TIMEOUT_SECONDS": 2.0}),
        ({**LOCAL, "IMPORT_URL_ALLOW_LOOPBACK": "true"}, {"IMPORT_URL_ALLOW_LOOPBACK": True}),
        (
            {**PRODUCTION, "IMPORT_URL_HOSTS": "Images.Example.com, *.cdn.example.com:8443,[2001:DB8::7]:*"},
            {"IMPORT_URL_HOSTS": ["images.example.com", "*.cdn.example.com:8443", "[2001:db8::7]:*"]},
        ),
        ({**LOCAL, "IMPORT_URL_MAX_REDIRECTS": "0"}, {"IMPORT_URL_MAX_REDIRECTS": 0}),
    ],
)
def test_import_by_url_settings(monkeypatch, env, expected):
    settings = load(monkeypatch, env)
    assert {name: settings[name] for name in expected} == expected
