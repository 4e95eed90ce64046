"""The answer shapes: HubServing's envelope (status, msg, results) and PaddleOCR 3.x serving's (logId, errorCode,
errorMsg). Each records in flask.g the status /metrics counts the request under."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response, g, jsonify


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


