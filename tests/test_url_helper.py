"""darkroom_url.py, the one-module URL helper for other applications: the service's canonical spelling and signature,
checked against the service's own parser in-process and against the running service over HTTP."""

import json
from collections.abc import Iterator

import pytest
from django.test import override_settings
from hypothesis import given, settings
from hypothesis import strategies as st
from libthumbor import CryptoURL

from darkroom_url import DarkroomUrls, canonical_query, sign
from transforms import signing
from transforms.queries import spec_from_pairs
from transforms.tests.images import encode, marker

from . import server as live

KEY = "helper-test-key"
THUMBOR_KEY = "helper-thumbor-key"
OID = "Xb3k9Q2mZr1a"


def tenths(low: int, high: int) -> st.SearchStrategy[str]:
    return st.integers(low, high).map(lambda n: f"{n // 10}.{n % 10}" if n % 10 else str(n // 10))


def fraction_crop() -> st.SearchStrategy[str]:
    def rect(x: int, y: int, w: int, h: int) -> str:
        return ",".join(f"{n / 1000:.3f}" for n in (x, y, min(w, 1000 - x), min(h, 1000 - y)))

    return st.builds(rect, st.integers(0, 999), st.integers(0, 999), st.integers(1, 1000), st.integers(1, 1000))


PARAMS = st.fixed_dictionaries(
    {},
    optional={
        "w": st.integers(1, 2000),
        "h": st.integers(1, 2000),
        "fit": st.sampled_from(["contain", "cover", "fill", "pad"]),
        "gravity": st.sampled_from(["center", "n", "se", "focal", "smart"]),
        "crop": st.one_of(
            st.tuples(st.integers(0, 900), st.integers(0, 900), st.integers(1, 900), st.integers(1, 900)).map(
                lambda rect: ",".join(map(str, rect))
            ),
            fraction_crop(),
        ),
        "dpr": st.sampled_from(["1", "1.5", "2", "3.5", "4"]),
        "rotate": st.sampled_from([0, 90, 180, 270]),
        "flip": st.sampled_from(["h", "v", "hv", "vh"]),
        "gray": st.sampled_from(["0", "1"]),
        "blur": tenths(1, 500),
        "sharpen": tenths(1, 100),
        "bg": st.from_regex(r"[0-9a-fA-F]{6}([0-9a-fA-F]{2})?", fullmatch=True),
        "fmt": st.sampled_from(["jpeg", "JPG", "png", "webp", "AVIF", "gif", "auto"]),
        "q": st.integers(1, 100),
    },
)


@settings(max_examples=400, deadline=None)
@given(PARAMS)
def test_the_helper_writes_the_services_canonical_query_and_signature(params: dict) -> None:
    query = canonical_query(**params)
    spec = spec_from_pairs((name, str(value)) for name, value in params.items())
    assert query == spec.canonical_query
    url = DarkroomUrls(key=KEY).image(OID, **params)
    with override_settings(URL_SIGNING="required", URL_SIGNING_KEYS=[KEY]):
        assert signing.signature_problem(OID, spec, url.rpartition("sig=")[2]) is None


@pytest.mark.parametrize(
    "params",
    [
        {"w": 0},
        {"w": "300px"},
        {"w": True},
        {"fit": "Cover"},
        {"rotate": 45},
        {"fmt": "tiff"},
        {"q": 101},
        {"blur": "2.25"},
        {"blur": "nan"},
        {"dpr": 1.25},
        {"bg": "red"},
        {"crop": "1,2,3"},
        {"crop": (0.5, 0, 0.5, "x")},
        {"width": 300},
        {"preset": "small", "w": 300},
    ],
)
def test_what_the_service_refuses_the_helper_refuses(params: dict) -> None:
    with pytest.raises(ValueError):
        canonical_query(**params)


def test_the_readme_recipe() -> None:
    # the README's shell recipe (openssl dgst -sha256 -hmac k -binary | basenc --base64url | tr -d =) gives this
    assert sign("/image/Xb3k9Q2mZr1a/?fmt=webp&w=300", "k") == "9kzlWNi-mZbFRrn3ryNAarzVguZjFfH_uEMbi7Vq7q0"
    urls = DarkroomUrls("https://img.example.com/", key="k")
    assert urls.image(OID, fmt="WEBP", w=300) == (
        "https://img.example.com/image/Xb3k9Q2mZr1a/?fmt=webp&w=300&sig=9kzlWNi-mZbFRrn3ryNAarzVguZjFfH_uEMbi7Vq7q0"
    )
    assert DarkroomUrls().image(OID) == "/image/Xb3k9Q2mZr1a/"
    assert DarkroomUrls().image(OID, preset="thumbnail", fmt="webp") == "/image/Xb3k9Q2mZr1a/?fmt=webp&preset=thumbnail"
    with pytest.raises(ValueError):
        DarkroomUrls().image("../etc/passwd")


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[live.Server, str]]:
    env = {"URL_SIGNING": "required", "URL_SIGNING_KEYS": KEY, "THUMBOR_SECURITY_KEY": THUMBOR_KEY}
    server = live.start(tmp_path_factory.mktemp("helper"), workers=2, extra_env=env)
    try:
        status, _, body = server.upload(encode(marker((640, 480)), "JPEG"), "photo.jpg")
        assert status == 201, body
        yield server, json.loads(body)["id"]
    finally:
        server.stop()


SPELLINGS = [
    ({"w": 300}, {"w": "0300", "fmt": "JPG", "q": 82}),
    (
        {"w": 200, "h": 200, "fit": "cover", "gravity": "ne"},
        {"w": 100, "h": 100, "dpr": 2, "fit": "cover", "gravity": "ne"},
    ),
    ({"crop": "320,0,320,480", "w": 100}, {"crop": (0.5, 0, 0.5, 1.0), "w": 100}),
    ({"w": 300, "fmt": "webp", "q": 70, "blur": 2}, {"w": 300, "fmt": "WebP", "q": 70, "blur": "2.0"}),
    ({"rotate": 90, "flip": "hv", "gray": 1}, {"rotate": 90, "flip": "vh", "gray": True}),
    (
        {"w": 300, "h": 300, "fit": "pad", "bg": "1e1e1e", "fmt": "png"},
        {"w": 300, "h": 300, "fit": "pad", "bg": "1E1E1EFF", "fmt": "png"},
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize(("one", "other"), SPELLINGS)
def test_helper_urls_are_served_signed(service: tuple[live.Server, str], one: dict, other: dict) -> None:
    server, oid = service
    urls = DarkroomUrls(key=KEY)
    status, headers, body = server.request("GET", urls.image(oid, **one))
    assert status == 200, body[:300]
    again, again_headers, again_body = server.request("GET", urls.image(oid, **other))
    assert again == 200, again_body[:300]
    assert again_headers["etag"] == headers["etag"] and again_body == body  # one variant, one cache entry
    status, _, info = server.request("GET", urls.info(oid, **one))
    assert status == 200, info[:300]
    assert json.loads(info)["variant"]["url"] == urls.image(oid, **one)  # the service writes the same URL
    tampered = urls.image(oid, **one).replace("sig=", "sig=x")
    status, _, body = server.request("GET", tampered)
    assert status == 403 and json.loads(body)["code"] == "invalid_signature"
    status, _, body = server.request("GET", DarkroomUrls().image(oid, **one))
    assert status == 403 and json.loads(body)["code"] == "signature_required"


@pytest.mark.slow
def test_libthumbor_urls_against_the_running_service(service: tuple[live.Server, str]) -> None:
    server, oid = service
    path = CryptoURL(THUMBOR_KEY).generate(
        image_url=oid, width=200, height=200, halign="right", filters=["format(webp)"]
    )
    status, headers, body = server.request("GET", "/thumbor" + path)
    assert status == 200, body[:300]
    native = DarkroomUrls(key=KEY).image(oid, w=200, h=200, fit="cover", gravity="e", fmt="webp")
    status, native_headers, native_body = server.request("GET", native)
    assert status == 200 and native_headers["x-cache"] != "miss"
    assert (native_headers["etag"], native_body) == (headers["etag"], body)
    status, _, _ = server.request("GET", "/thumbor" + path.replace("=", "%3D"))
    assert status == 200
    # unsafe/ is allowed in local mode, but served as the unsigned native URL, which URL_SIGNING=required refuses
    status, _, body = server.request("GET", "/thumbor/unsafe/200x200/" + oid)
    assert status == 403 and json.loads(body)["code"] == "signature_required"
