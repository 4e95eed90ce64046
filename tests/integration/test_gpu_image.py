"""The gpu profile's image, built by the paddleocr_image role on this machine (no GPU here).

STAND-IN (named so in each test): paddlepaddle-gpu 2.6.2 from PyPI, built for CUDA 11.8 like the cu118
flavour's paddlepaddle-gpu 3.x, which only Paddle's own index has. Real: the role's GPU build path, the
base, the pinned CUDA/cuDNN wheels of the matrix's default flavour and the dynamic loader's view of them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from paddleocr_fleet.pinning import pins
from support import PROJECT_ROOT
from support.testing import docker0_address

BIN = Path(sys.executable).parent

# Run inside the image: every native library of Paddle resolves, and every CUDA library Paddle dlopens
# loads by its soname (the host driver's libcuda.so.1 excepted: the container toolkit brings it).
PROBE = r"""
import ctypes, glob, inspect, json, os, subprocess, sys
import paddle
root = os.path.dirname(paddle.__file__)
libs = os.path.join(root, "libs")
native = [os.path.join(root, "base", "libpaddle.so")] + sorted(glob.glob(os.path.join(libs, "*.so*")))
missing = {}
for lib in native:
    out = subprocess.run(["ldd", lib], capture_output=True, text=True, env=dict(os.environ, LD_LIBRARY_PATH=libs)).stdout
    gone = [line.split()[0] for line in out.splitlines() if "not found" in line]
    if gone:
        missing[lib] = gone
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
print(json.dumps({"compiled_with_cuda": paddle.device.is_compiled_with_cuda(), "cuda": paddle.version.cuda(),
                  "cudnn": paddle.version.cudnn(), "native": len(native), "ldd_not_found": missing,
                  "loaded": loaded, "failed": failed, "libcuda_in_image": libcuda,
                  "memory_reserved": list(inspect.signature(paddle.device.cuda.memory_reserved).parameters),
                  "capabilities": os.environ.get("NVIDIA_DRIVER_CAPABILITIES", "")}))
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Iterator[dict]:
    build_dir = tmp_path_factory.mktemp("gpu-image")
    env = dict(os.environ, ANSIBLE_ROLES_PATH=str(PROJECT_ROOT / "roles"), ANSIBLE_LOCALHOST_WARNING="0",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="0")
    wheels = os.environ.get("PADDLEOCR_MIRROR_URL", f"http://{docker0_address()}:8900") + "/wheels/"
    run = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", "localhost,", str(Path(__file__).with_name("gpu_image_standin.yml")),
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


def test_matrix_default_pair_on_this_debian_12_controller(built):
    assert built["gpu_matrix"]["driver_branch"] == "535"
    assert built["gpu_matrix"]["flavour"] == "cu118"
    assert built["gpu_matrix"]["max_cuda"] == "12.2"


def test_standin_paddle_2_6_gpu_reports_it_was_compiled_with_cuda_11_8(probe, built):
    assert probe["compiled_with_cuda"] is True
    assert probe["cuda"] == built["gpu_matrix"]["cuda"]


def test_standin_paddle_2_6_native_libraries_resolve(probe):
    assert probe["native"] >= 10
    assert probe["ldd_not_found"] == {}


def test_every_cuda_library_paddle_loads_is_pinned_in_the_image(probe, built):
    """cudart, cuBLAS(Lt), cuDNN, cuFFT, cuRAND, cuSOLVER, cuSPARSE, NVRTC of the flavour: from the pinned wheels."""
    assert probe["failed"] == {}
    assert probe["loaded"] == built["gpu_matrix"]["libraries"]


def test_driver_library_comes_from_the_host_not_the_image(probe):
    assert probe["libcuda_in_image"] is False
    assert probe["capabilities"] == "compute,utility"


def test_standin_paddle_has_the_allocator_query_behind_the_gpu_memory_metric(probe):
    """/metrics' paddleocr_gpu_memory_reserved_bytes calls paddle.device.cuda.memory_reserved(gpu_id) (the
    module's gpu_memory_reserved_bytes); Paddle 3.3.1 has the same signature. Its value needs a GPU: not read here."""
    assert probe["memory_reserved"] == ["device"]


def test_cuda_lock_in_the_image_is_the_flavours(built):
    lock = (PROJECT_ROOT / "roles/paddleocr_image/files" / f"cuda-{built['gpu_matrix']['flavour']}.lock").read_text()
    pinned = {f"{name}=={version}" for name, version in pins(lock)}
    frozen = subprocess.run(["docker", "run", "--rm", "--entrypoint", "pip", built["image"], "freeze"],
                            capture_output=True, text=True, timeout=300, check=True).stdout.split()
    assert pinned <= set(frozen)
