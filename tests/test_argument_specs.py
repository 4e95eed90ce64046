"""Wrong variables are rejected before any change, with a message naming the variable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from support import PROJECT_ROOT

ROLES = sorted(p.name for p in (PROJECT_ROOT / "roles").iterdir() if (p / "meta" / "argument_specs.yml").exists())


def run_role(tmp_path: Path, role: str, extra_vars: dict) -> subprocess.CompletedProcess:
    playbook = tmp_path / "play.yml"
    playbook.write_text(
        f"- hosts: localhost\n  connection: local\n  gather_facts: false\n  roles:\n    - role: {role}\n"
    )
    env = dict(os.environ, ANSIBLE_ROLES_PATH=str(PROJECT_ROOT / "roles"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0")
    return subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", str(playbook),
         "-e", json.dumps(extra_vars)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120, check=False,
    )


def test_every_role_has_argument_specs():
    assert set(ROLES) >= {"docker_engine", "paddleocr_models", "paddleocr_image", "paddleocr_service", "paddleocr_verify"}


@pytest.mark.parametrize(
    ("role", "bad_vars", "named"),
    [
        ("paddleocr_service", {"paddleocr_service_port": "eighty"}, "paddleocr_service_port"),
        ("paddleocr_service", {"paddleocr_profile": "tpu"}, "paddleocr_profile"),
        ("paddleocr_image", {"paddleocr_image_pip_no_index": "perhaps"}, "paddleocr_image_pip_no_index"),
        ("paddleocr_image", {"paddleocr_image_delivery": "scp"}, "paddleocr_image_delivery"),
        ("paddleocr_image", {"paddleocr_image_labels": ["v2"]}, "paddleocr_image_labels"),
        ("docker_engine", {"docker_engine_channel": "snap"}, "docker_engine_channel"),
        ("paddleocr_models", {"paddleocr_models_download_timeout": [1]}, "paddleocr_models_download_timeout"),
        ("paddleocr_verify", {"paddleocr_verify_retries": "many"}, "paddleocr_verify_retries"),
        ("nvidia_driver", {"nvidia_driver_reboot_allowed": "perhaps"}, "nvidia_driver_reboot_allowed"),
        ("nvidia_driver", {"nvidia_driver_kernel_headers_packages": {"linux-headers-amd64": 1}},
         "nvidia_driver_kernel_headers_packages"),
        ("nvidia_container_toolkit", {"nvidia_container_toolkit_gpu_check": "sometimes"},
         "nvidia_container_toolkit_gpu_check"),
        ("nvidia_container_toolkit", {"nvidia_container_toolkit_default_runtime": "maybe"},
         "nvidia_container_toolkit_default_runtime"),
        ("docker_engine", {"docker_engine_daemon_json_merge": "perhaps"}, "docker_engine_daemon_json_merge"),
        ("docker_engine", {"docker_engine_ce_packages": {"docker-ce": 1}}, "docker_engine_ce_packages"),
        ("gpu_matrix", {"gpu_matrix_flavour": "cu999"}, "gpu_matrix_flavour"),
        ("nvidia_driver", {"nvidia_driver_kernel_modules": "closed"}, "nvidia_driver_kernel_modules"),
        ("nvidia_driver", {"nvidia_driver_fabricmanager": "sometimes"}, "nvidia_driver_fabricmanager"),
        ("nvidia_container_toolkit", {"nvidia_container_toolkit_cdi": "perhaps"}, "nvidia_container_toolkit_cdi"),
        ("paddleocr_service", {"paddleocr_service_instances_per_gpu": "two"}, "paddleocr_service_instances_per_gpu"),
        ("paddleocr_image", {"paddleocr_image_gpu_flavour": "cu999"}, "paddleocr_image_gpu_flavour"),
        ("paddleocr_lb", {"paddleocr_lb_backends": [{"name": "ocr-1"}]}, "address"),
        ("paddleocr_lb", {"paddleocr_lb_backends": [{"name": "ocr-1", "address": "10.0.0.1"}],
                          "paddleocr_lb_check_rise": "often"}, "paddleocr_lb_check_rise"),
    ],
)
def test_wrong_type_or_choice_fails_before_any_task(tmp_path, role, bad_vars, named):
    result = run_role(tmp_path, role, bad_vars)
    assert result.returncode != 0
    assert "Validating arguments against arg spec" in result.stdout
    assert named in result.stdout
    assert "changed=0" in result.stdout


@pytest.mark.parametrize(
    ("bad_vars", "message"),
    [
        ({"paddleocr_image_delivery": "registry"}, "registry delivery needs paddleocr_image_registry"),
        ({"paddleocr_image_delivery": "archive", "paddleocr_image_build_host": "build-01"},
         "archive delivery needs the controller"),
        # One index per package source: an extra index beside another is dependency confusion.
        ({"paddleocr_image_pip_extra_index_url": "https://pypi.internal/simple/"},
         "paddleocr_image_pip_extra_index_url is not read any more"),
        # Paddle too is installed with --require-hashes: the GPU wheels' hashes come from the operator.
        ({"paddleocr_profile": "gpu"},
         "No sha256 for paddlepaddle-gpu==3.3.1: the image installs Paddle with pip --require-hashes"),
        ({"paddleocr_image_paddle_extra_packages": ["astor>=0.8"], "paddleocr_image_paddle_hashes": {"astor>=0.8": ["aa"]}},
         "No sha256 for astor>=0.8"),
        # The image follows the active set's runtime; forcing another one is refused.
        ({"paddleocr_models_runtime": "paddleocr3", "paddleocr_image_runtime": "paddleocr2"},
         "paddleocr_image_runtime=paddleocr2, but the active model set needs the paddleocr3 runtime"),
    ],
)
def test_inconsistent_image_delivery_fails_before_any_build(tmp_path, bad_vars, message):
    result = run_role(tmp_path, "paddleocr_image", bad_vars)
    assert result.returncode != 0
    assert message in result.stdout
    assert "changed=0" in result.stdout


def test_unknown_model_set_fails_before_download(tmp_path):
    result = run_role(tmp_path, "paddleocr_models", {"paddleocr_model_sets": ["ppocrv9-mobile"]})
    assert result.returncode != 0
    assert "unknown sets ['ppocrv9-mobile']" in result.stdout
    assert "Download the archives" not in result.stdout
    assert "changed=0" in result.stdout


@pytest.mark.parametrize(("profile", "default_set"), [("cpu", "ppocrv6-small"), ("gpu", "ppocrv6-medium")])
def test_a_first_fetch_without_a_recorded_checksum_fails_by_default_and_names_the_way(tmp_path, profile, default_set):
    empty_lock = tmp_path / "models.lock.yml"
    empty_lock.write_text("archives: {}\n")
    result = run_role(tmp_path, "paddleocr_models", {"paddleocr_models_lock_file": str(empty_lock),
                                                     "paddleocr_profile": profile})
    assert result.returncode != 0
    assert "downloads are verified (paddleocr_models_require_checksum, default true)" in result.stdout
    assert f"make models-lock SETS={default_set}" in result.stdout
    assert "changed=0" in result.stdout


@pytest.mark.parametrize(("role", "extra_vars", "named"), [
    ("docker_engine", {"docker_engine_channel": "ce", "docker_engine_ce_gpg_key_fingerprints": []},
     "docker_engine_ce_gpg_key_fingerprints and docker_engine_ce_gpg_key_checksum are empty"),
    ("nvidia_container_toolkit", {"nvidia_container_toolkit_gpg_key_fingerprints": []},
     "nvidia_container_toolkit_gpg_key_fingerprints and nvidia_container_toolkit_gpg_key_checksum are empty"),
])
def test_a_repository_key_with_no_fingerprint_and_no_checksum_fails_before_any_change(tmp_path, role, extra_vars,
                                                                                       named):
    result = run_role(tmp_path, role, extra_vars)
    assert result.returncode != 0
    assert named in " ".join(result.stdout.split()) and "| sha256sum" in result.stdout
    assert "changed=0" in result.stdout


@pytest.mark.parametrize(("role", "variable", "fingerprint"), [
    ("docker_engine", "docker_engine_ce_gpg_key_fingerprints", "9DC858229FC7DD38854AE2D88D81803C0EBFCD88"),
    ("nvidia_container_toolkit", "nvidia_container_toolkit_gpg_key_fingerprints",
     "C95B321B61E88C1809C4F759DDCAE044F796ECB0"),
    ("nvidia_driver", "nvidia_driver_cuda_repo_gpg_key_fingerprints", "EB693B3035CD5710E231E123A4B469963BF863CC"),
])
def test_the_vendors_published_key_fingerprints_are_the_defaults(role, variable, fingerprint):
    defaults = yaml.safe_load((PROJECT_ROOT / "roles" / role / "defaults" / "main.yml").read_text())
    assert defaults[variable] == [fingerprint]


def test_an_active_set_that_is_not_chosen_fails(tmp_path):
    result = run_role(tmp_path, "paddleocr_models", {"paddleocr_model_sets": ["ppocrv4-mobile"],
                                                     "paddleocr_model_set_active": "ppocrv5-mobile"})
    assert result.returncode != 0
    assert "the active set must be one of paddleocr_model_sets" in result.stdout


def test_driver_branch_too_old_for_the_flavour_fails_before_any_change(tmp_path):
    result = run_role(tmp_path, "gpu_matrix", {"gpu_matrix_driver_branch": "535", "gpu_matrix_flavour": "cu126"})
    assert result.returncode != 0
    assert ("GPU flavour cu126 needs a driver of CUDA 12.6, but NVIDIA driver branch 535 supports CUDA up to 12.2 only. "
            "Fix: set gpu_matrix_driver_branch to 560 or newer, or gpu_matrix_flavour to cu118.") in result.stdout
    assert "Nothing was changed." in result.stdout
    assert "changed=0" in result.stdout


def test_the_flavours_former_variable_name_is_refused(tmp_path):
    result = run_role(tmp_path, "gpu_matrix", {"gpu_matrix_paddle_flavour": "cu126"})
    assert result.returncode != 0
    assert "gpu_matrix_paddle_flavour is not read any more: set gpu_matrix_flavour" in result.stdout


@pytest.mark.parametrize(
    "setting",
    [{"paddleocr_proxy_basic_auth_users": [{"name": "ocr", "password": "x"}]},
     {"paddleocr_proxy_tls_cert_file": "/etc/ssl/ocr.pem"},
     {"paddleocr_proxy_allowed_cidrs": ["10.0.0.0/8"]}],
)
def test_access_settings_without_the_proxy_fail_before_any_change(tmp_path, setting):
    """Fail closed: an access setting is never silently ignored by a layout that publishes the API directly."""
    result = run_role(tmp_path, "paddleocr_service", {**setting, "paddleocr_service_behind_proxy": False})
    assert result.returncode != 0
    assert f"{next(iter(setting))} set, but paddleocr_service_behind_proxy is false" in result.stdout
    assert "changed=0" in result.stdout
