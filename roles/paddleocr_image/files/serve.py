"""Entry point of the OCR image: PaddleHub's HubServing app (the routes and envelope of
`hub serving start`) run by gunicorn, with request-level errors answered in the envelope too.

    python serve.py --config /etc/paddleocr/config.json

config.json is a HubServing config (modules_info, port, workers) plus our keys: bind, timeout,
max_request_bytes. `hub serving start --config` reads the same file.
"""

from __future__ import annotations

import argparse
import json
import logging
from typing import Any

from flask import Flask, jsonify
from gunicorn.app.base import BaseApplication
from werkzeug.exceptions import HTTPException

ENVELOPE_STATUS = {400: "112", 415: "112", 404: "111", 405: "111"}
NOT_JSON = 'request body must be JSON with Content-Type application/json, like {"images": ["<base64>"]}'


def load_modules(modules_info: dict[str, Any]) -> dict[str, Any]:
    """What `hub serving start` does before serving: instantiate each module with its init_args."""
    import paddlehub as hub

    for name, info in modules_info.items():
        module = hub.Module(**info["init_args"])
        method_name = module.serving_func_name
        info.update(
            method_name=method_name,
            version=module.version,
            category=str(module.type).split("/")[0].upper(),
            module=module,
            name=name,
            serving_method=getattr(module, method_name),
        )
    return modules_info


def create_app(config: dict[str, Any]) -> Flask:
    from paddlehub.serving import app_compat

    app = app_compat.create_app(init_flag=False, configs=load_modules(config["modules_info"]))
    app.config["MAX_CONTENT_LENGTH"] = int(config.get("max_request_bytes", 32 * 1024 * 1024))

    @app.errorhandler(HTTPException)
    def envelope(error: HTTPException) -> Any:
        status = ENVELOPE_STATUS.get(error.code or 0, "101")
        if error.code in (400, 415):
            message = NOT_JSON
        elif error.code == 413:
            message = f"request body is larger than the {app.config['MAX_CONTENT_LENGTH']} byte limit"
        else:
            message = f"{error.code} {error.name}: {error.description}"
        # HubServing answers its errors with HTTP 200 and the status in the envelope.
        return jsonify({"msg": message, "results": "", "status": status}), 200

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
