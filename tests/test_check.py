from __future__ import annotations

import pytest

from paddleocr_fleet.check import predict_url, redact
from paddleocr_fleet.samples import load_samples, missing_texts


@pytest.mark.parametrize(
    ("endpoint", "url"),
    [
        ("ocr-01:8866", "http://ocr-01:8866/predict/ocr_system"),
        ("http://10.0.0.5:8866/", "http://10.0.0.5:8866/predict/ocr_system"),
        ("https://ocr.example/predict/ocr_system", "https://ocr.example/predict/ocr_system"),
    ],
)
def test_predict_url(endpoint, url):
    assert predict_url(endpoint) == url


def test_missing_texts_ignores_case_and_spacing():
    assert missing_texts(["PaddleOCR fleet"], ["paddleocr   FLEET", "x"]) == []
    assert missing_texts(["Invoice 2026-11-24"], ["Invoice 2026-11-25"]) == ["Invoice 2026-11-24"]


def test_samples_exist_with_expectations():
    samples = load_samples()
    assert samples
    for sample in samples:
        assert sample.image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert sample.expect


@pytest.mark.parametrize(
    ("endpoint", "shown"),
    [
        ("https://ocr:s3cret@ocr-01:8866", "https://ocr:***@ocr-01:8866"),
        ("ocr:s3cret@10.0.0.5:8866", "http://ocr:***@10.0.0.5:8866"),
        ("https://ocr-01:8866", "https://ocr-01:8866"),
    ],
)
def test_passwords_in_endpoints_are_never_printed(endpoint, shown):
    assert redact(endpoint) == shown
