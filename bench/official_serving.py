"""The bench's peer: the official serving mode (`hub serving start -m ocr_system`) on the demo host.

The peer image is the service's own image plus PaddleHub 2.4.0 and its packages (official/requirements.lock)
and a stand-in of PaddleOCR's ocr_system HubServing module (official/ocr_system), built on the demo host's
Docker engine. The wheels the service image lacks are built on the controller with `pip wheel` (PyPI, once,
cached under ~/.cache/paddleocr-fleet/official-wheels) and travel in the build context.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent
OFFICIAL = HERE / "official"
IMAGE_LOCK = HERE.parent / "roles" / "paddleocr_image" / "files" / "requirements.lock"
HOST_CONTEXT = "/opt/paddleocr/bench/official"
CONTAINER = "paddleocr-bench-official"
MODELS_VOLUME = "/opt/paddleocr/models:/models:ro"  # the demo host's model store, as the service mounts it
PORT = 9866  # clear of the instances' loopback ports (8866 + 1 + N)
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def pins(lock: Path) -> dict[str, str]:
    found = {}
    for line in lock.read_text().splitlines():
        match = PIN.match(line)
        if match:
            found[re.sub(r"[-_.]+", "-", match.group(1)).lower()] = match.group(2)
    return found


def missing_from_image() -> list[str]:
    """The official lock's pins that the service image does not hold at that version."""
    image = pins(IMAGE_LOCK)
    return sorted(f"{name}=={version}" for name, version in pins(OFFICIAL / "requirements.lock").items()
                  if image.get(name) != version)


def wheels(cache: Path) -> Path:
    wanted = missing_from_image()
    target = cache / "official-wheels" / hashlib.sha256("\n".join(wanted).encode()).hexdigest()[:12]
    if not (target / ".complete").exists():
        print(f"== official serving mode: building {len(wanted)} wheels into {target} (PyPI, once)", flush=True)
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(target),
                        *wanted], check=True)
        (target / ".complete").touch()
    return target


def host_exec(container: str, *command: str) -> str:
    proc = subprocess.run(["docker", "exec", container, *command], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} on {container} failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
    return proc.stdout


def peer_digest() -> str:
    """A hash of everything the peer image adds (bench/official), so that an edit there builds it anew."""
    digest = hashlib.sha256()
    for path in sorted(p for p in OFFICIAL.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(str(path.relative_to(OFFICIAL)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:8]


def build(container: str, service_image: str, cache: Path) -> str:
    """Build the peer image on the demo host's engine (once per service image and peer content); return its name."""
    tag = f"paddleocr-fleet/hubserving-official:{service_image.rsplit(':', 1)[-1]}-{peer_digest()}"
    if subprocess.run(["docker", "exec", container, "docker", "image", "inspect", tag], capture_output=True,
                      check=False).returncode == 0:
        return tag
    wheel_dir = wheels(cache)
    host_exec(container, "rm", "-rf", HOST_CONTEXT)
    host_exec(container, "mkdir", "-p", HOST_CONTEXT)
    for part in ("Dockerfile", "requirements.lock", "ocr_system"):
        subprocess.run(["docker", "cp", str(OFFICIAL / part), f"{container}:{HOST_CONTEXT}/"], check=True)
    subprocess.run(["docker", "cp", f"{wheel_dir}/.", f"{container}:{HOST_CONTEXT}/wheels"], check=True)
    print(f"== official serving mode: building {tag} on {container}", flush=True)
    started = time.monotonic()
    try:
        host_exec(container, "docker", "build", "--quiet", "--build-arg", f"SERVICE_IMAGE={service_image}",
                  "--tag", tag, HOST_CONTEXT)
    finally:
        host_exec(container, "rm", "-rf", f"{HOST_CONTEXT}/wheels")
    print(f"   built in {time.monotonic() - started:.0f} s", flush=True)
    return tag


def model_environment(container: str) -> list[str]:
    """The service's model directories and dictionary (its config.json), for the official module."""
    init_args = json.loads(host_exec(container, "cat", "/etc/paddleocr/config.json"))[
        "modules_info"]["ocr_system"]["init_args"]
    if init_args.get("runtime", "paddleocr2") != "paddleocr2":
        raise RuntimeError("the official serving mode (PaddleHub, PaddleOCR 2.x) is the peer of the paddleocr2 "
                           f"runtime; the demo host runs {init_args['runtime']}")
    env = []
    for key in ("det_model_dir", "cls_model_dir", "rec_model_dir", "rec_char_dict_path"):
        env += ["--env", f"OFFICIAL_{key.upper()}={init_args.get(key) or ''}"]
    return env


def start(container: str, cache: Path, sample_payload: bytes) -> str:
    """Start the official serving mode on the demo host beside the service; return its URL once it answers."""
    service_image = host_exec(container, "docker", "inspect", "--format", "{{.Config.Image}}", "paddleocr").strip()
    image = build(container, service_image, cache)
    stop(container)
    host_exec(container, "docker", "run", "--detach", "--name", CONTAINER, "--publish", f"{PORT}:8866",
              "--volume", MODELS_VOLUME, *model_environment(container), image)
    url = f"http://{host_address(container)}:{PORT}/predict/ocr_system"
    if first_answer(url, sample_payload, limit_s=300, poll_s=1) is None:
        logs = subprocess.run(["docker", "exec", container, "docker", "logs", "--tail", "30", CONTAINER],
                              capture_output=True, text=True, check=False)
        raise RuntimeError(f"the official serving mode did not answer within 300 s:\n{logs.stdout}{logs.stderr}")
    return url


def first_answer(url: str, payload: bytes, limit_s: float, poll_s: float) -> dict | None:
    """The first answer with status "000" that URL gives to payload within limit_s, asking every poll_s; None if none."""
    deadline = time.monotonic() + limit_s
    while True:
        try:
            answer = requests.post(url, data=payload, headers={"Content-Type": "application/json"}, timeout=60).json()
            if answer.get("status") == "000":
                return answer
        except (requests.RequestException, ValueError):
            pass
        if time.monotonic() > deadline:
            return None
        time.sleep(poll_s)


def host_address(container: str) -> str:
    """The demo host's address, where what it publishes is reached from the controller."""
    addresses = "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}"
    return subprocess.run(["docker", "inspect", "--format", addresses, container], check=True,
                          capture_output=True, text=True).stdout.split()[0]


def remove(container: str, name: str) -> None:
    """Remove the demo host's container name, if there is one."""
    subprocess.run(["docker", "exec", container, "docker", "rm", "--force", name], capture_output=True, check=False)


def stop(container: str) -> None:
    remove(container, CONTAINER)


def default_cache() -> Path:
    return Path(os.environ.get("PADDLEOCR_FLEET_CACHE", Path.home() / ".cache" / "paddleocr-fleet"))
