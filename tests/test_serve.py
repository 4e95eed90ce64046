"""The OCR image's server (roles/paddleocr_image/files/hubserving) through Flask's test client, with a fake OCR
module (tests/support/fake_ocr_module) loaded as serve.py loads ocr_system. The same answers from the real image
and engine: molecule/default/tests/test_contract.py, test_ocr_api.py."""

from __future__ import annotations

import base64
import io
import os
import sys
import tempfile
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient
from PIL import Image

from support import PROJECT_ROOT

# prometheus_client picks its multiprocess storage when it is first imported, as in the image (serve.py's main).
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="paddleocr-metrics-"))
sys.path.insert(0, str(PROJECT_ROOT / "roles" / "paddleocr_image" / "files"))

from hubserving.app import create_app
from hubserving.hubserving_routes import NOT_AN_OBJECT, NOT_JSON, OUTDATED

FAKE_MODULE = PROJECT_ROOT / "tests" / "support" / "fake_ocr_module"
PREDICT = "/predict/ocr_system"


def png(width: int = 120, height: int = 40) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(out, format="PNG")
    return out.getvalue()


def pdf(pages: int) -> bytes:
    page = Image.new("RGB", (200, 100), "white")
    out = io.BytesIO()
    page.save(out, format="PDF", save_all=True, append_images=[page] * (pages - 1), resolution=72)
    return out.getvalue()


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


AppFactory = Callable[..., FlaskClient]


@pytest.fixture
def client_of() -> AppFactory:
    def make(max_request_bytes: int = 1 << 20, max_pdf_pages: int = 3, **init_args: object) -> FlaskClient:
        config = {"modules_info": {"ocr_system": {"init_args": {"directory": str(FAKE_MODULE), **init_args},
                                                  "predict_args": {}}},
                  "max_request_bytes": max_request_bytes, "max_pdf_pages": max_pdf_pages,
                  "labels": {"image": "test:1", "model_set": "fake", "models_version": "1"}}
        return create_app(config).test_client()
    return make


@pytest.fixture
def client(client_of: AppFactory) -> FlaskClient:
    return client_of()


def test_an_image_is_answered_in_hubservings_envelope_byte_for_byte(client):
    answer = client.post(PREDICT, json={"images": [b64(png(120, 40))]})
    assert answer.status_code == 200
    assert answer.data == (b'{"msg":"","results":[[{"confidence":0.9,"text":"120x40 cls=None",'
                           b'"text_region":[[0,0],[120,0],[120,40],[0,40]]}]],"status":"000"}\n')


@pytest.mark.parametrize(("request_kwargs", "status", "msg"), [
    ({"data": "images=x", "content_type": "application/x-www-form-urlencoded"}, "112", NOT_JSON),
    ({"data": "null", "content_type": "application/json"}, "112", OUTDATED % "ocr_system"),
    ({"json": ["x"]}, "112", NOT_AN_OBJECT),
    ({"json": {"images": []}}, "101", 'request needs "images": a non-empty list of base64-encoded images'),
    ({"json": {"images": ["not base64!"]}}, "101", "images[0] is not valid base64"),
])
def test_bad_requests_get_the_envelope_with_http_200(client, request_kwargs, status, msg):
    answer = client.post(PREDICT, **request_kwargs)
    assert answer.status_code == 200
    assert answer.get_json() == {"status": status, "msg": msg, "results": ""}


def test_an_unknown_module_is_status_111(client):
    assert client.post("/predict/nope", json={"images": []}).get_json() == {
        "status": "111", "msg": "Module nope is not available.", "results": ""}


def test_a_body_over_the_limit_is_refused_in_the_envelope(client_of):
    answer = client_of(max_request_bytes=1000).post(PREDICT, json={"images": [b64(png()) * 20]})
    assert answer.status_code == 200
    assert answer.get_json()["msg"] == "request body is larger than the 1000 byte limit"


def test_ocr_reads_every_page_of_a_pdf_at_144_dpi(client):
    body = client.post("/ocr", json={"file": b64(pdf(2)), "fileType": 0}).get_json()
    assert body["errorCode"] == 0
    assert body["result"]["dataInfo"] == {"numPages": 2, "type": "pdf",
                                          "pages": [{"width": 400, "height": 200}, {"width": 400, "height": 200}]}
    pages = [result["prunedResult"] for result in body["result"]["ocrResults"]]
    assert [page["page_index"] for page in pages] == [0, 1]
    assert [page["rec_texts"] for page in pages] == [["400x200 cls=True"]] * 2
    assert pages[0]["rec_boxes"] == [[0, 0, 400, 200]]


def test_ocr_tells_an_image_from_a_pdf_by_its_bytes(client):
    body = client.post("/ocr", json={"file": b64(png(80, 30))}).get_json()
    assert body["result"]["dataInfo"] == {"width": 80, "height": 30, "type": "image"}
    assert body["result"]["ocrResults"][0]["prunedResult"]["page_index"] is None


@pytest.mark.parametrize(("body", "reason"), [
    ({"file": "https://example.com/a.png"}, "file: this service does not fetch URLs"),
    ({"file": b64(png()), "fileType": 2}, "fileType must be 0 (PDF) or 1 (image)"),
    ({"file": b64(png()), "useDocUnwarping": True}, "useDocUnwarping: this service has no document preprocessing"),
    ({"file": b64(png()), "textDetLimitSideLen": 64}, "textDetLimitSideLen: fixed by this service's settings"),
    ({"file": b64(png()), "textRecScoreThresh": "high"}, "textRecScoreThresh must be a number"),
    ({"file": b64(pdf(4)), "fileType": 0}, "the PDF has 4 pages; this service reads at most 3"),
    ({"file": b64(b"%PDF-1.4 broken")}, "file is not a readable PDF"),
])
def test_ocr_refuses_what_it_cannot_answer_with_422_and_the_reason(client, body, reason):
    answer = client.post("/ocr", json=body)
    assert answer.status_code == 422
    assert answer.get_json()["errorMsg"].startswith(reason)


def test_ocr_refuses_the_orientation_model_it_runs_without(client_of):
    answer = client_of(use_angle_cls=False).post("/ocr", json={"file": b64(png()), "useTextlineOrientation": True})
    assert answer.status_code == 422
    assert "runs without the text line orientation model" in answer.get_json()["errorMsg"]


def test_ready_only_after_the_warm_up_inference(client_of):
    assert client_of().get("/ready").get_json()["errorMsg"] == "Ready"
    failed = client_of(fail_warm_up=True).get("/ready")
    assert failed.status_code == 503
    assert failed.get_json()["errorMsg"] == "module ocr_system failed its warm-up inference: no model"
    assert client_of(fail_warm_up=True).get("/health").status_code == 200


def test_metrics_count_requests_by_module_and_status(client):
    def count(status: str) -> float:
        text = client.get("/metrics").get_data(as_text=True)
        line = f'paddleocr_requests_total{{module="ocr_system",status="{status}"}} '
        return sum(float(row[len(line):]) for row in text.splitlines() if row.startswith(line))

    before = {status: count(status) for status in ("000", "101", "422")}
    client.post(PREDICT, json={"images": [b64(png())]})
    client.post(PREDICT, json={"images": ["not base64!"]})
    client.post("/ocr", json={"file": b64(png()), "fileType": 2})
    assert {status: count(status) - before[status] for status in before} == {"000": 1, "101": 1, "422": 1}
