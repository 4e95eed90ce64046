"""Benchmark: the engine alone, the deployed service and the official serving mode, on one host, models and images.

    make bench                                   # the demo host as it runs (run `make demo` first)
    make bench SETS=ppocrv4-mobile,ppocrv6-small,ppocrv6-tiny   # model sets side by side, ratios to the first
    make bench SETS=ppocrv4-mobile,ppocrv6-small@cpu,ppocrv6-small@openvino   # ONNX Runtime sets on a CPU provider
    make bench URL=https://host/predict/ocr_system [INSTANCES=1,2,4 INVENTORY=... LIMIT=host]   # any host

Demo host: (a) the engine alone: our module in-process inside the service's image, configured from the
service's config.json, on decoded images (the PNG decode the service does per request is timed beside it); (b) the
service over HTTP, after its cold start (the unit restarted, timed to its first answer with text); (c) the official
serving mode: PaddleHub's `hub serving start -m ocr_system` in the same image with the same models
(bench/official_serving.py; PaddleOCR 2.x sets only).
They are measured in alternating rounds (engine, then the service and the official mode back to back at each
concurrency; again, ...), so machine drift hits all three alike; each ratio is taken within a round and printed as
the median of the rounds with its spread. Writes bench/results/bench.json.

Sets (SETS): each set converged in turn, its cold start timed, then kept running beside the unit; the sets are then
measured against each other in alternating rounds, as the engine and the service are. Writes bench-sets.json.

Any host (URL): the service alone at each concurrency (Docker access to the host is not needed), with basic
auth from PADDLEOCR_BENCH_AUTH=user:password. With INSTANCES, site.yml deploys 1..N instances per GPU on the
host (paddleocr_service_instances_per_gpu) before each measurement, and the run ends with the inventory's
own setting again.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
import official_serving
from documents import render_documents
from official_serving import MODELS_VOLUME, first_answer, host_address, host_exec, remove

from paddleocr_fleet.catalog import load_catalog

HERE = Path(__file__).resolve().parent
HOST_DIR = "/opt/paddleocr/bench"
SERVICE_CONFIG = "/etc/paddleocr/config.json"
BESIDE_PORT = 19100  # + the set's index: the demo host's port of each set's instance beside the unit


def copy_engine_inputs(container: str, images: list[Path]) -> None:
    host_exec(container, "mkdir", "-p", f"{HOST_DIR}/images")
    for path in [*images, HERE / "engine.py"]:
        target = f"{HOST_DIR}/images/" if path.suffix == ".png" else f"{HOST_DIR}/"
        subprocess.run(["docker", "cp", str(path), f"{container}:{target}"], check=True)


def served_image(container: str) -> str:
    """The ID of the image the demo host's unit runs."""
    return host_exec(container, "docker", "inspect", "--format", "{{.Image}}", "paddleocr").strip()


def engine_alone(container: str, passes: int, image: str | None = None, config: str = SERVICE_CONFIG) -> dict:
    """Our module in-process in image (the unit's by default), configured by config (a path on the demo host)."""
    out = host_exec(
        container, "docker", "run", "--rm", "--network", "none",
        "-v", MODELS_VOLUME, "-v", f"{config}:{SERVICE_CONFIG}:ro", "-v", f"{HOST_DIR}:/bench:ro",
        image or served_image(container), "python", "/bench/engine.py", "--rounds", str(passes),
    )
    engine = json.loads(out.strip().splitlines()[-1])
    engine["p95_ms"] = round(percentile(engine.pop("latencies_ms"), 0.95), 1)
    return engine


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def service_level(url: str, payloads: list[bytes], concurrency: int, requests_per_level: int,
                  auth: tuple[str, str] | None = None, verify: bool = True) -> dict:
    latencies: list[float] = []
    outcomes: list[bool] = []
    local = threading.local()

    def one(index: int) -> None:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
            session.auth, session.verify = auth, verify
        started = time.perf_counter()
        try:
            response = session.post(url, data=payloads[index % len(payloads)],
                                    headers={"Content-Type": "application/json"}, timeout=300)
            ok = response.status_code == 200 and response.json().get("status") == "000"
        except (requests.RequestException, ValueError):
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
        "throughput_img_s": round(outcomes.count(True) / wall, 2),  # a failed answer is no throughput
        "p50_ms": round(percentile(latencies, 0.50), 1),
        "p95_ms": round(percentile(latencies, 0.95), 1),
        "max_ms": round(max(latencies), 1),
        "errors": outcomes.count(False),
    }


def cold_start_s(container: str, url: str, payload: bytes, limit_s: float = 600) -> float:
    """Seconds from restarting the demo host's service unit to its first answer with text (a new container, the
    models loaded and compiled anew): what each restart, reboot or rollout costs an instance."""
    started = time.perf_counter()
    host_exec(container, "systemctl", "restart", "paddleocr")
    answer = first_answer(url, payload, limit_s, poll_s=0.2)
    elapsed = round(time.perf_counter() - started, 1)
    if answer is None or not answer["results"][0]:
        raise RuntimeError(f"no answer with text from {url} within {limit_s} s of a restart: {answer}")
    return elapsed


def ratio(mine: float, theirs: float) -> float:
    """mine / theirs; infinite where the other side answered nothing (its failed count says why)."""
    return mine / theirs if theirs else float("inf")


def spread(values: list[float]) -> dict:
    """Median of per-round values with their range: what the README and the goals read."""
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3),
            "max": round(max(values), 3), "rounds": [round(value, 3) for value in values]}


def median_level(rounds: list[list[dict]], index: int) -> dict:
    levels = [levels[index] for levels in rounds]
    merged = {key: round(statistics.median(level[key] for level in levels), 2 if key == "throughput_img_s" else 1)
              for key in ("throughput_img_s", "p50_ms", "p95_ms", "max_ms")}
    return {"concurrency": levels[0]["concurrency"], **merged, "errors": sum(level["errors"] for level in levels)}


def measure(args: argparse.Namespace, images: list[Path], payloads: list[bytes], with_official: bool) -> dict:
    """Alternating rounds on the demo host: the engine, then service and official per level; ratios within a round."""
    levels = [int(level) for level in args.levels.split(",")]
    copy_engine_inputs(args.container, images)
    cold_start = cold_start_s(args.container, args.url, payloads[0])
    print(f"cold start: {cold_start} s from the unit's restart to the first answer with text", flush=True)
    official_url = None
    try:
        if with_official:
            official_url = official_serving.start(args.container, official_serving.default_cache(), payloads[0])
        service_level(args.url, payloads, 1, len(images))  # warm-up of every worker and shape
        if official_url:
            service_level(official_url, payloads, 1, len(images))
        rounds: list[dict[str, Any]] = []
        for number in range(1, args.rounds + 1):
            measured: dict[str, Any] = {"engine": engine_alone(args.container, args.requests // len(images)),
                                        "service": [], "official": []}
            for concurrency in levels:  # each level's pair back to back: the ratio's two sides meet the same machine
                pair = [("service", args.url), ("official", official_url)] if official_url else [("service", args.url)]
                for side, url in pair if number % 2 else reversed(pair):  # who goes first alternates by round
                    measured[side].append(service_level(url, payloads, concurrency, args.requests))
            if not official_url:
                del measured["official"]
            rounds.append(measured)
            print(f"round {number}: engine {measured['engine']['throughput_img_s']} img/s; service "
                  + " ".join(str(level["throughput_img_s"]) for level in measured["service"])
                  + ("; official " + " ".join(str(level["throughput_img_s"]) for level in measured["official"])
                     if official_url else "") + f" img/s at concurrency {args.levels}", flush=True)
    finally:
        if with_official:
            official_serving.stop(args.container)
    return summarise(rounds, levels) | {"cold_start_s": cold_start}


def service_best(round_: dict[str, Any]) -> float:
    """The service's images per second at its best concurrency level in one round."""
    return max(level["throughput_img_s"] for level in round_["service"])


def level_ratios(mine: list[list[dict]], theirs: list[list[dict]]) -> dict[str, dict]:
    """Per concurrency level, mine's throughput over theirs, taken within each round (a round: its list of levels)."""
    return {str(level["concurrency"]): spread([ratio(m[i]["throughput_img_s"], t[i]["throughput_img_s"])
                                               for m, t in zip(mine, theirs)])
            for i, level in enumerate(mine[0])}


def summarise(rounds: list[dict[str, Any]], levels: list[int]) -> dict:
    result: dict[str, Any] = {
        "rounds": rounds,
        "engine_img_s": spread([r["engine"]["throughput_img_s"] for r in rounds]),
        "service": [median_level([r["service"] for r in rounds], i) for i in range(len(levels))],
        "service_best_over_engine": spread([ratio(service_best(r), r["engine"]["throughput_img_s"]) for r in rounds]),
        "engine_decode_ms": spread([r["engine"]["decode_mean_ms"] for r in rounds]),
        "service_best_over_engine_with_decode": spread([ratio(service_best(r), r["engine"]["with_decode_img_s"])
                                                        for r in rounds]),
    }
    if "official" in rounds[0]:
        result["official"] = [median_level([r["official"] for r in rounds], i) for i in range(len(levels))]
        result["service_over_official"] = level_ratios([r["service"] for r in rounds], [r["official"] for r in rounds])
    return result


def report(result: dict, rounds: int) -> None:
    print(f"\nmedians of {rounds} alternating rounds (p95 is the slowest request below 20 requests per level)")
    print(f"{'':<9} {'conc':>4} {'img/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'failed':>6}")
    print(f"{'engine':<9} {'':>4} {result['engine_img_s']['median']:>7}")
    for name in ("service", "official"):
        for level in result.get(name, []):
            print(f"{name:<9} {level['concurrency']:>4} {level['throughput_img_s']:>7} {level['p50_ms']:>8} "
                  f"{level['p95_ms']:>8} {level['max_ms']:>8} {level['errors']:>6}")
    ratio = result["service_best_over_engine"]
    print(f"service best / engine: median {ratio['median']:.2f}, spread {ratio['min']:.2f}-{ratio['max']:.2f} "
          f"(goal >= 0.95)")
    ratio = result["service_best_over_engine_with_decode"]
    print(f"service best / engine with the PNG decode the service does ({result['engine_decode_ms']['median']} ms "
          f"per image): median {ratio['median']:.2f}, spread {ratio['min']:.2f}-{ratio['max']:.2f}")
    for level, ratio in result.get("service_over_official", {}).items():
        print(f"ours / official at concurrency {level}: median {ratio['median']:.2f}, "
              f"spread {ratio['min']:.2f}-{ratio['max']:.2f} (goal >= 1.3)")


def ansible_playbook() -> str:
    return str(Path(sys.executable).parent / "ansible-playbook")


def converge(extra_vars: dict) -> None:
    """site.yml on the demo host (inventories/local), as `make demo` runs it."""
    subprocess.run([ansible_playbook(), str(HERE.parent / "site.yml"), "-e", json.dumps(extra_vars)],
                   check=True, cwd=HERE.parent, stdout=subprocess.DEVNULL)


def served_runtime(container: str) -> str:
    config = json.loads(host_exec(container, "cat", SERVICE_CONFIG))
    return str(config["modules_info"]["ocr_system"]["init_args"]["runtime"])


@dataclass(frozen=True)
class Beside:
    """A set's instance beside the unit on the demo host: the image and config.json its converge left."""

    entry: str
    container: str
    image: str
    config: str
    url: str


def start_beside(container: str, index: int, entry: str, payload: bytes) -> Beside:
    """Start the set the unit serves now as a second instance beside it, on its own port, from the same image,
    models and config; it stays up while the next sets are converged."""
    config = f"{HOST_DIR}/set-{index}.json"
    host_exec(container, "cp", SERVICE_CONFIG, config)
    beside = Beside(entry, f"paddleocr-bench-{index}", served_image(container), config,
                    f"http://{host_address(container)}:{BESIDE_PORT + index}/predict/ocr_system")
    host_exec(container, "docker", "run", "--detach", "--rm", "--name", beside.container,
              "--publish", f"{BESIDE_PORT + index}:8866", "-v", MODELS_VOLUME,
              "-v", f"{config}:{SERVICE_CONFIG}:ro", beside.image)
    if first_answer(beside.url, payload, 600, poll_s=1) is None:
        raise RuntimeError(f"{entry} beside the unit ({beside.container}) gave no answer within 600 s")
    return beside


def against_first(rounds: list[dict[str, dict]], entries: list[str]) -> dict:
    """Each other set's engine and service (at each level) over the first set's, taken within each round."""
    first, *others = entries
    return {other: {"engine": spread([ratio(r[other]["engine"]["throughput_img_s"],
                                            r[first]["engine"]["throughput_img_s"]) for r in rounds]),
                    "service": level_ratios([r[other]["service"] for r in rounds],
                                            [r[first]["service"] for r in rounds])}
            for other in others}


def compare_sets(args: argparse.Namespace, images: list[Path], payloads: list[bytes]) -> dict:
    """Each set served in turn by site.yml on the demo host (its cold start timed there) and then started beside the
    unit from the image and config.json its converge left. Then all of them in alternating rounds: each set's engine
    alone and its service at each level, set after set, the order reversed every other round, so that every ratio
    to the first set is taken within a round. The official serving mode is left out (make bench without SETS)."""
    entries = args.sets.split(",")
    served = [entry.partition("@") for entry in entries]  # set@provider: the onnxruntime runtime's CPU provider
    sets = list(dict.fromkeys(name for name, _, _ in served))
    catalog = load_catalog()
    unknown = [name for name in sets if name not in catalog.sets]
    if unknown or len(set(entries)) < len(entries):
        raise SystemExit(f"unknown sets {unknown} or an entry twice in {entries}; catalog sets: {sorted(catalog.sets)}")
    levels = [int(level) for level in args.levels.split(",")]
    copy_engine_inputs(args.container, images)
    beside: list[Beside] = []
    cold_starts: dict[str, float] = {}
    rounds: list[dict[str, dict]] = []
    try:
        for index, (entry, (name, _, provider)) in enumerate(zip(entries, served)):
            print(f"== {entry} ({catalog.sets[name].runtime}): converging the demo host", flush=True)
            converge({"paddleocr_model_sets": sets, "paddleocr_model_set_active": name}
                     | ({"paddleocr_onnxruntime_cpu_provider": provider} if provider else {}))
            cold_starts[entry] = cold_start_s(args.container, args.url, payloads[0])
            beside.append(start_beside(args.container, index, entry, payloads[0]))
            print(f"cold start {cold_starts[entry]} s from the unit's restart to the first answer with text; "
                  f"started beside the unit at {beside[-1].url}", flush=True)
        for instance in beside:  # warm-up of every shape
            service_level(instance.url, payloads, 1, len(images))
        for number in range(1, args.rounds + 1):
            measured = {}
            for instance in beside if number % 2 else reversed(beside):
                measured[instance.entry] = {
                    "engine": engine_alone(args.container, args.requests // len(images), instance.image,
                                           instance.config),
                    "service": [service_level(instance.url, payloads, level, args.requests) for level in levels]}
            rounds.append(measured)
            print(f"round {number}: " + "; ".join(
                f"{entry} engine {measured[entry]['engine']['throughput_img_s']}, service "
                + " ".join(str(level["throughput_img_s"]) for level in measured[entry]["service"])
                for entry in entries) + f" img/s (service at concurrency {args.levels})", flush=True)
    finally:
        for instance in beside:
            remove(args.container, instance.container)
        print("== back to the default set", flush=True)
        converge({})
    results = {entry: summarise([r[entry] for r in rounds], levels) | {"cold_start_s": cold_starts[entry]}
               for entry in entries}
    for entry in entries:
        print(f"\n== {entry} (cold start {cold_starts[entry]} s)")
        report(results[entry], args.rounds)
    ratios = against_first(rounds, entries)
    print(f"\nagainst {entries[0]}: medians of the per-round ratios (spread)")
    for other, ratio_of in ratios.items():
        print(f"{other}: engine {ratio_of['engine']['median']:.2f} ({ratio_of['engine']['min']:.2f}-"
              f"{ratio_of['engine']['max']:.2f}), cold start {cold_starts[other] / cold_starts[entries[0]]:.2f}")
        for level, service in ratio_of["service"].items():
            print(f"  service at concurrency {level}: {service['median']:.2f} "
                  f"({service['min']:.2f}-{service['max']:.2f})")
    return {"sets": results, "against_first": ratios}


def any_host(args: argparse.Namespace, payloads: list[bytes]) -> dict:
    """The service at URL alone; with --instances, redeployed with 1..N instances per GPU before each pass."""
    user, _, password = os.environ.get("PADDLEOCR_BENCH_AUTH", "").partition(":")
    auth = (user, password) if user else None
    levels = [int(level) for level in args.levels.split(",")]

    def passes() -> list[dict]:
        # Warm-up at the top concurrency, so that every instance behind the URL has seen every document.
        service_level(args.url, payloads, max(levels), max(levels) * len(payloads), auth, not args.insecure)
        rounds = [[service_level(args.url, payloads, c, args.requests, auth, not args.insecure) for c in levels]
                  for _ in range(args.rounds)]
        merged = [median_level(rounds, i) for i in range(len(levels))]
        for level in merged:
            print(f"  concurrency {level['concurrency']:>3}: {level['throughput_img_s']:>7} img/s, p50 "
                  f"{level['p50_ms']} ms, p95 {level['p95_ms']} ms, failed {level['errors']}", flush=True)
        return merged

    if not args.instances:
        print(f"== {args.url}: medians of {args.rounds} rounds")
        return {"url": args.url, "service": passes()}
    deploy = [ansible_playbook(), "-i", args.inventory, str(HERE.parent / "playbooks" / "site.yml")]
    deploy += ["--limit", args.limit] if args.limit else []
    scaling = {}
    try:
        for count in [int(n) for n in args.instances.split(",")]:
            print(f"== {count} instance(s) per GPU: deploying", flush=True)
            subprocess.run([*deploy, "-e", f"paddleocr_service_instances_per_gpu={count}"], check=True,
                           cwd=HERE.parent, stdout=subprocess.DEVNULL)
            scaling[count] = passes()
    finally:
        print("== back to the inventory's own setting", flush=True)
        subprocess.run(deploy, check=True, cwd=HERE.parent, stdout=subprocess.DEVNULL)
    first = min(scaling)
    for count, levels_measured in scaling.items():
        best = max(level["throughput_img_s"] for level in levels_measured)
        print(f"{count} per GPU: best {best} img/s, {best / max(lv['throughput_img_s'] for lv in scaling[first]):.2f}"
              f" x {first} per GPU")
    return {"url": args.url, "instances_per_gpu": scaling}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--container", default="paddleocr-sandbox", help="the demo host's container")
    parser.add_argument("--url", default="http://127.0.0.1:18866/predict/ocr_system")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (at least 3 for a median)")
    parser.add_argument("--requests", type=int, default=6, help="requests per concurrency level and round")
    parser.add_argument("--levels", default="1,2,4")
    parser.add_argument("--no-official", dest="official", action="store_false",
                        help="leave out the official serving mode (it builds its image on first use: PyPI)")
    parser.add_argument("--sets", default="",
                        help="comma-separated catalog sets to serve side by side and compare (demo host)")
    parser.add_argument("--service-only", action="store_true", help="any host: measure the service at --url alone")
    parser.add_argument("--insecure", action="store_true", help="any host: do not verify its TLS certificate")
    parser.add_argument("--instances", default="", help="any host: instances per GPU to deploy in turn, e.g. 1,2,4")
    parser.add_argument("--inventory", default="inventories/production", help="any host: the inventory to deploy")
    parser.add_argument("--limit", default="", help="any host: the host (or group) to deploy to")
    args = parser.parse_args()
    if args.instances and not args.limit:
        parser.error("--instances redeploys the host behind --url: name it with --limit")

    images = render_documents(HERE / "results" / "images")
    payloads = [json.dumps({"images": [base64.b64encode(p.read_bytes()).decode()]}).encode() for p in images]
    if args.requests % len(images):
        parser.error(f"--requests must be a multiple of {len(images)} (every document as often)")
    if args.service_only or args.instances:
        result, name = any_host(args, payloads), "bench-host.json"
    elif args.sets:
        result, name = compare_sets(args, images, payloads), "bench-sets.json"
    else:
        with_official = args.official and served_runtime(args.container) == "paddleocr2"
        result, name = measure(args, images, payloads, with_official), "bench.json"
        report(result, args.rounds)
    (HERE / "results" / name).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
