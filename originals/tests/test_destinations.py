"""Where an import may go, as tables: the URL's normal form, IMPORT_URL_HOSTS' patterns, and which addresses pass."""

import ipaddress

import pytest
from django.core.exceptions import ImproperlyConfigured

from originals.destinations import forbidden_kind, parse_host_pattern, parse_target
from originals.fetch_errors import FetchError
from server import settings as project_settings


@pytest.mark.parametrize(
    ("url", "host", "port", "target", "host_header"),
    [
        ("HTTP://Images.Example.COM./a.jpg", "images.example.com", 80, "/a.jpg", "images.example.com"),
        ("https://images.example.com", "images.example.com", 443, "/", "images.example.com"),
        ("https://images.example.com:443/a", "images.example.com", 443, "/a", "images.example.com"),
        ("http://images.example.com:8080/a?b=1#frag", "images.example.com", 8080, "/a?b=1", "images.example.com:8080"),
        ("http://h.example/my photo.jpg?q=ü", "h.example", 80, "/my%20photo.jpg?q=%C3%BC", "h.example"),
        ("http://h.example/caf%C3%A9.jpg", "h.example", 80, "/caf%C3%A9.jpg", "h.example"),
        ("http://[2001:DB8::1]:8080/", "2001:db8::1", 8080, "/", "[2001:db8::1]:8080"),
        ("http://203.0.113.7/", "203.0.113.7", 80, "/", "203.0.113.7"),
        ("http://xn--bcher-kva.example/", "xn--bcher-kva.example", 80, "/", "xn--bcher-kva.example"),
        ("http://under_score.example:/", "under_score.example", 80, "/", "under_score.example"),
    ],
)
def test_a_url_is_sent_as_it_is_normalised(url, host, port, target, host_header):
    parsed = parse_target(url)
    assert (parsed.host, parsed.port, parsed.target, parsed.host_header) == (host, port, target, host_header)


@pytest.mark.parametrize(
    ("pattern", "url", "matches"),
    [
        ("images.example.com", "https://images.example.com/a.jpg", True),
        ("images.example.com", "http://images.example.com/a.jpg", True),
        ("images.example.com", "http://IMAGES.example.com./a.jpg", True),
        ("images.example.com", "https://images.example.com:8443/a.jpg", False),
        ("images.example.com", "https://a.images.example.com/a.jpg", False),
        ("images.example.com", "https://images.example.com.evil.example/", False),
        ("images.example.com:8443", "https://images.example.com:8443/a.jpg", True),
        ("images.example.com:8443", "https://images.example.com/a.jpg", False),
        ("images.example.com:*", "http://images.example.com:1234/a.jpg", True),
        ("*.example.com", "https://cdn.example.com/a.jpg", True),
        ("*.example.com", "https://a.b.example.com/a.jpg", True),
        ("*.example.com", "https://example.com/a.jpg", False),
        ("*.example.com", "https://badexample.com/a.jpg", False),
        ("*.example.com", "https://example.com.evil.example/a.jpg", False),
        ("*", "https://anything.example/a.jpg", True),
        ("*", "http://anything.example:8080/a.jpg", False),
        ("*:*", "http://anything.example:8080/a.jpg", True),
        ("[2001:db8::7]", "http://[2001:db8:0::7]/", True),
        ("203.0.113.7:*", "http://203.0.113.7:81/", True),
    ],
)
def test_host_patterns(pattern, url, matches):
    assert parse_host_pattern(pattern).matches(parse_target(url)) is matches


BAD_PATTERNS = [
    "http://images.example.com",
    "images.example.com/a",
    "*.*.example.com",
    "a*.example.com",
    "images.example.com:0",
    "images.example.com:70000",
    "[zz::1]",
    "[1::2::3]",
    "images.example.com:abc",
    "user@images.example.com",
]


@pytest.mark.parametrize("pattern", BAD_PATTERNS)
def test_bad_host_patterns_are_refused_by_the_settings_and_the_fetcher(monkeypatch, pattern):
    monkeypatch.setenv("IMPORT_URL_HOSTS", pattern)
    with pytest.raises(ImproperlyConfigured, match="IMPORT_URL_HOSTS"):
        project_settings._import_hosts("IMPORT_URL_HOSTS")
    with pytest.raises(ValueError):
        parse_host_pattern(pattern)


@pytest.mark.parametrize(
    "pattern", ["images.example.com", "*.example.com", "*", "*:*", "cdn.example.com:8443", "[2001:db8::7]:*", "a_b.c."]
)
def test_what_the_settings_take_the_fetcher_takes(monkeypatch, pattern):
    monkeypatch.setenv("IMPORT_URL_HOSTS", f" {pattern.upper()} ,")
    assert project_settings._import_hosts("IMPORT_URL_HOSTS") == [pattern]
    parse_host_pattern(pattern)


@pytest.mark.parametrize(
    "address",
    [
        "93.184.216.34",
        "1.1.1.1",
        "2606:4700:4700::1111",
        "::ffff:93.184.216.34",
        "64:ff9b::5db8:d822",
        "2002:5db8:d822::1",
    ],
)
def test_public_addresses_pass(address):
    assert forbidden_kind(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.0.1", "private"),
        ("fd12:3456::1", "private"),
        ("169.254.169.254", "cloud metadata"),
        ("fd00:ec2::254", "cloud metadata"),
        ("100.100.100.200", "cloud metadata"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("224.0.0.251", "multicast"),
        ("ff05::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("64:ff9b::a00:1", "private"),
        ("2002:c0a8:101::1", "private"),
        ("::ffff:169.254.169.254", "cloud metadata"),
    ],
)
def test_forbidden_addresses_and_their_kinds(address, kind):
    assert forbidden_kind(ipaddress.ip_address(address)) == kind


@pytest.mark.parametrize("address", ["127.0.0.1", "127.255.0.9", "::1", "::ffff:127.0.0.1"])
def test_loopback_is_all_the_test_setting_allows(address):
    assert forbidden_kind(ipaddress.ip_address(address), allow_loopback=True) is None
    for other in ("10.0.0.1", "169.254.169.254", "fd00::1", "::ffff:10.0.0.1", "0.0.0.0"):
        assert forbidden_kind(ipaddress.ip_address(other), allow_loopback=True) is not None


def test_every_refusal_of_a_url_is_one_of_its_codes():
    for url in ("ftp://a/", "http://a@b/", "http://[::1/", "x" * 3000, "http://1.2.3/"):
        with pytest.raises(FetchError) as caught:
            parse_target(url)
        assert caught.value.code in ("url_scheme", "url_invalid") and caught.value.status == 400
