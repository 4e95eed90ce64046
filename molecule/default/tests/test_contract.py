"""The HubServing API contract, from the client side, answer by answer (README "The API").

The service is our own Flask app since PaddleHub was dropped; these are the answers PaddleHub 2.4's
`hub serving start` gave (paddlehub/serving/app_compat.py: routes, envelope, statuses, messages),
byte for byte where they are fixed, field by field where the engine computes them. One deliberate
difference: a JSON body that is not an object crashed PaddleHub's request (gunicorn's HTML 500); it
gets a 112 envelope now.
"""

from __future__ import annotations

import base64
import json
import os

import pytest
import requests

from paddleocr_fleet.samples import load_samples
from support.image_lock import image_lock_against_imports, in_service_container

URL = os.environ.get("PADDLEOCR_TEST_URL", "http://127.0.0.1:18867")
PREDICT = f"{URL}/predict/ocr_system"
SAMPLE = load_samples()[0]
SAMPLE_B64 = base64.b64encode(SAMPLE.image.read_bytes()).decode()
NOT_JSON = 'request body must be JSON with Content-Type application/json, like {"images": ["<base64>"]}'
NO_IMAGES = 'request needs "images": a non-empty list of base64-encoded images'


def envelope_bytes(status: str, msg: str, results: object = "") -> bytes:
    """Flask's JSON as HubServing sent it: sorted keys, compact, ASCII escapes, a final newline."""
    return (json.dumps({"msg": msg, "results": results, "status": status}, sort_keys=True,
                       separators=(",", ":")) + "\n").encode()


ERRORS = {
    "form-encoded": ({"data": b"images=abc", "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
                     "112", NOT_JSON),
    "broken-json": ({"data": b'{"images": [', "headers": {"Content-Type": "application/json"}}, "112", NOT_JSON),
    "json-null": ({"data": b"null", "headers": {"Content-Type": "application/json"}}, "112",
                  ("This usage is out of date, please use 'application/json' as content-type to post to "
                  "/predict/ocr_system. See 'https://github.com/PaddlePaddle/PaddleHub/blob/release/v1.6/docs/"
                  "tutorial/serving.md' for more details.")),
    "json-array": ({"json": [SAMPLE_B64]}, "112", 'request body must be a JSON object, like {"images": ["<base64>"]}'),
    "no-images-key": ({"json": {"pictures": [SAMPLE_B64]}}, "101", NO_IMAGES),
    "images-not-a-list": ({"json": {"images": SAMPLE_B64}}, "101", NO_IMAGES),
    "empty-list": ({"json": {"images": []}}, "101", NO_IMAGES),
    "empty-string": ({"json": {"images": [""]}}, "101", "images[0] is empty or not a base64 string"),
    "invalid-base64": ({"json": {"images": ["this is not base64!"]}}, "101", "images[0] is not valid base64"),
    "not-an-image": ({"json": {"images": [base64.b64encode(b"%PDF-1.4 not an image").decode()]}}, "101",
                     "images[0] is not a decodable image (PNG, JPEG, BMP, TIFF or WebP)"),
    "empty-data-uri": ({"json": {"images": ["data:,"]}}, "101",
                       "images[0] is not a decodable image (PNG, JPEG, BMP, TIFF or WebP)"),
    "second-image-bad": ({"json": {"images": [SAMPLE_B64, "!!"]}}, "101", "images[1] is not valid base64"),
    "body-over-the-limit": ({"data": b"x" * (16 * 1024 * 1024 + 1), "headers": {"Content-Type": "application/json"}},
                            "101", "request body is larger than the 16777216 byte limit"),
}


@pytest.mark.parametrize("case", ERRORS, ids=list(ERRORS))
def test_errors_are_envelopes_byte_for_byte(case):
    kwargs, status, msg = ERRORS[case]
    answer = requests.post(PREDICT, timeout=60, **kwargs)
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "application/json"
    assert answer.content == envelope_bytes(status, msg), answer.content[:300]


@pytest.mark.parametrize(("method", "path", "status", "msg"), [
    ("post", "/predict/nonexistent", "111", "Module nonexistent is not available."),
    ("get", "/predict/ocr_system", "111", "405 Method Not Allowed: The method is not allowed for the requested URL."),
    ("get", "/nothing/here", "111", ("404 Not Found: The requested URL was not found on the server. If you entered the "
                                    "URL manually please check your spelling and try again.")),
])
def test_routes_answer_as_hubserving_did(method, path, status, msg):
    answer = getattr(requests, method)(f"{URL}{path}", timeout=60,
                                       **({"json": {"images": [SAMPLE_B64]}} if method == "post" else {}))
    assert answer.status_code == 200 and answer.content == envelope_bytes(status, msg), answer.content[:300]


def test_index_page_is_hubservings():
    answer = requests.get(f"{URL}/", timeout=60)
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "text/html; charset=utf-8"
    assert answer.text.endswith("No visual interface is provided for the time being, please use the python "
                                "script to make a request directly.")


def assert_sample_lines(lines: list) -> None:
    assert [line["text"] for line in lines] == list(SAMPLE.expect), lines
    for line in lines:
        assert list(line) == ["confidence", "text", "text_region"]  # key order on the wire: sorted
        assert isinstance(line["confidence"], float) and 0.5 < line["confidence"] <= 1.0
        region = line["text_region"]
        assert len(region) == 4 and all(len(p) == 2 and all(isinstance(v, int) for v in p) for p in region)


@pytest.mark.parametrize("count", [1, 3])
def test_good_images_field_by_field(count):
    answer = requests.post(PREDICT, json={"images": [SAMPLE_B64] * count}, timeout=120)
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "application/json"
    assert answer.content.startswith(b'{"msg":"","results":[[{"confidence":') and answer.content.endswith(b'"status":"000"}\n')
    body = answer.json()
    assert list(body) == ["msg", "results", "status"] and body["msg"] == "" and body["status"] == "000"
    assert len(body["results"]) == count  # one list of lines per image, in order
    for lines in body["results"]:
        assert_sample_lines(lines)
    assert body["results"][0][0]["text_region"] == [[40, 34], [495, 34], [495, 88], [40, 88]]  # README's example


def test_data_uri_and_extra_keys_are_accepted():
    answer = requests.post(PREDICT, json={"images": [f"data:image/png;base64,{SAMPLE_B64}"], "visualization": True},
                           timeout=120).json()
    assert answer["status"] == "000"
    assert_sample_lines(answer["results"][0])


def test_every_package_in_the_image_lock_is_imported_by_the_started_service(host):
    """The onnxruntime lock leaves out what pip's resolution brings and the service never imports (sympy, the
    model hosters' HTTP and crypto packages): 142 MB less in the image (2026-12-06)."""
    unimported, unlocked, loaded = image_lock_against_imports(in_service_container(host))
    assert unimported == set(), f"in the lock but never imported: {sorted(unimported)}"
    assert unlocked <= {"pip", "setuptools"}, f"imported but not locked: {sorted(unlocked)}"
    assert not {"paddlepaddle", "paddlehub", "sympy"} & loaded


# Operators' routes beside HubServing's: liveness, readiness, and Prometheus metrics that count what clients sent.
def test_health_and_readiness_answer_like_paddleocr_3_serving():
    for route, message in (("/health", "Healthy"), ("/ready", "Ready")):
        answer = requests.get(URL + route, timeout=30)
        assert answer.status_code == 200 and answer.json()["errorCode"] == 0, answer.text
        assert answer.json()["errorMsg"] == message and answer.json()["logId"]


def metric_values(text: str) -> dict[str, float]:
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("paddleocr_"):
            series, value = line.rsplit(" ", 1)
            values[series] = float(value)
    return values


def test_metrics_count_every_request_by_status():
    requests_000 = 'paddleocr_requests_total{module="ocr_system",status="000"}'
    requests_101 = 'paddleocr_requests_total{module="ocr_system",status="101"}'
    requests_112 = 'paddleocr_requests_total{module="ocr_system",status="112"}'
    images = 'paddleocr_images_total{module="ocr_system"}'
    timed = 'paddleocr_request_duration_seconds_count{module="ocr_system"}'
    before = metric_values(requests.get(f"{URL}/metrics", timeout=30).text)
    for _ in range(3):
        assert requests.post(PREDICT, json={"images": [SAMPLE_B64, SAMPLE_B64]}, timeout=120).json()["status"] == "000"
    for _ in range(2):
        assert requests.post(PREDICT, json={"images": ["!!"]}, timeout=60).json()["status"] == "101"
    assert requests.post(PREDICT, data=b"images=abc", timeout=60,
                         headers={"Content-Type": "application/x-www-form-urlencoded"}).json()["status"] == "112"
    answer = requests.get(f"{URL}/metrics", timeout=30)
    assert answer.headers["Content-Type"].startswith("text/plain")
    after = metric_values(answer.text)
    delta = {name: after.get(name, 0.0) - before.get(name, 0.0) for name in (requests_000, requests_101, requests_112,
                                                                              images, timed)}
    assert delta == {requests_000: 3, requests_101: 2, requests_112: 1, images: 6, timed: 6}, delta
    assert after["paddleocr_requests_in_flight"] == 0
    [release] = [series for series in after if series.startswith("paddleocr_release_info{")]
    assert 'model_set="ppocrv6-small"' in release and 'image="' in release and after[release] == 1
