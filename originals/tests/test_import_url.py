"""Import by URL through the API, against real servers on 127.0.0.1: stored as an upload would be, refused with a
JSON error naming `url` for every hostile URL, redirect, slow or endless server, within the deadline."""

import hashlib
import json
import ssl
import time
from urllib.parse import urlencode

import pytest
import trustme
from django.core.cache import cache
from django.test import override_settings
from rest_framework.test import APIClient

from originals.models import Original

from .conftest import image_bytes, jpeg_bytes, upload
from .remote import body, drip, endless, hang_up, redirect

pytestmark = pytest.mark.django_db

API = "/api/v1/originals/"
FORM = "application/x-www-form-urlencoded"
LOOPBACK_HOSTS = ["127.0.0.1:*", "localhost:*"]


@pytest.fixture
def importing(settings):
    """Import on, from the test servers: loopback allowed (the test-only setting), a deadline of 3 s."""
    settings.IMPORT_URL_HOSTS = LOOPBACK_HOSTS
    settings.IMPORT_URL_ALLOW_LOOPBACK = True
    settings.IMPORT_URL_TIMEOUT_SECONDS = 3.0
    settings.IMPORT_URL_CONNECT_TIMEOUT_SECONDS = 2.0
    return settings


def post_url(client: APIClient, url: object, how: str = "json"):
    if how == "json":
        return client.post(API, json.dumps({"url": url}), content_type="application/json")
    return client.post(API, {"url": url}, format=how)


def refusal(response, status: int, code: str) -> dict[str, str]:
    assert response.status_code == status, response.content
    payload = response.json()
    assert payload["code"] == code, payload
    assert payload["param"] == "url", payload
    return payload


# The photo and what the server says it is: the bytes decide, never the Content-Type or the name.
PHOTO = jpeg_bytes((64, 48), color="teal")


@pytest.mark.parametrize("how", ["json", "multipart", "form"])
def test_an_imported_image_is_stored_as_its_upload_would_be(client, importing, remotes, how):
    remote = remotes({"/pics/holiday%20snap.jpg": body(PHOTO, content_type="text/html")})
    url = remote.url("/pics/holiday%20snap.jpg")
    response = (
        client.post(API, urlencode({"url": url}), content_type=FORM) if how == "form" else post_url(client, url, how)
    )
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["sha256"] == hashlib.sha256(PHOTO).hexdigest()
    assert (created["format"], created["width"], created["height"], created["bytes"]) == ("JPEG", 64, 48, len(PHOTO))
    assert created["filename"] == "holiday snap.jpg"
    assert created["blurhash"] and created["dominant_color"].startswith("#"), "its placeholder, as an upload's"
    assert response["Location"].endswith(f"/api/v1/originals/{created['id']}/")
    stored = client.get(created["original_url"])
    assert b"".join(stored.streaming_content) == PHOTO


def test_the_same_bytes_uploaded_then_imported_are_one_original(client, alice_client, importing, remotes):
    data = jpeg_bytes(color="navy")
    remote = remotes({"/a.jpg": body(data)})
    uploaded = alice_client.post(API, {"file": upload(data, "mine.jpg")}, format="multipart").json()
    imported = post_url(alice_client, remote.url("/a.jpg"))
    assert imported.status_code == 200, "the same owner's same bytes: the original already stored"
    assert imported.json()["id"] == uploaded["id"] and imported.json()["sha256"] == uploaded["sha256"]
    anonymous = post_url(client, remote.url("/a.jpg"))  # another owner: a record of its own over the same file
    assert anonymous.status_code == 201 and anonymous.json()["sha256"] == uploaded["sha256"]
    assert Original.objects.filter(sha256=uploaded["sha256"]).count() == 2


def test_the_owner_is_whoever_imports(alice_client, importing, remotes):
    remote = remotes({"/a.png": body(image_bytes("PNG"), content_type="image/jpeg")})
    created = post_url(alice_client, remote.url("/a.png")).json()
    assert created["owner"] == "alice" and created["format"] == "PNG"


def test_the_request_names_the_host_and_asks_for_the_bytes_as_they_are(client, importing, remotes):
    remote = remotes({"/a.jpg": body(PHOTO)})
    assert post_url(client, remote.url("/a.jpg", host="localhost")).status_code == 201
    headers = {name.lower(): value for name, value in remote.seen[0].headers.items()}
    assert headers["host"] == f"localhost:{remote.port}", "the URL's host, though the socket went to an address"
    assert headers["accept-encoding"] == "identity"
    assert headers["user-agent"].startswith("Darkroom")


def test_a_name_stands_in_the_filename_percent_decoded(client, importing, remotes):
    remote = remotes({"/caf%C3%A9.jpg": body(PHOTO), "/": body(jpeg_bytes(color="pink"))})
    assert post_url(client, remote.url("/caf%C3%A9.jpg?size=large")).json()["filename"] == "café.jpg"
    assert post_url(client, remote.url("/")).json()["filename"] == ""


# Refused before any connection: the URL's spelling, scheme and host. Import on for any host and port ("*:*"),
# loopback refused as in production, so that the address checks are the ones that answer.
HOSTILE = [
    # scheme
    ("ftp://127.0.0.1/a.jpg", 400, "url_scheme"),
    ("file:///etc/passwd", 400, "url_scheme"),
    ("gopher://127.0.0.1:6379/_FLUSHALL", 400, "url_scheme"),
    ("dict://127.0.0.1:11211/stats", 400, "url_scheme"),
    ("data:image/png;base64,iVBORw0KGgo=", 400, "url_scheme"),
    ("javascript:alert(1)", 400, "url_scheme"),
    ("//images.example.com/a.jpg", 400, "url_invalid"),
    ("images.example.com/a.jpg", 400, "url_invalid"),
    # user information
    ("http://user:secret@images.example.com/a.jpg", 400, "url_invalid"),
    ("http://images.example.com@127.0.0.1/", 400, "url_invalid"),
    ("http://images.example.com\\@127.0.0.1/", 400, "url_invalid"),
    ("http://@images.example.com/", 400, "url_invalid"),
    # spelling
    ("http://2130706433/", 400, "url_invalid"),
    ("http://0x7f000001/", 400, "url_invalid"),
    ("http://0177.0.0.1/", 400, "url_invalid"),
    ("http://0x7f.0.0.1/", 400, "url_invalid"),
    ("http://127.1/", 400, "url_invalid"),
    ("http://127.000.000.001/", 400, "url_invalid"),
    ("http://10.0.0.1.nip.io.0/", 400, "url_invalid"),
    ("http://[fe80::1%25eth0]/", 400, "url_invalid"),
    ("http://[::1/", 400, "url_invalid"),
    ("http://images.example.com:0/", 400, "url_invalid"),
    ("http://images.example.com:65536/", 400, "url_invalid"),
    ("http://images.example.com:8o/", 400, "url_invalid"),
    ("http:///a.jpg", 400, "url_invalid"),
    ("http://exa mple.com/", 400, "url_invalid"),
    ("http://images.example.com/a\tb.jpg", 400, "url_invalid"),
    ("http://images.example.com/a.jpg\n", 400, "url_invalid"),
    (" http://images.example.com/a.jpg", 400, "url_invalid"),
    ("http://ïmages.example.com/", 400, "url_invalid"),
    ("http://images.example.com/" + "a" * 2100, 400, "url_invalid"),
    # addresses (literal, and what localhost resolves to)
    ("http://10.0.0.1/", 403, "url_address_forbidden"),
    ("http://172.16.0.1/", 403, "url_address_forbidden"),
    ("http://172.31.255.254/", 403, "url_address_forbidden"),
    ("http://192.168.1.1/", 403, "url_address_forbidden"),
    ("http://169.254.169.254/latest/meta-data/", 403, "url_address_forbidden"),
    ("http://100.100.100.200/latest/meta-data/", 403, "url_address_forbidden"),
    ("http://100.64.0.1/", 403, "url_address_forbidden"),
    ("http://127.0.0.1/", 403, "url_address_forbidden"),
    ("http://127.8.9.10:8000/", 403, "url_address_forbidden"),
    ("http://0.0.0.0/", 403, "url_address_forbidden"),
    ("http://224.0.0.1/", 403, "url_address_forbidden"),
    ("http://240.0.0.1/", 403, "url_address_forbidden"),
    ("http://255.255.255.255/", 403, "url_address_forbidden"),
    ("http://192.0.2.1/", 403, "url_address_forbidden"),
    ("http://[::1]/", 403, "url_address_forbidden"),
    ("http://[::]/", 403, "url_address_forbidden"),
    ("http://[fd00::1]/", 403, "url_address_forbidden"),
    ("http://[fd00:ec2::254]/", 403, "url_address_forbidden"),
    ("http://[fe80::1]/", 403, "url_address_forbidden"),
    ("http://[ff02::1]/", 403, "url_address_forbidden"),
    ("http://[::ffff:127.0.0.1]/", 403, "url_address_forbidden"),
    ("http://[::ffff:a9fe:a9fe]/", 403, "url_address_forbidden"),  # 169.254.169.254, mapped
    ("http://[::127.0.0.1]/", 403, "url_address_forbidden"),
    ("http://[64:ff9b::a00:1]/", 403, "url_address_forbidden"),  # 10.0.0.1 through NAT64
    ("http://[2002:a00:1::1]/", 403, "url_address_forbidden"),  # 10.0.0.1 through 6to4
    ("http://[2001:db8::1]/", 403, "url_address_forbidden"),
    ("http://localhost/", 403, "url_address_forbidden"),
    ("http://LOCALHOST./", 403, "url_address_forbidden"),
]


@pytest.mark.parametrize(("url", "status", "code"), HOSTILE, ids=[row[0][:60] for row in HOSTILE])
def test_hostile_urls_are_refused_before_any_connection(client, settings, remotes, url, status, code):
    settings.IMPORT_URL_HOSTS = ["*:*"]
    refusal(post_url(client, url), status, code)


@pytest.mark.parametrize(
    "url",
    [
        "http://evil.example/a.jpg",
        "http://images.example.com.evil.example/a.jpg",
        "http://evilimages.example.com/a.jpg",
        "http://images.example.com:8080/a.jpg",  # the scheme's own port only, unless the entry names one
        "https://cdn.example.com:8443/a.jpg",
        "https://example.com/a.jpg",  # *.example.com is its subdomains, not itself
        "http://10.0.0.1/a.jpg",
    ],
)
def test_hosts_off_the_allow_list_are_refused(client, settings, remotes, url):
    settings.IMPORT_URL_HOSTS = ["images.example.com", "*.example.com:443"]
    payload = refusal(post_url(client, url), 403, "url_host_not_allowed")
    assert "IMPORT_URL_HOSTS" in payload["error"]


def test_import_is_off_without_hosts(client, settings, remotes):
    remote = remotes({"/a.jpg": body(PHOTO)})
    settings.IMPORT_URL_HOSTS = []
    payload = refusal(post_url(client, remote.url("/a.jpg")), 403, "import_disabled")
    assert "IMPORT_URL_HOSTS" in payload["error"]
    assert remote.seen == []


@pytest.mark.parametrize(
    "location",
    [
        "http://10.0.0.1/a.jpg",
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://[::ffff:10.0.0.1]/a.jpg",
        "http://[fd00::1]/a.jpg",
        "http://192.168.0.1:8080/a.jpg",
    ],
)
def test_a_redirect_to_a_private_address_is_refused_even_with_loopback_allowed(client, importing, remotes, location):
    importing.IMPORT_URL_HOSTS = [*LOOPBACK_HOSTS, "*:*"]  # the allow-list takes it: the address check must refuse
    remote = remotes({"/go": redirect(location)})
    payload = refusal(post_url(client, remote.url("/go")), 403, "url_address_forbidden")
    assert "redirected to" in payload["error"]


@pytest.mark.parametrize(
    ("location", "status", "code"),
    [
        ("ftp://127.0.0.1/a.jpg", 400, "url_scheme"),
        ("file:///etc/passwd", 400, "url_scheme"),
        ("gopher://127.0.0.1:6379/_x", 400, "url_scheme"),
        ("http://evil.example/a.jpg", 403, "url_host_not_allowed"),
        ("http://user:pw@127.0.0.1/a.jpg", 400, "url_invalid"),
        ("http://2130706433/a.jpg", 400, "url_invalid"),
        (None, 502, "url_status"),
    ],
)
def test_redirects_are_checked_as_the_clients_url_is(client, importing, remotes, location, status, code):
    remote = remotes({"/go": redirect(location, status=301)})
    refusal(post_url(client, remote.url("/go")), status, code)


def test_redirects_are_followed_to_the_limit_and_no_further(client, importing, remotes):
    remote = remotes({})
    remote.routes.update(
        {
            "/1": redirect("/2", 301),
            "/2": redirect(remote.url("/3", host="localhost"), 303),
            "/3": redirect("/photo.jpg", 307),
            "/4": redirect("/1", 308),
            "/loop": redirect("/loop"),
            "/photo.jpg": body(PHOTO),
        }
    )
    assert post_url(client, remote.url("/1")).status_code == 201, "three redirects: the default limit"
    refusal(post_url(client, remote.url("/4")), 502, "url_too_many_redirects")
    refusal(post_url(client, remote.url("/loop")), 502, "url_too_many_redirects")
    assert remote.paths().count("/loop") == 4, "the URL and three redirects, then no more"
    importing.IMPORT_URL_MAX_REDIRECTS = 0
    refusal(post_url(client, remote.url("/3")), 502, "url_too_many_redirects")


@pytest.mark.parametrize("in_headers", [False, True], ids=["body", "headers"])
def test_a_server_dripping_a_byte_a_second_is_cut_at_the_deadline(client, importing, remotes, in_headers):
    importing.IMPORT_URL_TIMEOUT_SECONDS = 2.0
    remote = remotes({})
    remote.routes["/slow.jpg"] = drip(remote, in_headers=in_headers)
    started = time.monotonic()
    payload = refusal(post_url(client, remote.url("/slow.jpg")), 504, "url_timeout")
    elapsed = time.monotonic() - started
    assert 1.9 < elapsed < 3.0, f"answered after {elapsed:.2f} s; the deadline is 2 s"
    assert "2 seconds" in payload["error"]


@override_settings(MAX_UPLOAD_BYTES=100_000)
def test_an_endless_body_stops_at_the_limit(client, importing, remotes):
    remote = remotes({})
    remote.routes["/endless.jpg"] = endless(remote)
    started = time.monotonic()
    payload = refusal(post_url(client, remote.url("/endless.jpg")), 413, "file_too_large")
    assert time.monotonic() - started < 2
    assert "100,000" in payload["error"]


@override_settings(MAX_UPLOAD_BYTES=100_000)
def test_a_content_length_over_the_limit_is_refused_before_the_body(client, importing, remotes):
    remote = remotes({"/big.jpg": body(PHOTO, length=26_000_000)})
    payload = refusal(post_url(client, remote.url("/big.jpg")), 413, "file_too_large")
    assert "26,000,000" in payload["error"] and "100,000" in payload["error"]


@pytest.mark.parametrize(
    ("route", "status", "code", "words"),
    [
        (body(b"gone", status=404, content_type="text/plain"), 502, "url_status", "answered 404"),
        (body(b"oops", status=500, content_type="text/plain"), 502, "url_status", "answered 500"),
        (body(PHOTO, status=206), 502, "url_status", "answered 206"),
        (body(PHOTO, status=304), 502, "url_status", "answered 304"),
        (hang_up, 502, "url_unreachable", "could not be reached"),
        (body(PHOTO[:100], length=len(PHOTO)), 502, "url_unreachable", "broke off its answer"),
        (body(b"<html>not a picture</html>", content_type="image/jpeg"), 415, "unsupported_format", "not an accepted"),
        (
            body(b"<svg xmlns='http://www.w3.org/2000/svg'/>", content_type="image/svg+xml"),
            415,
            "unsupported_format",
            "",
        ),
        (body(PHOTO[: len(PHOTO) // 2]), 422, "corrupt_image", "corrupt"),
        (body(b""), 400, "empty_file", "empty"),
    ],
    ids=["404", "500", "206", "304", "hang-up", "short", "html", "svg", "truncated-jpeg", "empty"],
)
def test_what_the_server_answers_decides_the_refusal(client, importing, remotes, route, status, code, words):
    remote = remotes({"/a.jpg": route})
    payload = refusal(post_url(client, remote.url("/a.jpg")), status, code)
    assert words in payload["error"]


def test_a_closed_port_is_unreachable(client, importing, remotes):
    remote = remotes({})
    url = remote.url("/a.jpg", host="localhost")
    remote.stop()
    refusal(post_url(client, url), 502, "url_unreachable")


def test_both_a_file_and_a_url_is_a_conflict(client, importing, remotes):
    remote = remotes({"/a.jpg": body(PHOTO)})
    response = client.post(API, {"file": upload(PHOTO), "url": remote.url("/a.jpg")}, format="multipart")
    payload = refusal(response, 400, "conflicting_parameter")
    assert "not both" in payload["error"]
    assert remote.seen == [] and not Original.objects.exists()


@pytest.mark.parametrize(
    ("raw", "code", "param"),
    [
        ('{"url": 7}', "invalid_parameter", "url"),
        ('{"url": null}', "invalid_parameter", "url"),
        ('{"url": ["http://a/"]}', "invalid_parameter", "url"),
        ('{"url": ""}', "empty_parameter", "url"),
        ("{}", "missing_parameter", "url"),
        ('{"url": "http://a/", "name": "x"}', "unknown_parameter", "name"),
        ('{"file": "aGVsbG8="}', "invalid_parameter", "file"),
        ('["http://a/"]', "malformed_request", None),
        ('"http://a/"', "malformed_request", None),
        ("null", "malformed_request", None),
        ('{"url": ', "malformed_request", None),
    ],
)
def test_a_json_body_is_one_url(client, importing, raw, code, param):
    response = client.post(API, raw, content_type="application/json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == code and response.json().get("param") == param


def test_a_form_takes_url_once_and_as_text(client, importing, remotes):
    remote = remotes({"/a.jpg": body(PHOTO)})
    twice = client.post(API, urlencode({"url": [remote.url("/a.jpg")] * 2}, doseq=True), content_type=FORM)
    refusal(twice, 400, "repeated_parameter")
    as_file = client.post(API, {"url": upload(PHOTO)}, format="multipart")
    refusal(as_file, 400, "invalid_parameter")
    refusal(client.post(API, {"url": ""}, format="multipart"), 400, "empty_parameter")
    assert remote.seen == []


@override_settings(ANONYMOUS_UPLOADS=False)
def test_imports_need_what_uploads_need(client, alice_client, importing, remotes):
    remote = remotes({"/a.jpg": body(PHOTO)})
    response = post_url(client, remote.url("/a.jpg"))
    assert response.status_code == 401 and response.json()["code"] == "not_authenticated"
    assert remote.seen == [], "refused before anything was fetched"
    assert post_url(alice_client, remote.url("/a.jpg")).status_code == 201


def test_session_imports_need_the_csrf_token(alice, importing, remotes):
    remote = remotes({"/a.jpg": body(PHOTO)})
    browser = APIClient(enforce_csrf_checks=True)
    browser.login(username="alice", password="alice-password-1")
    response = post_url(browser, remote.url("/a.jpg"))
    assert response.status_code == 403 and response.json()["code"] == "csrf_failed"
    assert remote.seen == []


@override_settings(ANON_UPLOAD_RATE="2/minute")
def test_imports_and_uploads_share_one_throttle(client, importing, remotes):
    cache.delete("throttle_anon_upload_127.0.0.1")
    remote = remotes({"/a.jpg": body(jpeg_bytes(color="olive")), "/b.jpg": body(jpeg_bytes(color="lime"))})
    try:
        assert client.post(API, {"file": upload(jpeg_bytes(color="maroon"))}, format="multipart").status_code == 201
        assert post_url(client, remote.url("/a.jpg")).status_code == 201
        throttled = post_url(client, remote.url("/b.jpg"))
        assert throttled.status_code == 429 and throttled.json()["code"] == "throttled"
        assert remote.paths() == ["/a.jpg"]
    finally:
        cache.delete("throttle_anon_upload_127.0.0.1")


def test_an_http_url_may_redirect_to_https_that_is_verified(client, importing, remotes, tmp_path):
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(context)
    secure = remotes({"/a.jpg": body(PHOTO)}, tls=context)
    plain = remotes({"/a.jpg": redirect(secure.url("/a.jpg", host="localhost"), 301)})
    refusal(post_url(client, plain.url("/a.jpg")), 502, "url_tls")  # the system's CAs do not know the test's
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    importing.IMPORT_URL_CA_FILE = str(tmp_path / "ca.pem")
    response = post_url(client, plain.url("/a.jpg"))
    assert response.status_code == 201 and response.json()["sha256"] == hashlib.sha256(PHOTO).hexdigest()
    assert secure.server_names[-1] == "localhost"
