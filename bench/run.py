"""Benchmark: the engine alone vs the deployed service, on the same host, models and images.

    python bench/run.py [--container paddleocr-sandbox] [--url http://127.0.0.1:18866]
    python bench/run.py --runtimes paddleocr2,paddleocr3     # both runtimes in one run (make bench)

(a) engine alone: PaddleOCR in-process inside the service's image on the host, configured from the
    service's config.json; (b) the service over HTTP at concurrency 1, 2, 4, 8. Prints a table and
    writes bench/results/bench.json. With --runtimes, site.yml switches the demo host's active set between
    PP-OCRv4 mobile on each runtime (ppocrv4-mobile, ppocrv4-mobile-3x: the same weights), the same images
    are measured on each, and the run ends on the default set again.
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from documents import render_documents

HERE = Path(__file__).resolve().parent
HOST_DIR = "/opt/paddleocr/bench"


def host_exec(container: str, *command: str) -> str:
    return subprocess.run(["docker", "exec", container, *command], check=True, capture_output=True, text=True).stdout


def engine_alone(container: str, images: list[Path], rounds: int) -> dict:
    host_exec(container, "mkdir", "-p", f"{HOST_DIR}/images")
    for path in [*images, HERE / "engine.py"]:
        target = f"{HOST_DIR}/images/" if path.suffix == ".png" else f"{HOST_DIR}/"
        subprocess.run(["docker", "cp", str(path), f"{container}:{target}"], check=True)
    image = host_exec(container, "docker", "inspect", "--format", "{{.Config.Image}}", "paddleocr").strip()
    out = host_exec(
        container, "docker", "run", "--rm", "--network", "none",
        "-v", "/opt/paddleocr/models:/models:ro", "-v", "/etc/paddleocr/config.json:/etc/paddleocr/config.json:ro",
        "-v", f"{HOST_DIR}:/bench:ro", image, "python", "/bench/engine.py", "--rounds", str(rounds),
    )
    engine = json.loads(out.strip().splitlines()[-1])
    engine["p95_ms"] = round(percentile(engine.pop("latencies_ms"), 0.95), 1)
    return engine


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def service_level(url: str, payloads: list[bytes], concurrency: int, requests_per_level: int) -> dict:
    latencies: list[float] = []
    outcomes: list[bool] = []
    local = threading.local()

    def one(index: int) -> None:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        started = time.perf_counter()
        try:
            response = session.post(url, data=payloads[index % len(payloads)],
                                    headers={"Content-Type": "application/json"}, timeout=300)
            ok = response.status_code == 200 and response.json().get("status") == "000"
        except requests.RequestException:
            ok = False
        latencies.append((time.perf_counter() - started) * 1000)
        outcomes.append(ok)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(one, range(requests_per_level)))
    wall = time.perf_counter() - started
    return {
        "concurrency": concurrency,
        "requests": requests_per_level,
        "throughput_img_s": round(requests_per_level / wall, 2),
        "p50_ms": round(percentile(latencies, 0.50), 1),
        "p95_ms": round(percentile(latencies, 0.95), 1),
        "p99_ms": round(percentile(latencies, 0.99), 1),
        "errors": outcomes.count(False),
    }


# PP-OCRv4 mobile on each runtime: the same weights, so the runtimes are compared, not the models.
RUNTIME_SETS = {"paddleocr2": "ppocrv4-mobile", "paddleocr3": "ppocrv4-mobile-3x"}


def converge(extra_vars: dict) -> None:
    """site.yml on the demo host (inventories/local), as `make demo` runs it."""
    subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), str(HERE.parent / "site.yml"),
                    "-e", json.dumps(extra_vars)], check=True, cwd=HERE.parent, stdout=subprocess.DEVNULL)


def measure(args: argparse.Namespace, images: list[Path], payloads: list[bytes]) -> dict:
    engine = engine_alone(args.container, images, args.rounds)
    per_level = len(images) * args.rounds * 2
    service_level(args.url, payloads, 1, len(images))  # warm-up of every worker
    levels = [service_level(args.url, payloads, int(c), per_level) for c in args.levels.split(",")]
    return {"engine": engine, "service": levels}


def compare_runtimes(args: argparse.Namespace, images: list[Path], payloads: list[bytes]) -> int:
    runtimes = args.runtimes.split(",")
    installed = [RUNTIME_SETS[runtime] for runtime in runtimes]
    results = {}
    try:
        for runtime in runtimes:
            print(f"== {runtime}: converging the demo host to {RUNTIME_SETS[runtime]}", flush=True)
            converge({"paddleocr_model_sets": installed, "paddleocr_model_set_active": RUNTIME_SETS[runtime]})
            results[runtime] = measure(args, images, payloads)
            report(results[runtime])
    finally:
        print("== back to the default set", flush=True)
        converge({})
    first, *others = runtimes
    for other in others:
        print(f"{other} / {first}: engine throughput "
              f"{results[other]['engine']['throughput_img_s'] / results[first]['engine']['throughput_img_s']:.2f}")
        for mine, theirs in zip(results[other]["service"], results[first]["service"]):
            print(f"  concurrency {mine['concurrency']}: throughput "
                  f"{mine['throughput_img_s'] / theirs['throughput_img_s']:.2f}, p95 {mine['p95_ms'] / theirs['p95_ms']:.2f}")
    (HERE / "results" / "bench-runtimes.json").write_text(json.dumps(results, indent=2))
    return 0


def report(result: dict) -> float:
    engine, levels = result["engine"], result["service"]
    engine_ms = statistics.mean(f["mean_ms"] for f in engine["per_image"].values())
    best = max(levels, key=lambda level: level["throughput_img_s"])
    print(f"engine alone: {engine['throughput_img_s']} img/s, mean {engine_ms:.1f} ms/img "
          + ", ".join(f"{name} {f['p50_ms']} ms" for name, f in engine["per_image"].items()))
    print(f"{'conc':>4} {'img/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>6}")
    for level in levels:
        print(f"{level['concurrency']:>4} {level['throughput_img_s']:>7} {level['p50_ms']:>8} "
              f"{level['p95_ms']:>8} {level['p99_ms']:>8} {level['errors']:>6}")
    ratio = best["throughput_img_s"] / engine["throughput_img_s"]
    print(f"service best / engine throughput: {ratio:.2f} (goal >= 0.90); "
          f"p95 at concurrency 1 / engine p95 on the same mix: {levels[0]['p95_ms'] / engine['p95_ms']:.2f} (goal <= 1.20)")
    return ratio


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--container", default="paddleocr-sandbox", help="the sandbox host container")
    parser.add_argument("--url", default="http://127.0.0.1:18866/predict/ocr_system")
    parser.add_argument("--rounds", type=int, default=5, help="engine passes per image")
    parser.add_argument("--levels", default="1,2,4,8")
    parser.add_argument("--runtimes", default="", help="comma-separated runtimes to measure in turn (demo host)")
    args = parser.parse_args()

    images = render_documents(HERE / "results" / "images")
    payloads = [json.dumps({"images": [base64.b64encode(p.read_bytes()).decode()]}).encode() for p in images]
    if args.runtimes:
        return compare_runtimes(args, images, payloads)
    result = measure(args, images, payloads)
    result["throughput_ratio"] = round(report(result), 3)
    (HERE / "results" / "bench.json").write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
