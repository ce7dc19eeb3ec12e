"""The WSGI fast path answers cache hits exactly as the Django view does, and hands everything else on."""

import io
import re
import sys
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest
from django.conf import settings
from django.test import override_settings

from server.wsgi import application, django_application
from tests.inprocess import keep_test_connection
from transforms.fastpath import VariantFastPath
from transforms.http import server_timing
from transforms.variants import known_originals

from . import images

pytestmark = pytest.mark.django_db
VOLATILE = {"x-request-id", "server-timing", "date", "x-cache"}


def call(
    app: Any, path: str, query: str = "", method: str = "GET", scheme: str = "http", **headers: str
) -> tuple[int, dict, bytes]:
    environ: dict[str, Any] = {"PATH_INFO": path, "QUERY_STRING": query, "REQUEST_METHOD": method}
    environ["wsgi.url_scheme"] = scheme
    environ.update({f"HTTP_{k.upper()}": v for k, v in headers.items()})
    environ["wsgi.errors"] = sys.stderr
    setup_testing_defaults(environ)
    environ["wsgi.input"] = io.BytesIO(b"")
    answer: dict[str, Any] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        answer["status"] = int(status.split()[0])
        answer["headers"] = {k.lower(): v for k, v in response_headers}

    with keep_test_connection():
        body = b"".join(app(environ, start_response))
    return answer["status"], answer["headers"], body


@pytest.fixture
def original_id(upload_original) -> str:
    known_originals._entries.clear()
    return str(upload_original(images.encode(images.marker((320, 240)), "JPEG"), "m.jpg")["id"])


CASES = [
    ("w=100", {}),
    ("fmt=png&rotate=90&w=50", {}),
    ("fmt=auto&w=60", {"accept": "image/webp,*/*"}),
    ("fmt=auto&w=60", {"accept": "image/png"}),
    ("w=100", {"if_none_match": "*"}),
]


@pytest.mark.parametrize(("query", "headers"), CASES)
def test_fast_and_slow_paths_answer_alike(original_id: str, query: str, headers: dict[str, str]):
    path = f"/image/{original_id}/"
    slow = call(django_application, path, query, **headers)  # renders, and teaches the worker the id
    assert known_originals.get(original_id) is not None
    fast = call(application, path, query, **headers)
    again_slow = call(django_application, path, query, **headers)
    assert fast[0] == again_slow[0] and fast[2] == again_slow[2]
    same = {k: v for k, v in again_slow[1].items() if k not in VOLATILE and k in fast[1]}
    assert {k: v for k, v in fast[1].items() if k not in VOLATILE} == same
    assert fast[1].get("x-cache") in (None, "hit-redis", "hit-disk")
    assert slow[0] in (200, 304)
    hot = call(application, path, query, **headers)  # a hit's URL again: answered from what the first worked out
    assert hot[0] == fast[0] and hot[2] == fast[2] and list(hot[1]) == list(fast[1])
    assert {k: v for k, v in hot[1].items() if k not in VOLATILE} == {
        k: v for k, v in fast[1].items() if k not in VOLATILE
    }


def test_fast_path_serves_without_django(original_id: str, monkeypatch: pytest.MonkeyPatch):
    path = f"/image/{original_id}/"
    call(application, path, "w=77")  # a miss: Django renders it
    served_by_django: list[str] = []

    def django(environ: dict, start: Any) -> list[bytes]:
        served_by_django.append(environ["PATH_INFO"])
        return []

    monkeypatch.setattr(application, "app", django)
    status, headers, body = call(application, path, "w=77")
    assert (status, served_by_django) == (200, [])
    assert headers["x-cache"] == "hit-redis" and headers["content-length"] == str(len(body))
    assert re.fullmatch(r'cache;desc="hit-redis", total;dur=[0-9]+\.[0-9]', headers["server-timing"])
    worked_out = VariantFastPath._answer
    monkeypatch.setattr(VariantFastPath, "_answer", lambda *args: pytest.fail("a URL answered before was not hot"))
    again = call(application, path, "w=77")  # a URL answered before: the hot way (transforms/fastpath.py's _hot)
    monkeypatch.setattr(VariantFastPath, "_answer", worked_out)
    tier = again[1]["x-cache"]
    assert again[2] == body and re.fullmatch(
        r'cache;desc="hit-[a-z]+", total;dur=[0-9]+\.[0-9]', again[1]["server-timing"]
    )
    assert again[1]["server-timing"].split(", ")[0] == server_timing(tier, 0.0, None).split(", ")[0]
    head = call(application, path, "w=77", method="HEAD")
    assert head[0] == 200 and head[2] == b"" and head[1]["content-length"] == str(len(body))


@pytest.mark.parametrize(
    ("path", "query", "method"),
    [
        ("/image/{id}/", "w=78", "GET"),  # not cached yet
        ("/image/{id}/", "w=abc", "GET"),  # a refusal
        ("/image/{id}/", "w=77", "POST"),  # a method the view refuses
        ("/image/AAAAAAAAAAAA/", "w=77", "GET"),  # an unknown id
        ("/api/v1/originals/", "", "GET"),  # another path
    ],
)
def test_everything_else_goes_to_django(original_id: str, path: str, query: str, method: str, monkeypatch):
    call(application, f"/image/{original_id}/", "w=77")
    handed_on = []

    def django(environ: dict, start: Any) -> list[bytes]:
        handed_on.append(environ["PATH_INFO"])
        start("204 No Content", [])
        return []

    monkeypatch.setattr(application, "app", django)
    call(application, path.format(id=original_id), query, method)
    assert handed_on == [path.format(id=original_id)]


@override_settings(URL_SIGNING="required", URL_SIGNING_KEYS=["k" * 20])
def test_fast_path_checks_signatures(original_id: str, monkeypatch):
    from transforms.links import variant_path
    from transforms.spec import VariantSpec

    signed = variant_path(original_id, VariantSpec(w=79)).split("?", 1)[1]
    assert call(application, f"/image/{original_id}/", signed)[0] == 200
    handed_on: list[str] = []

    def django(environ: dict, start: Any) -> list[bytes]:
        handed_on.append(environ["QUERY_STRING"])
        start("403 Forbidden", [])
        return []

    monkeypatch.setattr(application, "app", django)
    call(application, f"/image/{original_id}/", "w=79")  # cached, but unsigned
    assert handed_on == ["w=79"]


def test_deleting_forgets_the_original(original_id: str, django_user_model):
    from rest_framework.test import APIClient

    call(application, f"/image/{original_id}/", "w=80")
    assert known_originals.get(original_id) is not None
    django_user_model.objects.create_user("boss", password="boss-password-1", is_staff=True)
    client = APIClient()
    client.login(username="boss", password="boss-password-1")
    assert client.delete(f"/api/v1/originals/{original_id}/").status_code == 204
    assert known_originals.get(original_id) is None
    assert call(application, f"/image/{original_id}/", "w=80")[0] == 404


def test_both_paths_send_the_same_headers_security_ones_included(original_id: str):
    """Every header of Django's answer, the middleware's security headers too, and no more (issue 16)."""
    path = f"/image/{original_id}/"
    call(django_application, path, "w=90")
    fast = call(application, path, "w=90")
    slow = call(django_application, path, "w=90")
    assert fast[1]["x-cache"].startswith("hit-")
    assert set(fast[1]) - VOLATILE == set(slow[1]) - VOLATILE
    for name in ("x-frame-options", "referrer-policy", "cross-origin-opener-policy", "x-content-type-options"):
        assert fast[1][name] == slow[1][name], name


@override_settings(ALLOWED_HOSTS=["images.example.com"])
def test_a_host_django_refuses_is_refused_on_the_fast_path_too(original_id: str):
    path = f"/image/{original_id}/"
    call(django_application, path, "w=91", host="images.example.com")
    good = call(application, path, "w=91", host="images.example.com")
    assert good[0] == 200 and good[1]["x-cache"].startswith("hit-")
    bad = call(application, path, "w=91", host="evil.example.net")
    assert bad[0] == 400 and "x-cache" not in bad[1], "handed to Django, which refuses the Host"


def test_the_worker_forgets_everything_in_one_call(original_id: str):
    from transforms.answer import resolutions
    from transforms.cache import _touched, memory_tier
    from transforms.worker import worker

    path = f"/image/{original_id}/"
    with override_settings(VARIANT_MEMORY_CACHE_BYTES=1 << 20):
        call(django_application, path, "w=92")
        assert call(application, path, "w=92")[1]["x-cache"] == "hit-memory"
        assert known_originals.get(original_id) is not None and resolutions._variants and memory_tier._items
        worker.reset()
        assert known_originals.get(original_id) is None
        assert not resolutions._variants and not resolutions._queries and not _touched and not memory_tier._items
        assert not worker.hot and not worker.directories
        status, headers, _ = call(application, path, "w=92")
        assert status == 200 and headers["x-cache"] != "hit-memory", "the long way once: Django, then the tiers"


def test_a_hot_url_is_answered_as_the_whole_way_answers_it(original_id: str):
    """A URL answered from a tier once is answered again from what was worked out then: the same status, headers and
    bytes as Django's view, for GET and HEAD, https or not, from whichever tier holds it, until its original is
    forgotten."""
    from transforms.cache import memory_tier
    from transforms.fastpath import _hot

    path = f"/image/{original_id}/"
    with override_settings(VARIANT_MEMORY_CACHE_BYTES=1 << 20):
        for query, headers in CASES[:4]:
            call(django_application, path, query, **headers)
            assert call(application, path, query, **headers)[1]["x-cache"] == "hit-memory"  # the whole way
            for method in ("GET", "HEAD"):
                hot_count = len(_hot)
                fast = call(application, path, query, method, **headers)
                slow = call(django_application, path, query, method, **headers)
                assert len(_hot) == hot_count and fast[1]["x-cache"] == "hit-memory"
                assert fast[0] == slow[0] == 200 and fast[2] == slow[2]
                assert {k: v for k, v in fast[1].items() if k not in VOLATILE} == {
                    k: v for k, v in slow[1].items() if k not in VOLATILE
                }
                whole = call(application, path, query, method, **headers, if_none_match='"another"')  # not hot
                assert whole[1]["x-cache"] == "hit-memory" and list(fast[1]) == list(whole[1]), "in the same order"
        for _ in range(2):  # the whole way, then hot: https has headers of its own
            https = call(application, path, "w=100", scheme="https")
            assert https[1]["x-cache"] == "hit-memory"
            assert ("strict-transport-security" in https[1]) == bool(settings.SECURE_HSTS_SECONDS)
        assert https[1] == {
            **https[1],
            **{
                k: v for k, v in call(django_application, path, "w=100", scheme="https")[1].items() if k not in VOLATILE
            },
        }
        assert call(application, path, "w=100", if_none_match="*")[0] == 304, "a conditional takes the whole way"
        assert call(application, path, "w=100", x_request_id="abcdefgh1234")[1]["x-request-id"] == "abcdefgh1234"
        memory_tier.purge(original_id)
        assert call(application, path, "w=100")[1]["x-cache"] == "hit-redis", "gone from memory: the next tier"
        entry = next(hot for key, hot in _hot.items() if key[1] == "w=100" and key[4] == "http")
        known_originals.forget(original_id)  # deleted or changed elsewhere: Django learns it again, then it is hot anew
        assert call(application, path, "w=100")[0] == 200 and call(application, path, "w=100")[0] == 200
        renewed = next(hot for key, hot in _hot.items() if key[1] == "w=100" and key[4] == "http")
        assert renewed.facts is known_originals.get(original_id) and renewed.facts is not entry.facts
