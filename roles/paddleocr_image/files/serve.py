"""Entry point of the OCR image: the HubServing API that clients of the official PaddleOCR image use,
served by this small Flask app under gunicorn, without PaddleHub.

    python serve.py --config /etc/paddleocr/config.json

config.json keeps HubServing's format (modules_info with each module's init_args and predict_args,
port, workers) plus our keys: bind, timeout, max_request_bytes. What clients see is PaddleHub 2.4's
`hub serving start` (paddlehub/serving/app_compat.py), byte for byte: the routes, the envelope (keys
sorted by Flask's JSON provider: msg, results, status), its statuses and messages, HTTP 200 for
errors. Request-level errors (not JSON, body too large, unknown route) are answered in the envelope too.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import traceback
from pathlib import Path
from typing import Any

from flask import Flask, jsonify, request
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


def envelope(status: str, msg: str, results: Any) -> dict[str, Any]:
    return {"status": status, "msg": msg, "results": results}


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
    # Flask's default JSON provider, as HubServing ran on it: ASCII escapes (PaddleHub's JSON_AS_ASCII=False
    # is ignored since Flask 2.3), sorted keys, compact.
    app = Flask("paddleocr_fleet.serve")
    app.config["MAX_CONTENT_LENGTH"] = int(config.get("max_request_bytes", 32 * 1024 * 1024))

    @app.route("/", methods=["GET", "POST"])
    def index() -> str:
        return INDEX_PAGE

    @app.post("/predict/<module_name>")
    def predict(module_name: str) -> Any:
        if module_name not in modules:
            return jsonify(envelope("111", f"Module {module_name} is not available.", ""))
        inputs = request.json
        if inputs is None:
            return jsonify(envelope("112", OUTDATED % module_name, ""))
        if not isinstance(inputs, dict):
            return jsonify(envelope("112", NOT_AN_OBJECT, ""))
        module, predict_args = modules[module_name]
        args = {**predict_args, **inputs}
        try:
            output = module.serving_method(**args)
        except Exception as err:  # noqa: BLE001 - every engine error is the client's 101, as in HubServing
            LOG.error(traceback.format_exc())
            return jsonify(envelope("101", str(err), ""))
        return jsonify(envelope("000", "", output))

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Any:
        status = ENVELOPE_STATUS.get(error.code or 0, "101")
        if error.code in (400, 415):
            message = NOT_JSON
        elif error.code == 413:
            message = f"request body is larger than the {app.config['MAX_CONTENT_LENGTH']} byte limit"
        else:
            message = f"{error.code} {error.name}: {error.description}"
        # HubServing answers its errors with HTTP 200 and the status in the envelope.
        return jsonify(envelope(status, message, "")), 200

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

    def load(self) -> Flask:
        return create_app(self.hub_config)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="/etc/paddleocr/config.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    with open(args.config, encoding="utf-8") as handle:
        HubServingApplication(json.load(handle)).run()


if __name__ == "__main__":
    main()
