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

    sys.path.insert(0, "/opt/paddleocr")
    from serve import load_module

    engine = load_module("ocr_system", init_args)  # as the service loads it: same module, models and settings
    encoded = {path.stem: path.read_bytes() for path in sorted(args.images.glob("*.png"))}
    images = {name: engine.decode_image_bytes(data, name) for name, data in encoded.items()}
    engine.predict(list(images.values()))  # warm-up: first calls build the oneDNN kernels
    # Same order as the service sees under load: the images interleaved, so each call follows an
    # input of another shape (oneDNN primes kernels per shape; repeating one image would flatter the engine).
    # The engine's figure is OCR on decoded images; the decode of each PNG, which the service does per request as
    # every caller with image files must, is timed beside it, with the module's own decoder.
    latencies: dict[str, list[float]] = {name: [] for name in images}
    decodes: list[float] = []
    for _ in range(args.rounds):
        for name, image in images.items():
            started = time.perf_counter()
            engine.decode_image_bytes(encoded[name], name)
            decoded = time.perf_counter()
            engine.predict([image])
            decodes.append((decoded - started) * 1000)
            latencies[name].append((time.perf_counter() - decoded) * 1000)
    figures = {
        name: {"p50_ms": round(statistics.median(values), 1), "mean_ms": round(statistics.mean(values), 1)}
        for name, values in latencies.items()
    }
    mean_per_mix = sum(f["mean_ms"] for f in figures.values()) / len(figures)
    decode_ms = statistics.mean(decodes)
    every = [value for values in latencies.values() for value in values]
    print(json.dumps({"per_image": figures, "throughput_img_s": round(1000 / mean_per_mix, 2),
                      "decode_mean_ms": round(decode_ms, 1),
                      "with_decode_img_s": round(1000 / (mean_per_mix + decode_ms), 2), "latencies_ms": every}))


if __name__ == "__main__":
    main()
