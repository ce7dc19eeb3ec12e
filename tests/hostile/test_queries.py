"""A few hundred hostile variant queries, paths, methods and headers: a 400 naming the parameter, one
canonical variant, or a deliberate 3xx/4xx — never a 5xx."""

import unicodedata
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from django.test import Client

from transforms.tests import images

pytestmark = pytest.mark.django_db

INT_SPELLINGS = [
    " 300", "+300", "3_00", "300 ", "\t300", "30\n0", "0x10", "0b1", "0o7", "1e3", "3.0", "3,0", "-1", "0",
    "-0", "00", "99999", "9999999999", "9" * 40, "NaN", "inf", "true", "[]", "{}", "'1'", '"1"', "<script>",
    "300%00", "%00", "1 1", "1+1", "½", "²", "Ⅻ", "𝟑𝟎𝟎", "３００", "٣٠٠", "۳۰۰", "३००", "১",
]  # fmt: skip
# Every Unicode decimal digit that is not ASCII: int() accepts each one, the parser must not.
NON_ASCII_DIGITS = [chr(c) for c in range(0x80, 0x110000) if unicodedata.category(chr(c)) == "Nd"][::7]
NAME_LOOKALIKES = [
    "W", "Width", "width", "w ", " w", "ｗ", "w\x00", "w[]", "w.", "__class__", "FMT", "Fmt", "format", "ｆｍｔ",
    "rotation", "r", "quality", "Q", "flip[]", "fi t", "s", "x", "DPR", "density", "crop", "Blur", "gravity",
    "sharp", "sharpness", "grey", "greyscale",
    "signature",
]  # fmt: skip
FMT_VALUES = [
    "../png", "png/../", "..%2Fpng", "png%00", "png\x00", "PNG ", " png", "tiff", "svg", "bmp", "jpeg2000",
    "%2e%2e", "/etc/passwd", "webp;", "png,jpeg", "ｐｎｇ", "jpe", "jp", "", "auto2", "image/png", "png?",
]  # fmt: skip
ROTATE_VALUES = ["360", "-90", "90.0", "45", "٩٠", "90 ", "+90", "1", "0090x", "270270", "-0"]
FLIP_VALUES = ["H", "x", "hh", "vv", "hvh", "h,v", "h v", "both", "1", "true"]
FIT_VALUES = ["COVER", "crop", "scale", "cover ", "Contain", "inside", "fill!", "pad pad", "1"]
DPR_VALUES = [
    "0", "0.5", "4.5", "5", "1.25", "1.2", "2.00", "2.", ".5", "2x", "+2", "-2", "2e0", "1,5", "inf", "NaN", " 2",
    "2 ", "٢", "２", "2.٥", "½", "0x2", "9" * 40, "1.5.5", "2%00",
]  # fmt: skip
SIGMA_VALUES = [
    "0", "0.0", "-1", "+1", "1.25", "2.50", ".5", "5.", "1e1", "inf", "NaN", "true", "2,5", " 2", "2 ", "٢", "２",
    "0x1", "9" * 40, "1.5.5", "1%00", "1/2", "½", "2px",
]  # fmt: skip
BG_VALUES = [
    "#ff8800", "%23ff8800", "ff880", "ff8800f", "ff8800f0f", "gg0000", "ff 800", "ff8800 ", "red", "rgb(255,0,0)",
    "0xff8800", "ｆｆ００００", "ff8800%00", "f80", "f80f", "-ff8800", "ff88００", "ff8800\n", "../ff8800",
]  # fmt: skip
GRAY_VALUES = ["2", "01", "1.0", "true", "on", "yes", "-1", "+1", " 1", "1 ", "１", "١", "I", "l", "0x1", "1%00"]
GRAVITY_VALUES = [
    "N", "North", "north", "top", "left", "ce", "centre", "CENTER", "middle", "c", "0", "n ", " n", "n\x00", "nn",
    "en", "n,e", "n+e", "ｎ", "ո", "nw\u200b", "ne/", "../n", "fp:0.5:0.5", "focal:0.5,0.5", "focal:0.5000,0.5000",
    "FOCAL", "focal ", "focal:", "0.5,0.5", "auto",
    "attention", "entropy", "faces", "%6E",
]  # fmt: skip
CROP_VALUES = [
    "1", "1,2,3", "1,2,3,4,5", ",,,", "1,2,3,", "1;2;3;4", "1 2 3 4", " 1,2,3,4", "1,2,3,4 ", "+1,2,3,4", "-1,2,3,4",
    "1_0,2,3,4", "0x1,2,3,4", "1e2,2,3,4", "١,٢,٣,٤", "１,２,３,４", "𝟏,2,3,4", "1,2,0,4", "1,2,3,0", "0,0,0,0",
    "9999999999,0,1,1", "0,0,1," + "9" * 300, "0.5,0,0.5,1", ".5,.5,.25,.25", "0.5,0.5,0.25,0.", "1.5,0.0,0.5,0.5",
    "0.1234567,0.0,0.5,0.5", "NaN,0.0,0.5,0.5", "inf,0,1,1", "-0.0,0.0,0.5,0.5", "0.5e0,0.0,0.5,0.5",
    "0.0,0.0,0.0,1.0", "0.5,0.0,0.6,1.0", "1.0,1.0,0.1,0.1", "0,5;0,5;0,5;0,5", "10%,10%,50%,50%", "x,y,w,h",
    "1,2,3,4%00", "1,2,3,4\x00", "[1,2,3,4]", "(1,2,3,4)", "1/2,0,1/2,1", "0.5,0.5,0.5,0.5,", "1,,2,3",
]  # fmt: skip

REFUSED: list[tuple[str, str]] = []  # (query, the parameter the 400 must name)
for param in ("w", "h", "q"):
    REFUSED += [(f"{param}={quote(v, safe='')}", param) for v in INT_SPELLINGS + NON_ASCII_DIGITS if v != "00"]
    REFUSED += [(f"{param}=1&{param}=1", param), (f"{param}=", param), (param, param)]
REFUSED += [(f"{quote(name, safe='')}=1", name) for name in NAME_LOOKALIKES]
REFUSED += [(f"fmt={quote(v, safe='')}", "fmt") for v in FMT_VALUES]
REFUSED += [(f"rotate={quote(v, safe='')}", "rotate") for v in ROTATE_VALUES]
REFUSED += [(f"flip={quote(v, safe='')}", "flip") for v in FLIP_VALUES]
REFUSED += [(f"fit={quote(v, safe='')}", "fit") for v in FIT_VALUES]
REFUSED += [(f"dpr={quote(v, safe='')}", "dpr") for v in DPR_VALUES]
REFUSED += [("dpr=2&dpr=2", "dpr"), ("dpr=", "dpr"), ("w=4097&dpr=2", "dpr"), ("h=8192&dpr=1.5", "dpr")]
REFUSED += [("preset=thumbnail&dpr=2", "dpr")]
REFUSED += [(f"blur={quote(v, safe='')}", "blur") for v in [*SIGMA_VALUES, "50.1", "51", "100"]]
REFUSED += [(f"sharpen={quote(v, safe='')}", "sharpen") for v in [*SIGMA_VALUES, "10.1", "11", "50"]]
REFUSED += [("blur=1&blur=1", "blur"), ("blur=", "blur"), ("sharpen=1&sharpen=2", "sharpen"), ("sharpen", "sharpen")]
REFUSED += [(f"bg={quote(v, safe='')}", "bg") for v in BG_VALUES]
REFUSED += [
    ("bg=ff0000&bg=ff0000", "bg"),
    ("bg=", "bg"),
    ("bg", "bg"),
    ("BG=ff0000", "BG"),
    ("background=fff", "background"),
]
REFUSED += [(f"gray={quote(v, safe='')}", "gray") for v in GRAY_VALUES]
REFUSED += [("gray=1&gray=1", "gray"), ("gray=", "gray"), ("gray", "gray"), ("Gray=1", "Gray"), ("grey=1", "grey")]
REFUSED += [(f"crop={quote(v, safe=',')}", "crop") for v in CROP_VALUES]
REFUSED += [(f"w=9&h=9&fit=cover&gravity={quote(v, safe=',')}", "gravity") for v in GRAVITY_VALUES]
REFUSED += [(f"gravity={quote(v, safe=',')}", "gravity") for v in GRAVITY_VALUES[:8]]  # refused even where unused
REFUSED += [("w=9&h=9&fit=cover&gravity=n&gravity=s", "gravity"), ("gravity=", "gravity")]
REFUSED += [("crop=1,2,3,4&crop=1,2,3,4", "crop"), ("crop=", "crop"), ("crop", "crop"), ("crop=1%2C2%2C3", "crop")]
REFUSED += [
    ("w=1%26h=2", "w"),  # an encoded & is part of the value
    ("w=10&h=10&w=20", "w"),
    ("fmt=png&fmt=PNG", "fmt"),
    ("rotate=0&rotate=0", "rotate"),
    ("w=" + "1" * 2000, "query"),
    ("&".join(f"x{i}=1" for i in range(300)), "query"),
    ("w=8193", "w"),
    ("h=100000", "h"),
    ("q=101", "q"),
    ("q=0", "q"),
    ("preset=thumbnail&w=1", "w"),
    ("preset=nope", "preset"),
    ("sig=a&sig=b&w=1", "sig"),
]
REFUSED = list(dict.fromkeys(REFUSED))

EQUIVALENT = [
    # spellings that must be the very same variant as "fmt=png&rotate=90&w=30"
    "w=30&rotate=90&fmt=png",
    "fmt=PNG&rotate=90&w=30",
    "rotate=90&fmt=Png&w=30&fit=contain",
    "w=030&rotate=90&fmt=png&q=50",
    "w=30&rotate=090&fmt=png&flip=hv&flip",
]


@pytest.fixture(scope="module")
def original_id(django_db_blocker) -> Iterator[str]:
    from rest_framework.test import APIClient

    with django_db_blocker.unblock():
        from django.core.files.uploadedfile import SimpleUploadedFile

        data = images.encode(images.marker((64, 48)), "JPEG")
        response = APIClient().post(
            "/api/v1/originals/", {"file": SimpleUploadedFile("m.jpg", data)}, format="multipart"
        )
    yield str(response.json()["id"])
    # made outside any test's transaction: gone with the module, so no later test finds it in its database
    with django_db_blocker.unblock():
        from originals.models import Original

        Original.objects.filter(pk=response.json()["id"]).delete()


def test_the_table_is_a_few_hundred_rows():
    assert len(REFUSED) > 300


@pytest.mark.parametrize(("query", "param"), REFUSED, ids=range(len(REFUSED)))
def test_hostile_queries_are_400_naming_the_parameter(client: Client, query: str, param: str):
    # The id does not need to exist: the query is judged first.
    response = client.get(f"/image/AAAAAAAAAAAA/?{query}")
    assert response.status_code == 400, (query, response.content[:200])
    body = response.json()
    assert body["param"] == param, (query, body)
    assert body["error"] and "\n" not in body["error"] and len(body["error"]) < 300
    assert response["Cache-Control"] == "no-store"


@pytest.mark.parametrize(("query", "param"), REFUSED[::3], ids=range(len(REFUSED[::3])))
def test_info_refuses_them_alike(client: Client, query: str, param: str):
    response = client.get(f"/image/AAAAAAAAAAAA/info/?{query}")
    assert response.status_code == 400, (query, response.content[:200])
    assert response.json()["param"] == param and response["Cache-Control"] == "no-store"


# Well-formed rectangles that do not fit the 64x48 original: judged once the original is known, never clamped.
OUTSIDE_CROPS = ["0,0,65,48", "0,0,64,49", "64,0,1,1", "0,48,1,1", "63,47,2,2", "999999999,0,1,1", "0.0,0.0,0.001,1.0"]


@pytest.mark.parametrize("crop", OUTSIDE_CROPS)
def test_crops_outside_the_original_are_400_naming_crop(client: Client, original_id: str, crop: str):
    response = client.get(f"/image/{original_id}/?crop={crop}&w=10")
    assert response.status_code == 400, (crop, response.content[:200])
    assert response.json()["param"] == "crop"


@pytest.mark.django_db(transaction=True)
def test_equivalent_spellings_are_one_variant(client: Client, original_id: str):
    base = client.get(f"/image/{original_id}/?fmt=png&rotate=90&w=30")
    assert base.status_code == 200
    for query in EQUIVALENT[:-1]:
        response = client.get(f"/image/{original_id}/?{query}")
        assert response.status_code == 200 and response["ETag"] == base["ETag"], query
    assert client.get(f"/image/{original_id}/?{EQUIVALENT[-1]}").status_code == 400  # bare "flip" is empty


BAD_IDS = [
    "..", "%2e%2e", "..%2f..%2fetc", "a" * 17, "a" * 5000, "%00", "AAAA%00AAAA", "ü", "%F0%9F%98%80", "a.b",
    "a%20b", "%5c..%5c", "-", "_", "AAAAAAAAAAAA",
]  # fmt: skip


@pytest.mark.parametrize("bad_id", BAD_IDS)
def test_unknown_and_malformed_ids(client: Client, bad_id: str):
    response = client.get(f"/image/{bad_id}/?w=10")
    assert response.status_code in (400, 404), response.content[:200]
    assert response["Content-Type"].startswith("application/json")


@pytest.mark.parametrize(
    ("method", "statuses"),
    [("post", {405}), ("put", {405}), ("patch", {405}), ("delete", {405}), ("options", {204}), ("trace", {405})],
)
def test_methods(client: Client, original_id: str, method: str, statuses: set[int]):
    response = client.generic(method.upper(), f"/image/{original_id}/?w=10")
    assert response.status_code in statuses


@pytest.mark.parametrize(
    "headers",
    [
        {"HTTP_IF_NONE_MATCH": "garbage"},
        {"HTTP_IF_NONE_MATCH": '"' + "x" * 10000 + '"'},
        {"HTTP_IF_NONE_MATCH": ",,,"},
        {"HTTP_IF_MODIFIED_SINCE": "not a date"},
        {"HTTP_RANGE": "bytes=0-10"},
        {"HTTP_RANGE": "bytes=999999-"},
        {"HTTP_RANGE": "chunks=oops"},
        {"HTTP_ACCEPT": "image/webp;q=abc, */*;q=nope"},
        {"HTTP_ACCEPT": "," * 5000},
        {"HTTP_ACCEPT_ENCODING": "gzip;q=x"},
        {"HTTP_X_REQUEST_ID": "\x00" * 10},
    ],
)
def test_headers_never_break_it(client: Client, original_id: str, headers: dict[str, Any]):
    response = client.get(f"/image/{original_id}/?w=10", **headers)
    assert response.status_code == 200  # Range is ignored: the whole variant, as a 200


def test_star_and_weak_etags_match(client: Client, original_id: str):
    first = client.get(f"/image/{original_id}/?w=11")
    assert client.get(f"/image/{original_id}/?w=11", HTTP_IF_NONE_MATCH="*").status_code == 304
    weak = "W/" + first["ETag"]
    assert client.get(f"/image/{original_id}/?w=11", HTTP_IF_NONE_MATCH=f'"nope", {weak}').status_code == 304
