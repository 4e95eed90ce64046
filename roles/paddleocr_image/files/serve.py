"""Entry point of the OCR image: the HubServing API that clients of the official PaddleOCR image use,
served by this small Flask app under gunicorn, without PaddleHub.

    python serve.py --config /etc/paddleocr/config.json

config.json keeps HubServing's format (modules_info with each module's init_args and predict_args,
port, workers) plus our keys: bind, timeout, max_request_bytes. What clients see is PaddleHub 2.4's
`hub serving start` (paddlehub/serving/app_compat.py), byte for byte: the routes, the envelope (keys
sorted by Flask's JSON provider: msg, results, status), its statuses and messages, HTTP 200 for
errors. Request-level errors (not JSON, body too large, unknown route) are answered in the envelope too.

Beside HubServing's routes: POST /ocr, PaddleOCR 3.x serving's OCR API (PaddleX basic serving: a base64 image
or PDF in `file`, `ocrResults` with each page's `prunedResult`) for clients written against 3.x; and for
operators GET /health (liveness, PaddleOCR 3.x serving's answer), GET /ready (every module loaded and its
warm-up inference done) and GET /metrics (Prometheus, every gunicorn worker of this instance summed through
prometheus_client's multiprocess mode).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import re
import shutil
import time
import traceback
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pypdfium2
from flask import Flask, Response, g, jsonify, request
from gunicorn.app.base import BaseApplication
from werkzeug.exceptions import HTTPException

LOG = logging.getLogger("paddleocr.serve")

# HubServing's statuses: 000 ok, 101 error in the predicting method, 111 module not available,
# 112 outdated request format (not JSON).
ENVELOPE_STATUS = {400: "112", 415: "112", 404: "111", 405: "111"}
NOT_JSON = 'request body must be JSON with Content-Type application/json, like {"images": ["<base64>"]}'
# PaddleHub crashed on a JSON body that is not an object (gunicorn's bare HTML 500): answered in the envelope.
NOT_AN_OBJECT = 'request body must be a JSON object, like {"images": ["<base64>"]}'
# PaddleHub's own words for a JSON body of null, and its index page.
OUTDATED = (
    "This usage is out of date, please use 'application/json' as content-type to post to /predict/%s. "
    "See 'https://github.com/PaddlePaddle/PaddleHub/blob/release/v1.6/docs/tutorial/serving.md' for more details."
)
INDEX_PAGE = (
    "暂不提供可视化界面，请直接使用脚本进行请求。<br/>No visual interface is provided for the time being, "
    "please use the python script to make a request directly."
)


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


METRICS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
DEFAULT_METRICS_DIR = "/tmp/paddleocr-metrics"
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


def envelope(status: str, msg: str, results: Any) -> dict[str, Any]:
    return {"status": status, "msg": msg, "results": results}


def answer(status: str, msg: str, results: Any) -> Response:
    """A HubServing envelope; its status is what /metrics counts the request under."""
    g.hub_status = status
    return jsonify(envelope(status, msg, results))


def health_answer(code: int, message: str) -> tuple[Response, int]:
    """PaddleOCR 3.x serving's answer shape (errorCode 0 when fine), so its clients' health checks work too."""
    return jsonify({"logId": str(uuid.uuid4()), "errorCode": 0 if code == 200 else code, "errorMsg": message}), code


def ocr_error(code: int, message: str) -> tuple[Response, int]:
    """A /ocr error in PaddleOCR 3.x serving's envelope; /metrics counts it under its HTTP code."""
    g.hub_status = str(code)
    return health_answer(code, message)


def decode_file(data: Any, module: Any) -> bytes:
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


def image_pages(raw: bytes, module: Any) -> tuple[list[np.ndarray], dict[str, Any]]:
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


class Metrics:
    """The instance's Prometheus metrics. Every gunicorn worker writes its own files under
    PROMETHEUS_MULTIPROC_DIR (prepared by main) and /metrics sums them, so any worker answers for all."""

    def __init__(self, labels: dict[str, str]) -> None:
        from prometheus_client import Counter, Gauge, Histogram

        self.requests = Counter(
            "paddleocr_requests", "OCR requests answered, by module and HubServing status (000 = read)",
            ["module", "status"])
        self.duration = Histogram(
            "paddleocr_request_duration_seconds", "Time from request to answer", ["module"], buckets=LATENCY_BUCKETS)
        self.images = Counter("paddleocr_images", "Images read in requests answered with status 000", ["module"])
        self.in_flight = Gauge("paddleocr_requests_in_flight", "Requests being answered now",
                               multiprocess_mode="livesum")
        self.gpu_memory = Gauge("paddleocr_gpu_memory_reserved_bytes",
                                "GPU memory Paddle holds, summed over this instance's workers (GPU images only)",
                                multiprocess_mode="livesum")
        release = Gauge("paddleocr_release_info", "The release this instance serves: image, model set, models",
                        sorted(labels), multiprocess_mode="max")
        release.labels(**labels).set(1)

    @staticmethod
    def exposition() -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def warm_up(modules: dict[str, Any]) -> str | None:
    """Run each module's tiny warm-up inference; the error that keeps the instance from being ready, if any."""
    for name, (module, _) in modules.items():
        if not hasattr(module, "warm_up"):
            continue
        try:
            module.warm_up()
        except Exception as err:  # noqa: BLE001 - /ready reports it; requests still get their own envelope
            LOG.error("module %s failed its warm-up inference: %s", name, err)
            return f"module {name} failed its warm-up inference: {err}"
    return None


def load_module(name: str, init_args: dict[str, Any]) -> Any:
    """Import <directory>/module.py of a configured module and create it with the rest of its init_args."""
    args = dict(init_args)
    source = Path(args.pop("directory")) / "module.py"
    spec = importlib.util.spec_from_file_location(f"paddleocr_fleet_module_{name}", source)
    if spec is None or spec.loader is None:
        raise ImportError(f"module {name}: cannot load {source}")
    code = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(code)
    return code.create(**args)


def create_app(config: dict[str, Any]) -> Flask:
    modules = {
        name: (load_module(name, info["init_args"]), dict(info.get("predict_args") or {}))
        for name, info in config["modules_info"].items()
    }
    not_ready = warm_up(modules)
    ocr_module = next(iter(modules))
    max_pdf_pages = int(config.get("max_pdf_pages", 10))
    metrics = Metrics({key: str(value) for key, value in (config.get("labels") or {}).items()})
    # Flask's default JSON provider, as HubServing ran on it: ASCII escapes (PaddleHub's JSON_AS_ASCII=False
    # is ignored since Flask 2.3), sorted keys, compact.
    app = Flask("paddleocr_fleet.serve")
    app.config["MAX_CONTENT_LENGTH"] = int(config.get("max_request_bytes", 32 * 1024 * 1024))

    @app.route("/", methods=["GET", "POST"])
    def index() -> str:
        return INDEX_PAGE

    @app.get("/health")
    def health() -> Any:
        return health_answer(200, "Healthy")

    @app.get("/ready")
    def ready() -> Any:
        return health_answer(503, not_ready) if not_ready else health_answer(200, "Ready")

    @app.get("/metrics")
    def metrics_page() -> Response:
        return metrics.exposition()

    @app.before_request
    def start_clock() -> None:
        if request.path.startswith("/predict/") or request.path == "/ocr":
            g.started = time.perf_counter()
            metrics.in_flight.inc()

    @app.after_request
    def count(response: Response) -> Response:
        started = g.get("started")
        if started is not None:
            name = ocr_module if request.path == "/ocr" else (request.view_args or {}).get("module_name")
            module = name if name in modules else "unknown"
            metrics.requests.labels(module, g.get("hub_status", "101")).inc()
            metrics.duration.labels(module).observe(time.perf_counter() - started)
            if g.get("images"):
                metrics.images.labels(module).inc(g.images)
        return response

    @app.teardown_request
    def leave(_error: BaseException | None) -> None:
        if g.get("started") is not None:
            metrics.in_flight.dec()

    @app.post("/predict/<module_name>")
    def predict(module_name: str) -> Any:
        if module_name not in modules:
            return answer("111", f"Module {module_name} is not available.", "")
        inputs = request.json
        if inputs is None:
            return answer("112", OUTDATED % module_name, "")
        if not isinstance(inputs, dict):
            return answer("112", NOT_AN_OBJECT, "")
        module, predict_args = modules[module_name]
        args = {**predict_args, **inputs}
        try:
            output = module.serving_method(**args)
        except Exception as err:  # noqa: BLE001 - every engine error is the client's 101, as in HubServing
            LOG.error(traceback.format_exc())
            return answer("101", str(err), "")
        g.images = len(output) if isinstance(output, list) else 0
        gpu_memory = getattr(module, "gpu_memory_reserved_bytes", None)
        if gpu_memory is not None and (reserved := gpu_memory()) is not None:
            metrics.gpu_memory.set(reserved)
        return answer("000", "", output)

    @app.post("/ocr")
    def ocr() -> Any:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return ocr_error(422, 'request body must be a JSON object, like {"file": "<base64>", "fileType": 1}')
        module, _ = modules[ocr_module]
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
            pages, data_info = pdf_pages(raw, max_pdf_pages) if kind == "pdf" else image_pages(raw, module)
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

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Any:
        if request.path == "/ocr":
            too_large = f"request body is larger than the {app.config['MAX_CONTENT_LENGTH']} byte limit"
            return ocr_error(error.code or 500, too_large if error.code == 413 else f"{error.code} {error.name}")
        status = ENVELOPE_STATUS.get(error.code or 0, "101")
        if error.code in (400, 415):
            message = NOT_JSON
        elif error.code == 413:
            message = f"request body is larger than the {app.config['MAX_CONTENT_LENGTH']} byte limit"
        else:
            message = f"{error.code} {error.name}: {error.description}"
        # HubServing answers its errors with HTTP 200 and the status in the envelope.
        return answer(status, message, ""), 200

    return app


class HubServingApplication(BaseApplication):
    def __init__(self, config: dict[str, Any]) -> None:
        self.hub_config = config
        super().__init__()

    def load_config(self) -> None:
        config = self.hub_config
        self.cfg.set("bind", f"{config.get('bind', '0.0.0.0')}:{config.get('port', 8866)}")
        self.cfg.set("workers", int(config.get("workers") or 1))
        self.cfg.set("timeout", int(config.get("timeout", 120)))
        self.cfg.set("graceful_timeout", 20)
        self.cfg.set("preload_app", False)  # each worker loads its own predictor: paddle is not fork-safe
        self.cfg.set("accesslog", "-")
        self.cfg.set("child_exit", forget_worker)

    def load(self) -> Flask:
        return create_app(self.hub_config)


def forget_worker(_server: Any, worker: Any) -> None:
    """gunicorn's child_exit hook: a dead worker's in-flight and GPU gauges stop counting."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def prepare_metrics_dir() -> None:
    """An empty directory for the workers' metric files, named before prometheus_client is imported."""
    path = os.environ.setdefault(METRICS_DIR_VARIABLE, DEFAULT_METRICS_DIR)
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path, mode=0o700)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="/etc/paddleocr/config.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    prepare_metrics_dir()
    with open(args.config, encoding="utf-8") as handle:
        HubServingApplication(json.load(handle)).run()


if __name__ == "__main__":
    main()
