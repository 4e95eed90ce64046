"""HubServing's routes, as PaddleHub 2.4's `hub serving start` answered them (paddlehub/serving/app_compat.py),
byte for byte: POST /predict/<module> and the index page, with every request-level error (not JSON, body too
large, unknown route) in the envelope with HTTP 200; /ocr's errors in its own shape."""

from __future__ import annotations

import logging
import traceback
from typing import TYPE_CHECKING, Any

from flask import Flask, g, request
from werkzeug.exceptions import HTTPException

from hubserving.answers import answer, ocr_error

if TYPE_CHECKING:
    from hubserving.app import Service

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


def register(app: Flask, service: Service) -> None:
    @app.route("/", methods=["GET", "POST"])
    def index() -> str:
        return INDEX_PAGE

    @app.post("/predict/<module_name>")
    def predict(module_name: str) -> Any:
        if module_name not in service.modules:
            return answer("111", f"Module {module_name} is not available.", "")
        inputs = request.json
        if inputs is None:
            return answer("112", OUTDATED % module_name, "")
        if not isinstance(inputs, dict):
            return answer("112", NOT_AN_OBJECT, "")
        module, predict_args = service.modules[module_name]
        args = {**predict_args, **inputs}
        try:
            output = module.serving_method(**args)
        except Exception as err:  # noqa: BLE001 - every engine error is the client's 101, as in HubServing
            LOG.error(traceback.format_exc())
            return answer("101", str(err), "")
        g.images = len(output) if isinstance(output, list) else 0
        gpu_memory = getattr(module, "gpu_memory_reserved_bytes", None)
        if gpu_memory is not None and (reserved := gpu_memory()) is not None:
            service.metrics.gpu_memory.set(reserved)
        return answer("000", "", output)

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

