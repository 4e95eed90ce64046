"""The served image on a testinfra host: the runtime it was built for, its lock against what its started service
imports (the lock is what runs) and what its venv holds. The checks take a function that runs a command in the
service's container and returns its output, failing when the command does (in_service_container)."""

from __future__ import annotations

import json
from collections.abc import Callable

from paddleocr_fleet.pinning import pins

# Run in the service's container: a second app from the same config (its module warms up with one inference),
# then the distributions of every module loaded.
LOADED_DISTRIBUTIONS = """
import importlib.metadata as md, json, sys
sys.path.insert(0, "/opt/paddleocr")
from serve import create_app
create_app(json.load(open("/etc/paddleocr/config.json")))
import gunicorn.app.base, gunicorn.workers.sync
loaded = {name.split(".")[0] for name in sys.modules}
print(json.dumps(sorted({dist for top, dists in md.packages_distributions().items() if top in loaded for dist in dists})))
"""


def image_of(host, container: str = "paddleocr") -> str:  # host: testinfra's
    """The image the container runs."""
    return host.check_output("docker inspect --format '{{.Config.Image}}' %s", container)


def runtime_of(host, container: str = "paddleocr") -> str:  # host: testinfra's
    """The runtime label of the image the container runs (paddleocr2, paddleocr3, onnxruntime)."""
    image = image_of(host, container)
    return host.check_output(
        "docker image inspect --format '{{index .Config.Labels \"org.paddleocr-fleet.runtime\"}}' %s", image)


def in_service_container(host, container: str = "paddleocr") -> Callable[..., str]:  # host: testinfra's
    """A function that runs a command (its arguments quoted) in the container and returns its output."""
    return lambda *argv: host.check_output(f"docker exec {container}" + " %s" * len(argv), *argv)


# Run in the service's container: whether pip is there, every test suite left in site-packages, and ONNX Runtime's
# libopenvino.so* names with where each links (None: a file).
VENV_CONTENT = """
import glob, importlib.util, json, os, onnxruntime
capi = os.path.join(os.path.dirname(onnxruntime.__file__), "capi")
site = os.path.dirname(os.path.dirname(capi))
print(json.dumps({"pip": importlib.util.find_spec("pip") is not None,
                  "tests": sorted(glob.glob(os.path.join(site, "**", "tests"), recursive=True)),
                  "openvino": {os.path.basename(p): os.readlink(p) if os.path.islink(p) else None
                               for p in glob.glob(os.path.join(capi, "libopenvino.so*"))}}))
"""


def providers_of(in_container: Callable[..., str]) -> list[str]:
    """The execution providers ONNX Runtime offers in the service's container."""
    return in_container("python", "-c", "import onnxruntime; print(*onnxruntime.get_available_providers())"
                        ).strip().splitlines()[-1].split()


def venv_content(in_container: Callable[..., str]) -> dict:
    """What the onnxruntime image's venv holds (VENV_CONTENT)."""
    return json.loads(in_container("python", "-c", VENV_CONTENT).strip().splitlines()[-1])


def normalise(name: str) -> str:
    return name.lower().replace("_", "-")


def image_lock_against_imports(in_container: Callable[..., str]) -> tuple[set[str], set[str], set[str]]:
    """(locked but never imported, imported but not locked, imported) distributions of the service's container."""
    output = in_container("python", "-c", LOADED_DISTRIBUTIONS)
    loaded = {normalise(name) for name in json.loads(output.strip().splitlines()[-1])}
    lock = in_container("cat", "/opt/paddleocr/requirements.lock")
    locked = {normalise(name) for name, _ in pins(lock)}
    return locked - loaded, loaded - locked, loaded
