"""The app factory: loads the configured OCR modules, runs their warm-up inference and mounts the three
route groups on one Flask app (hubserving_routes, ocr_routes, operator_routes)."""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask

from hubserving import hubserving_routes, ocr_routes, operator_routes
from hubserving.module_interface import OCRModule
from hubserving.operator_routes import Metrics

LOG = logging.getLogger("paddleocr.serve")


@dataclass
class Service:
    """What the routes share: the modules with their predict_args, the one /ocr serves, the warm-up's error (None:
    ready), the metrics and the PDF page limit."""

    modules: dict[str, tuple[OCRModule, dict[str, Any]]]
    ocr_module: str
    not_ready: str | None
    metrics: Metrics
    max_pdf_pages: int


def warm_up(modules: dict[str, tuple[OCRModule, dict[str, Any]]]) -> str | None:
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
    service = Service(modules=modules, ocr_module=next(iter(modules)), not_ready=warm_up(modules),
                      metrics=Metrics({key: str(value) for key, value in (config.get("labels") or {}).items()}),
                      max_pdf_pages=int(config.get("max_pdf_pages", 10)))
    # Flask's default JSON provider, as HubServing ran on it: ASCII escapes (PaddleHub's JSON_AS_ASCII=False
    # is ignored since Flask 2.3), sorted keys, compact.
    app = Flask("paddleocr_fleet.serve")
    app.config["MAX_CONTENT_LENGTH"] = int(config.get("max_request_bytes", 32 * 1024 * 1024))
    operator_routes.register(app, service)
    hubserving_routes.register(app, service)
    ocr_routes.register(app, service)
    return app
