"""What a fleet feels of an OCR image, for one or more images on this machine's Docker engine.

For each image: its size, the size of its `docker save` archive (what archive delivery copies to every
host), cold start (from `docker run` to the first real OCR answer), the memory of the idle instance,
and service throughput over the benchmark documents at a few concurrencies. All images are measured
in the same run, and throughput in alternating rounds (image A, image B, A, B, ...; the median of each
is printed), so the ratios printed last compare like with like and machine drift does not decide them.

    python bench/images.py --models DIR IMAGE_BEFORE IMAGE_AFTER

DIR holds det/, cls/ and rec/ inference models (PP-OCRv4 mobile: the local mirror's archives unpacked).
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from documents import render_documents  # bench/ is on sys.path when this script runs
from run import service_level

PORT = 18990
SAMPLE = Path(__file__).parents[1] / "roles" / "paddleocr_verify" / "files" / "sample.png"


def engine_config(cpu_threads: int) -> dict:
    """config.json as the service role renders it for PP-OCRv4 mobile on CPU."""
    init_args = {
        "directory": "/opt/paddleocr/ocr_system", "det_model_dir": "/models/det", "cls_model_dir": "/models/cls",
        "rec_model_dir": "/models/rec", "rec_char_dict_path": "ppocr_keys_v1.txt", "ocr_version": "PP-OCRv4",
        "lang": "ch", "use_angle_cls": True, "use_gpu": False, "gpu_id": 0, "gpu_mem": 2000, "use_tensorrt": False,
        "enable_mkldnn": True, "cpu_threads": cpu_threads, "det_limit_side_len": 960, "rec_batch_num": 6,
        "max_image_bytes": 12582912, "models_version": "bench",
    }
    return {"modules_info": {"ocr_system": {"init_args": init_args, "predict_args": {}}}, "bind": "0.0.0.0",
            "port": 8866, "use_multiprocess": False, "use_gpu": False, "workers": 1, "timeout": 300,
            "max_request_bytes": 16777216}


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], check=True, capture_output=True, text=True).stdout.strip()


def archive_bytes(image: str) -> int:
    save = subprocess.Popen(["docker", "save", image], stdout=subprocess.PIPE)
    assert save.stdout is not None
    total = sum(len(chunk) for chunk in iter(lambda: save.stdout.read(1 << 20), b""))
    save.wait()
    return total


def memory_mib(container: str) -> float:
    """Proportional set size of every process in the container (docker stats reads 0 where the cgroup
    memory controller is not delegated, as on this kind of build machine)."""
    pss_kib = docker("exec", container, "sh", "-c",
                     "cat /proc/[0-9]*/smaps_rollup 2>/dev/null | awk '/^Pss:/ {s += $2} END {print s}'")
    return round(int(pss_kib) / 1024, 1)


def start(image: str, models: Path, config: Path, port: int) -> dict:
    """Run the image as the service runs it; return its figures once it answered real OCR."""
    figures: dict = {"image": image, "image_mb": round(int(docker("image", "inspect", "--format", "{{.Size}}", image))
                                                       / 1e6), "archive_mb": round(archive_bytes(image) / 1e6)}
    sample = json.dumps({"images": [base64.b64encode(SAMPLE.read_bytes()).decode()]})
    name = f"paddleocr-bench-{port}"
    figures["container"], figures["url"] = name, f"http://127.0.0.1:{port}/predict/ocr_system"
    subprocess.run(["docker", "rm", "--force", name], capture_output=True, check=False)
    started = time.perf_counter()
    docker("run", "--detach", "--name", name, "--publish", f"127.0.0.1:{port}:8866",
           "--volume", f"{models}:/models:ro", "--volume", f"{config}:/etc/paddleocr/config.json:ro", image)
    while True:
        try:
            answer = requests.post(figures["url"], data=sample, headers={"Content-Type": "application/json"}, timeout=30)
            if answer.json().get("status") == "000":
                break
        except (requests.RequestException, ValueError):
            pass
        if time.perf_counter() - started > 300:
            raise RuntimeError(f"{image} did not answer within 300 s: {docker('logs', '--tail', '20', name)}")
        time.sleep(0.2)
    figures["cold_start_s"] = round(time.perf_counter() - started, 1)
    time.sleep(5)
    figures["idle_memory_mib"] = memory_mib(name)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("images", nargs="+", help="image references, the baseline first")
    parser.add_argument("--models", type=Path, required=True, help="directory with det/, cls/ and rec/")
    parser.add_argument("--levels", default="1,2,4")
    parser.add_argument("--requests", type=int, default=12, help="requests per concurrency level and round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating throughput rounds")
    args = parser.parse_args()
    documents = render_documents(Path(tempfile.gettempdir()) / "paddleocr-bench-documents")
    payloads = [json.dumps({"images": [base64.b64encode(path.read_bytes()).decode()]}).encode() for path in documents]
    levels = [int(level) for level in args.levels.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.json"
        config.write_text(json.dumps(engine_config(cpu_threads=2)))
        config.chmod(0o644)
        results = []
        try:
            for index, image in enumerate(args.images):  # one at a time: cold starts do not compete
                results.append(start(image, args.models.resolve(), config, PORT + index))
            for result in results:
                result["rounds"] = []
            for _ in range(args.rounds):
                for result in results:
                    result["rounds"].append([service_level(result["url"], payloads, level, args.requests)
                                             for level in levels])
        finally:
            for index in range(len(args.images)):
                subprocess.run(["docker", "rm", "--force", f"paddleocr-bench-{PORT + index}"], capture_output=True,
                               check=False)
    for result in results:
        result["throughput"] = {level: statistics.median(r[i]["throughput_img_s"] for r in result["rounds"])
                                for i, level in enumerate(levels)}
        result["p95_ms"] = {level: statistics.median(r[i]["p95_ms"] for r in result["rounds"])
                            for i, level in enumerate(levels)}
        result["errors"] = sum(lv["errors"] for r in result["rounds"] for lv in r)
    print(json.dumps(results, indent=2))
    print(f"\n{'image':<44} {'MB':>6} {'save MB':>8} {'cold s':>7} {'idle MiB':>9} "
          + " ".join(f"{'c' + str(level) + ' img/s':>10}" for level in levels) + "  failed")
    for result in results:
        print(f"{result['image']:<44} {result['image_mb']:>6} {result['archive_mb']:>8} {result['cold_start_s']:>7} "
              f"{result['idle_memory_mib']:>9} " + " ".join(f"{result['throughput'][level]:>10}" for level in levels)
              + f"  {result['errors']}")
    base = results[0]
    for result in results[1:]:
        ratios = {key: round(result[key] / base[key], 2)
                  for key in ("image_mb", "archive_mb", "cold_start_s", "idle_memory_mib")}
        ratios.update({f"c{level}_throughput": round(result["throughput"][level] / base["throughput"][level], 2)
                       for level in levels})
        print(f"{result['image']} / {base['image']} (medians of {args.rounds} alternating rounds): {ratios}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
