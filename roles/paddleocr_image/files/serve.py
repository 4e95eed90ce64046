"""Entry point of the OCR image: the HubServing API that clients of the official PaddleOCR image use,
served by a small Flask app (the hubserving package) under gunicorn, without PaddleHub.

    python serve.py --config /etc/paddleocr/config.json

config.json keeps HubServing's format (modules_info with each module's init_args and predict_args,
port, workers) plus our keys: bind, timeout, max_request_bytes, max_pdf_pages, labels. What clients see is
PaddleHub 2.4's `hub serving start` (paddlehub/serving/app_compat.py), byte for byte: the routes, the envelope
(keys sorted by Flask's JSON provider: msg, results, status), its statuses and messages, HTTP 200 for errors
(hubserving/hubserving_routes.py). Beside them: POST /ocr, PaddleOCR 3.x serving's OCR API (ocr_routes.py), and
for operators /health, /ready and /metrics (operator_routes.py).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication
from hubserving.app import create_app, load_module

__all__ = ["HubServingApplication", "create_app", "load_module", "main"]

METRICS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
DEFAULT_METRICS_DIR = "/tmp/paddleocr-metrics"


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
