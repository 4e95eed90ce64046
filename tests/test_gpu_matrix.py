"""The driver/CUDA/Paddle compatibility matrix (roles/gpu_matrix): its rule, its defaults and the CUDA
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


def problem(branch: str, flavour: str) -> str:
    return gpu_matrix.gpu_matrix_problem(BRANCHES, FLAVOURS, branch, flavour)


@pytest.mark.parametrize("platform", ["Debian-12", "Ubuntu-20.04", "Ubuntu-22.04", "Ubuntu-24.04"])
def test_every_platform_default_pair_works_together(platform):
    pair = PLATFORM_DEFAULTS[platform]
    assert problem(pair["branch"], pair["flavour"]) == ""


def test_debian_12_default_is_the_only_branch_it_packages():
    assert PLATFORM_DEFAULTS["Debian-12"] == {"branch": "535", "flavour": "cu118"}


@pytest.mark.parametrize(("flavour", "oldest"), [("cu118", "525"), ("cu126", "560"), ("cu129", "575")])
def test_minimum_driver_is_derived_from_the_branches(flavour, oldest):
    assert gpu_matrix.gpu_matrix_min_branch(BRANCHES, FLAVOURS, flavour) == oldest


@pytest.mark.parametrize(("branch", "flavour"), [("570", "cu126"), ("570-server", "cu126"), ("580", "cu129"),
                                                 ("535-server", "cu118"), ("575", "cu129")])
def test_supported_pairs_pass(branch, flavour):
    assert problem(branch, flavour) == ""


def test_too_old_branch_names_branch_flavour_and_fix():
    assert problem("570", "cu129") == (
        "Paddle GPU flavour cu129 needs CUDA 12.9, but NVIDIA driver branch 570 supports CUDA up to 12.8 only. "
        "Fix: set gpu_matrix_driver_branch to 575 or newer, or gpu_matrix_paddle_flavour to cu126.")


def test_branch_older_than_every_flavour_offers_only_the_driver_fix():
    assert problem("470", "cu118").endswith("Fix: set gpu_matrix_driver_branch to 525 or newer.")


@pytest.mark.parametrize(("branch", "flavour", "says"), [
    ("999", "cu126", "NVIDIA driver branch '999' is not in the compatibility matrix"),
    ("latest", "cu126", "NVIDIA driver branch 'latest' is not in the compatibility matrix"),
    ("570", "cu131", "Paddle GPU flavour 'cu131' is not in the compatibility matrix; known flavours: cu118, cu126, cu129"),
])
def test_unknown_entries_are_named(branch, flavour, says):
    assert says in problem(branch, flavour)


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
