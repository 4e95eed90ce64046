"""POST /ocr: PaddleOCR 3.x serving's OCR API (PaddleX basic serving: a base64 image or PDF in `file`,
`ocrResults` with each page's `prunedResult`), for clients written against 3.x."""

from __future__ import annotations

import logging
import re
import traceback
import uuid
from typing import TYPE_CHECKING, Any

import numpy as np
import pypdfium2
from flask import Flask, g, jsonify, request

from hubserving.answers import ocr_error
from hubserving.module_interface import OCRModule

if TYPE_CHECKING:
    from hubserving.app import Service

LOG = logging.getLogger("paddleocr.serve")

# PaddleOCR 3.x serving (/ocr): fileType 0 is a PDF, 1 an image; PDF pages are rendered at twice their size
# in points (144 dpi), as PaddleX does.
OCR_FILE_TYPES = {0: "pdf", 1: "image"}
PDF_RENDER_SCALE = 2.0
PDF_MAX_PAGE_SIDE = 20000
URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
# 3.x options this runtime has no model for: only false (or absent) is accepted.
OCR_UNSUPPORTED_OPTIONS = ("useDocOrientationClassify", "useDocUnwarping")
# 3.x options set per model set here (paddleocr_service_det_limit_side_len, ...), not per request.
OCR_FIXED_OPTIONS = ("textDetLimitSideLen", "textDetLimitType", "textDetThresh", "textDetBoxThresh",
                     "textDetUnclipRatio")


class OCRRequestError(ValueError):
    """A /ocr request this service cannot answer: HTTP 422 with the reason, as PaddleX answers."""


def decode_file(data: Any, module: OCRModule) -> bytes:
    """The bytes of /ocr's `file`, decoded by the OCR module as it decodes HubServing's images."""
    if not isinstance(data, str) or not data.strip():
        raise OCRRequestError('request needs "file": the image or PDF, base64-encoded')
    if URL_SCHEME.match(data.strip()):
        raise OCRRequestError("file: this service does not fetch URLs; send the file itself, base64-encoded")
    try:
        return module.decode_base64(data, "file", module.max_image_bytes)
    except ValueError as error:
        raise OCRRequestError(str(error)) from None


def file_type_of(raw: bytes, declared: Any) -> str:
    """fileType as sent (0 PDF, 1 image), or, when absent, what the bytes are."""
    if declared is None:
        return "pdf" if raw.startswith(b"%PDF-") else "image"
    if isinstance(declared, bool) or declared not in OCR_FILE_TYPES:
        raise OCRRequestError("fileType must be 0 (PDF) or 1 (image)")
    return OCR_FILE_TYPES[declared]


def image_pages(raw: bytes, module: OCRModule) -> tuple[list[np.ndarray], dict[str, Any]]:
    try:
        image = module.decode_image_bytes(raw, "file")
    except ValueError as error:
        raise OCRRequestError(str(error)) from None
    return [image], {"width": image.shape[1], "height": image.shape[0], "type": "image"}


def pdf_pages(raw: bytes, max_pages: int) -> tuple[list[np.ndarray], dict[str, Any]]:
    try:
        document = pypdfium2.PdfDocument(raw)
    except pypdfium2.PdfiumError as error:
        raise OCRRequestError(f"file is not a readable PDF ({error})") from None
    try:
        if len(document) == 0:
            raise OCRRequestError("the PDF has no pages")
        if len(document) > max_pages:
            raise OCRRequestError(f"the PDF has {len(document)} pages; this service reads at most {max_pages} per "
                                  "request (paddleocr_service_max_pdf_pages): split it")
        pages = []
        for number, page in enumerate(document):
            width, height = page.get_size()
            if max(width, height) * PDF_RENDER_SCALE > PDF_MAX_PAGE_SIDE:
                raise OCRRequestError(f"page {number + 1} of the PDF is larger than {PDF_MAX_PAGE_SIDE} pixels "
                                      "on a side at 144 dpi")
            pages.append(np.ascontiguousarray(page.render(scale=PDF_RENDER_SCALE).to_numpy()[:, :, :3]))
            page.close()
    finally:
        document.close()
    info = {"numPages": len(pages), "pages": [{"width": p.shape[1], "height": p.shape[0]} for p in pages],
            "type": "pdf"}
    return pages, info


def option(body: dict[str, Any], *names: str) -> Any:
    """A 3.x request option, under any of its spellings (PaddleX renamed some between releases)."""
    return next((body[name] for name in names if body.get(name) is not None), None)


def pruned_result(lines: list[dict[str, Any]], page_index: int | None, textline_orientation: bool,
                  score_threshold: float) -> dict[str, Any]:
    """One page's lines in the 3.x OCR pipeline's result keys (the ones this runtime has)."""
    kept = [line for line in lines if line["confidence"] >= score_threshold]
    polys = [line["text_region"] for line in kept]
    return {
        "page_index": page_index,
        "model_settings": {"use_doc_preprocessor": False, "use_textline_orientation": textline_orientation},
        "dt_polys": polys,
        "text_type": "general",
        "text_rec_score_thresh": score_threshold,
        "rec_texts": [line["text"] for line in kept],
        "rec_scores": [line["confidence"] for line in kept],
        "rec_polys": polys,
        "rec_boxes": [[min(x for x, _ in poly), min(y for _, y in poly), max(x for x, _ in poly),
                       max(y for _, y in poly)] for poly in polys],
    }


def register(app: Flask, service: Service) -> None:
    @app.post("/ocr")
    def ocr() -> Any:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return ocr_error(422, 'request body must be a JSON object, like {"file": "<base64>", "fileType": 1}')
        module, _ = service.modules[service.ocr_module]
        try:
            for name in OCR_UNSUPPORTED_OPTIONS:
                if body.get(name):
                    raise OCRRequestError(f"{name}: this service has no document preprocessing models; send false")
            fixed = [name for name in OCR_FIXED_OPTIONS if body.get(name) is not None]
            if fixed:
                raise OCRRequestError(f"{', '.join(fixed)}: fixed by this service's settings "
                                      "(paddleocr_service_det_limit_side_len and the model set), not set per request")
            textline_orientation = option(body, "useTextlineOrientation", "useTextLineOrientation")
            if textline_orientation and not module.use_angle_cls:
                raise OCRRequestError("useTextlineOrientation: this service runs without the text line orientation "
                                      "model (paddleocr_service_use_angle_cls)")
            use_angle_cls = module.use_angle_cls if textline_orientation is None else bool(textline_orientation)
            threshold = option(body, "textRecScoreThresh") or 0.0
            if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
                raise OCRRequestError("textRecScoreThresh must be a number")
            raw = decode_file(body.get("file"), module)
            kind = file_type_of(raw, body.get("fileType"))
            pages, data_info = pdf_pages(raw, service.max_pdf_pages) if kind == "pdf" else image_pages(raw, module)
        except OCRRequestError as error:
            return ocr_error(422, str(error))
        try:
            lines = module.predict(pages, use_angle_cls=use_angle_cls)
        except Exception as err:  # noqa: BLE001 - an engine error is the client's 500, with its reason
            LOG.error(traceback.format_exc())
            return ocr_error(500, str(err))
        g.hub_status = "000"
        g.images = len(pages)
        results = [{"prunedResult": pruned_result(page, number if kind == "pdf" else None, use_angle_cls,
                                                  float(threshold)),
                    "ocrImage": None, "docPreprocessingImage": None, "inputImage": None}
                   for number, page in enumerate(lines)]
        return jsonify({"logId": str(uuid.uuid4()), "errorCode": 0, "errorMsg": "Success",
                        "result": {"ocrResults": results, "dataInfo": data_info}})
