"""Operators' routes: GET /health (liveness, PaddleOCR 3.x serving's answer), GET /ready (every module loaded and
its warm-up inference done) and GET /metrics (Prometheus, every gunicorn worker of this instance summed through
prometheus_client's multiprocess mode), with the hooks that count the OCR requests."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, g, request

from hubserving.answers import health_answer

if TYPE_CHECKING:
    from hubserving.app import Service

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


class Metrics:
    """The instance's Prometheus metrics. Every gunicorn worker writes its own files under
    PROMETHEUS_MULTIPROC_DIR (prepared by main) and /metrics sums them, so any worker answers for all; the
    metrics are in no in-process registry (registry=None), so one process may create several apps."""

    def __init__(self, labels: dict[str, str]) -> None:
        from prometheus_client import Counter, Gauge, Histogram

        self.requests = Counter(
            "paddleocr_requests", "OCR requests answered, by module and HubServing status (000 = read)",
            ["module", "status"], registry=None)
        self.duration = Histogram(
            "paddleocr_request_duration_seconds", "Time from request to answer", ["module"], buckets=LATENCY_BUCKETS,
            registry=None)
        self.images = Counter("paddleocr_images", "Images read in requests answered with status 000", ["module"],
                              registry=None)
        self.in_flight = Gauge("paddleocr_requests_in_flight", "Requests being answered now",
                               multiprocess_mode="livesum", registry=None)
        self.gpu_memory = Gauge("paddleocr_gpu_memory_reserved_bytes",
                                "GPU memory Paddle holds, summed over this instance's workers (GPU images only)",
                                multiprocess_mode="livesum", registry=None)
        release = Gauge("paddleocr_release_info", "The release this instance serves: image, model set, models",
                        sorted(labels), multiprocess_mode="max", registry=None)
        release.labels(**labels).set(1)

    @staticmethod
    def exposition() -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def register(app: Flask, service: Service) -> None:
    metrics = service.metrics

    @app.get("/health")
    def health() -> Any:
        return health_answer(200, "Healthy")

    @app.get("/ready")
    def ready() -> Any:
        return health_answer(503, service.not_ready) if service.not_ready else health_answer(200, "Ready")

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
            name = service.ocr_module if request.path == "/ocr" else (request.view_args or {}).get("module_name")
            module = name if name in service.modules else "unknown"
            metrics.requests.labels(module, g.get("hub_status", "101")).inc()
            metrics.duration.labels(module).observe(time.perf_counter() - started)
            if g.get("images"):
                metrics.images.labels(module).inc(g.images)
        return response

    @app.teardown_request
    def leave(_error: BaseException | None) -> None:
        if g.get("started") is not None:
            metrics.in_flight.dec()
