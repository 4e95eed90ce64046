"""POST /ocr: PaddleOCR 3.x serving's OCR API (PaddleX basic serving) beside HubServing's, on the same port,
for clients written against 3.x: an image or a PDF in base64, each page's lines as `prunedResult`. Real text
from the real engine, page by page; bad input gets a 422 with its reason and the service goes on answering."""

from __future__ import annotations

import base64
import io
import os

import pytest
import requests
from PIL import Image

from paddleocr_fleet.samples import load_samples

URL = os.environ.get("PADDLEOCR_TEST_URL", "http://127.0.0.1:18867")
OCR = f"{URL}/ocr"
SAMPLE = load_samples()[0]
SAMPLE_BYTES = SAMPLE.image.read_bytes()
SAMPLE_B64 = base64.b64encode(SAMPLE_BYTES).decode()
MAX_PDF_PAGES = 10  # paddleocr_service_max_pdf_pages' default


def pdf_of(pages: list[Image.Image]) -> str:
    """A PDF with one image per page at 72 dpi (a page as many points as the image has pixels), in base64."""
    buffer = io.BytesIO()
    pages[0].save(buffer, format="PDF", save_all=True, append_images=pages[1:], resolution=72)
    return base64.b64encode(buffer.getvalue()).decode()


SAMPLE_PAGE = Image.open(io.BytesIO(SAMPLE_BYTES)).convert("RGB")
BLANK_PAGE = Image.new("RGB", (200, 100), "white")


def ocr(body: object) -> requests.Response:
    return requests.post(OCR, json=body, timeout=180)


def hubserving_lines() -> list[dict]:
    answer = requests.post(f"{URL}/predict/ocr_system", json={"images": [SAMPLE_B64]}, timeout=120).json()
    assert answer["status"] == "000"
    return answer["results"][0]


def test_an_image_gets_the_same_lines_as_hubserving_in_the_3x_shape():
    answer = ocr({"file": SAMPLE_B64, "fileType": 1})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["errorCode"] == 0 and body["errorMsg"] == "Success" and body["logId"]
    assert body["result"]["dataInfo"] == {"width": 900, "height": 220, "type": "image"}
    [page] = body["result"]["ocrResults"]
    assert page["ocrImage"] is None and page["inputImage"] is None
    pruned = page["prunedResult"]
    assert pruned["rec_texts"] == list(SAMPLE.expect)
    lines = hubserving_lines()
    assert pruned["rec_texts"] == [line["text"] for line in lines]
    assert pruned["rec_polys"] == pruned["dt_polys"] == [line["text_region"] for line in lines]
    assert pruned["rec_scores"] == pytest.approx([line["confidence"] for line in lines])
    assert pruned["rec_boxes"] == [[min(x for x, _ in poly), min(y for _, y in poly), max(x for x, _ in poly),
                                    max(y for _, y in poly)] for poly in pruned["rec_polys"]]
    assert pruned["page_index"] is None and pruned["model_settings"]["use_doc_preprocessor"] is False


def test_every_page_of_a_pdf_is_read_in_order():
    answer = ocr({"file": pdf_of([SAMPLE_PAGE, BLANK_PAGE, SAMPLE_PAGE]), "fileType": 0})
    assert answer.status_code == 200, answer.text
    result = answer.json()["result"]
    assert result["dataInfo"]["type"] == "pdf" and result["dataInfo"]["numPages"] == 3
    # Rendered at 144 dpi: twice the page's size in points.
    assert result["dataInfo"]["pages"][0] == {"width": 1800, "height": 440}
    pages = [page["prunedResult"] for page in result["ocrResults"]]
    assert [page["page_index"] for page in pages] == [0, 1, 2]
    assert [page["rec_texts"] for page in pages] == [list(SAMPLE.expect), [], list(SAMPLE.expect)]


def test_the_file_type_is_read_from_the_bytes_when_absent():
    answer = ocr({"file": pdf_of([SAMPLE_PAGE])})
    assert answer.status_code == 200 and answer.json()["result"]["dataInfo"]["type"] == "pdf"


def test_the_score_threshold_and_the_orientation_switch_apply_per_request():
    plain = ocr({"file": SAMPLE_B64, "useTextlineOrientation": False}).json()["result"]["ocrResults"][0]
    assert plain["prunedResult"]["rec_texts"] == list(SAMPLE.expect)
    assert plain["prunedResult"]["model_settings"]["use_textline_orientation"] is False
    best = max(plain["prunedResult"]["rec_scores"])
    assert best < 1.0
    above_every_line = round((best + 1.0) / 2, 6)
    strict = ocr({"file": SAMPLE_B64, "textRecScoreThresh": above_every_line}).json()["result"]["ocrResults"][0]
    assert strict["prunedResult"]["rec_texts"] == []
    assert strict["prunedResult"]["text_rec_score_thresh"] == above_every_line


ERRORS = {
    "url": ({"file": "https://example.com/scan.png", "fileType": 1},
            "file: this service does not fetch URLs; send the file itself, base64-encoded"),
    "pdf-past-the-page-limit": ({"file": pdf_of([BLANK_PAGE] * (MAX_PDF_PAGES + 1)), "fileType": 0},
                                (f"the PDF has {MAX_PDF_PAGES + 1} pages; this service reads at most {MAX_PDF_PAGES} "
                                 "per request (paddleocr_service_max_pdf_pages): split it")),
    "no-file": ({"fileType": 1}, 'request needs "file": the image or PDF, base64-encoded'),
    "invalid-base64": ({"file": "not base64!", "fileType": 1}, "file is not valid base64"),
    "image-said-pdf": ({"file": SAMPLE_B64, "fileType": 0}, "file is not a readable PDF"),
    "pdf-said-image": ({"file": pdf_of([SAMPLE_PAGE]), "fileType": 1},
                       "file is not a decodable image (PNG, JPEG, BMP, TIFF or WebP)"),
    "unknown-file-type": ({"file": SAMPLE_B64, "fileType": 2}, "fileType must be 0 (PDF) or 1 (image)"),
    "document-unwarping": ({"file": SAMPLE_B64, "useDocUnwarping": True},
                           "useDocUnwarping: this service has no document preprocessing models; send false"),
    "per-request-detection-settings": ({"file": SAMPLE_B64, "textDetThresh": 0.2},
                                       "textDetThresh: fixed by this service's settings"),
    "not-an-object": ([SAMPLE_B64], 'request body must be a JSON object, like {"file": "<base64>", "fileType": 1}'),
}


@pytest.mark.parametrize("case", ERRORS, ids=list(ERRORS))
def test_bad_input_gets_a_422_with_its_reason_and_the_service_goes_on(case):
    body, message = ERRORS[case]
    answer = ocr(body)
    assert answer.status_code == 422, answer.text
    error = answer.json()
    assert error["errorCode"] == 422 and error["errorMsg"].startswith(message) and error["logId"], error
    assert "result" not in error
    assert ocr({"file": SAMPLE_B64, "fileType": 1}).json()["result"]["ocrResults"][0]["prunedResult"]["rec_texts"] \
        == list(SAMPLE.expect)
