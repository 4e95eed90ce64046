"""The driver/CUDA/GPU-wheel compatibility matrix (roles/gpu_matrix): its rule, its defaults and the CUDA
locks `make locks` derives from it."""

from __future__ import annotations

import importlib.util

import pytest
import yaml
from packaging.requirements import Requirement

from paddleocr_fleet.pinning import pins
from support import PROJECT_ROOT

ROLE = PROJECT_ROOT / "roles" / "gpu_matrix"
_spec = importlib.util.spec_from_file_location("gpu_matrix", PROJECT_ROOT / "plugins" / "filter" / "gpu_matrix.py")
gpu_matrix = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gpu_matrix)

MATRIX = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())
BRANCHES = MATRIX["_gpu_matrix_driver_branches"]
FLAVOURS = MATRIX["_gpu_matrix_flavours"]
PLATFORM_DEFAULTS = MATRIX["_gpu_matrix_platform_defaults"]
RUNTIME_FLAVOURS = MATRIX["_gpu_matrix_runtime_flavours"]


def problem(branch: str, flavour: str, runtime: str = "") -> str:
    return gpu_matrix.gpu_matrix_problem(BRANCHES, FLAVOURS, branch, flavour, runtime)


@pytest.mark.parametrize("platform", ["Debian-12", "Ubuntu-20.04", "Ubuntu-22.04", "Ubuntu-24.04"])
def test_every_platform_default_pair_works_together(platform):
    pair = PLATFORM_DEFAULTS[platform]
    assert problem(pair["branch"], pair["flavour"]) == ""


def test_debian_12_default_is_the_only_branch_it_packages():
    assert PLATFORM_DEFAULTS["Debian-12"] == {"branch": "535", "flavour": "cu118"}


@pytest.mark.parametrize(("flavour", "oldest"), [("cu118", "525"), ("cu126", "560"), ("cu129", "575"),
                                                 ("ort-cu12", "525")])
def test_minimum_driver_is_derived_from_the_branches(flavour, oldest):
    assert gpu_matrix.gpu_matrix_min_branch(BRANCHES, FLAVOURS, flavour) == oldest


@pytest.mark.parametrize(("branch", "flavour"), [("570", "cu126"), ("570-server", "cu126"), ("580", "cu129"),
                                                 ("535-server", "cu118"), ("575", "cu129")])
def test_supported_pairs_pass(branch, flavour):
    assert problem(branch, flavour) == ""


def test_too_old_branch_names_branch_flavour_and_fix():
    assert problem("570", "cu129") == (
        "GPU flavour cu129 needs a driver of CUDA 12.9, but NVIDIA driver branch 570 supports CUDA up to 12.8 only. "
        "Fix: set gpu_matrix_driver_branch to 575 or newer, or gpu_matrix_flavour to cu126.")


def test_branch_older_than_every_flavour_offers_only_the_driver_fix():
    assert problem("470", "cu118").endswith("Fix: set gpu_matrix_driver_branch to 525 or newer.")


@pytest.mark.parametrize(("branch", "flavour", "says"), [
    ("999", "cu126", "NVIDIA driver branch '999' is not in the compatibility matrix"),
    ("latest", "cu126", "NVIDIA driver branch 'latest' is not in the compatibility matrix"),
    ("570", "cu131", "GPU flavour 'cu131' is not in the compatibility matrix; known flavours: cu118, cu126, cu129, ort-cu12"),
])
def test_unknown_entries_are_named(branch, flavour, says):
    assert says in problem(branch, flavour)


@pytest.mark.parametrize("platform", ["Debian-12", "Ubuntu-20.04", "Ubuntu-22.04", "Ubuntu-24.04"])
def test_onnx_runtimes_flavour_runs_on_every_platforms_default_driver(platform):
    """Minor-version compatibility: ONNX Runtime's CUDA 12.8 build on Debian 12's 535 (CUDA 12.2) too."""
    assert problem(PLATFORM_DEFAULTS[platform]["branch"], RUNTIME_FLAVOURS["onnxruntime"], "onnxruntime") == ""


def test_470_is_too_old_for_onnx_runtimes_flavour():
    assert problem("470", "ort-cu12", "onnxruntime") == (
        "GPU flavour ort-cu12 needs a driver of CUDA 12.0, but NVIDIA driver branch 470 supports CUDA up to 11.4 only. "
        "Fix: set gpu_matrix_driver_branch to 525 or newer.")


@pytest.mark.parametrize(("flavour", "runtime", "fix"), [
    ("cu126", "onnxruntime", "Fix: set gpu_matrix_flavour to ort-cu12 (or leave it unset)."),
    ("ort-cu12", "paddleocr2", "Fix: set gpu_matrix_flavour to cu118 or cu126 or cu129 (or leave it unset)."),
])
def test_flavour_of_another_runtime_is_refused_with_the_fitting_ones(flavour, runtime, fix):
    said = problem("570", flavour, runtime)
    assert said.startswith(f"GPU flavour {flavour} is built for the ")
    assert f"the active model set needs the {runtime} runtime" in said
    assert said.endswith(fix)


@pytest.mark.parametrize("runtime", ["paddleocr2", "paddleocr3", "onnxruntime"])
def test_every_runtime_has_a_flavour(runtime):
    assert any(runtime in flavour["runtimes"] for flavour in FLAVOURS.values())
    assert runtime in RUNTIME_FLAVOURS or runtime in FLAVOURS[PLATFORM_DEFAULTS["Debian-12"]["flavour"]]["runtimes"]


@pytest.mark.parametrize("flavour", sorted(FLAVOURS))
def test_cuda_lock_pins_every_package_the_matrix_asks_for(flavour):
    lock = PROJECT_ROOT / "roles" / "paddleocr_image" / "files" / f"cuda-{flavour}.lock"
    pinned = dict(pins(lock.read_text()))
    for spec in FLAVOURS[flavour]["packages"]:
        requirement = Requirement(spec)
        assert requirement.name in pinned, f"{lock.name} lacks {spec}: run make locks"
        assert requirement.specifier.contains(pinned[requirement.name]), f"{lock.name}: {pinned[requirement.name]} not {spec}"


@pytest.mark.parametrize("flavour", sorted(FLAVOURS))
def test_sonames_follow_the_flavours_cuda_major(flavour):
    major = FLAVOURS[flavour]["cuda"].split(".")[0]
    libraries = FLAVOURS[flavour]["libraries"]
    assert f"libcublas.so.{major}" in libraries
    assert f"libcudnn.so.{FLAVOURS[flavour]['cudnn'].split('.')[0]}" in libraries
    assert all(f"-cu{major}==" in spec for spec in FLAVOURS[flavour]["packages"])
