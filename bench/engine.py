"""Engine-alone figures: PaddleOCR in-process on the service's own models, settings and images.

Runs inside the OCR image (`make bench` starts it with `docker run`), reads the service's
config.json so the engine is configured exactly as the service is, prints one JSON document.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", default="/etc/paddleocr/config.json")
    parser.add_argument("--images", type=Path, default=Path("/bench/images"))
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    init_args = json.loads(Path(args.config).read_text())["modules_info"]["ocr_system"]["init_args"]
    import sys

    import cv2

    sys.path.insert(0, "/opt/paddleocr")
    from serve import load_module

    engine = load_module("ocr_system", init_args)  # as the service loads it: same module, models and settings
    images = {path.stem: cv2.imread(str(path)) for path in sorted(args.images.glob("*.png"))}
    engine.predict(list(images.values()))  # warm-up: first calls build the oneDNN kernels
    # Same order as the service sees under load: the images interleaved, so each call follows an
    # input of another shape (oneDNN primes kernels per shape; repeating one image would flatter the engine).
    latencies: dict[str, list[float]] = {name: [] for name in images}
    for _ in range(args.rounds):
        for name, image in images.items():
            started = time.perf_counter()
            engine.predict([image])
            latencies[name].append((time.perf_counter() - started) * 1000)
    figures = {
        name: {"p50_ms": round(statistics.median(values), 1), "mean_ms": round(statistics.mean(values), 1)}
        for name, values in latencies.items()
    }
    mean_per_mix = sum(f["mean_ms"] for f in figures.values()) / len(figures)
    every = [value for values in latencies.values() for value in values]
    print(json.dumps({"per_image": figures, "throughput_img_s": round(1000 / mean_per_mix, 2), "latencies_ms": every}))


if __name__ == "__main__":
    main()
