"""The GPU host stack on a Debian 12 sandbox host without a GPU.

Real here: the NVIDIA driver packages from Debian non-free, the nouveau blacklist, daemon.json, the
docker engine (Debian's docker.io binaries). STAND-IN here (tests named *_standin_*): the Docker CE
and NVIDIA Container Toolkit repositories and packages (scripts/standin-apt-repo.sh), because
download.docker.com and nvidia.github.io are unreachable from this machine.
"""

from __future__ import annotations

import json
import os

import pytest

STANDIN_NOTE = "STAND-IN built by paddleocr-fleet tests"
TOOLKIT_PACKAGES = ["nvidia-container-toolkit", "nvidia-container-toolkit-base", "libnvidia-container-tools",
                    "libnvidia-container1"]


# Ubuntu runs (MOLECULE_SANDBOX_IMAGE) use Docker's real repository: GPU_STACK_DOCKER_CE_REPO_URL.
DOCKER_STANDIN = "GPU_STACK_DOCKER_CE_REPO_URL" not in os.environ


def version(host, package: str) -> str:
    return host.check_output(f"dpkg-query -W -f '${{Version}}' {package}")


@pytest.fixture()
def debian(host):
    if host.system_info.distribution != "debian":
        pytest.skip("Debian 12 only")


# --- NVIDIA driver: real Debian non-free packages ---------------------------------------------------

def test_driver_package_installed_at_the_pinned_branch(host):
    fact = json.loads(host.file("/etc/ansible/facts.d/nvidia_driver.fact").content_string)
    assert version(host, fact["package"]).startswith("535.")


def test_driver_packages_installed_from_debian_non_free(host, debian):
    assert version(host, "nvidia-driver").startswith("535.")
    policy = host.check_output("apt-cache policy nvidia-driver")
    installed = policy.split("***", 1)[1].splitlines()
    assert any("deb.debian.org" in line and "/non-free amd64" in line for line in installed[1:3]), policy
    assert host.package("nvidia-kernel-dkms").is_installed
    assert host.package("firmware-misc-nonfree").is_installed


def test_without_kernel_headers_asked_for_none_is_installed_and_dkms_builds_no_module(host):
    """nvidia_driver_kernel_headers_packages is [] here (this machine's kernel is not Debian's): the driver's
    Recommends are installed, but not the distribution's headers that DKMS recommends, so no module is built."""
    assert host.package("nvidia-smi").is_installed  # one of the driver's Recommends
    packages = host.run("dpkg-query -W -f '${db:Status-Abbrev} ${Package}\\n' 'linux-headers-*'").stdout
    headers = [line.split()[1] for line in packages.splitlines() if line.startswith("ii")]
    assert headers == [], headers
    assert "installed" not in host.check_output("dkms status"), host.check_output("dkms status")


def test_debian_non_free_components_in_their_own_source(host, debian):
    source = host.file("/etc/apt/sources.list.d/debian-nvidia.list").content_string
    assert "deb http://deb.debian.org/debian bookworm contrib non-free non-free-firmware" in source
    assert "bookworm-security contrib non-free non-free-firmware" in source
    assert host.file("/etc/apt/sources.list").content_string.strip().endswith("bookworm-updates main")


def test_nouveau_blacklisted(host):
    conf = host.file("/etc/modprobe.d/blacklist-nouveau.conf")
    assert conf.user == "root" and conf.mode == 0o644
    assert "blacklist nouveau" in conf.content_string
    assert "options nouveau modeset=0" in conf.content_string


def test_driver_role_reported_no_gpu_clearly(host):
    """The role's local fact: no GPU, module load and nvidia-smi failed (as they must), no reboot asked."""
    fact = json.loads(host.file("/etc/ansible/facts.d/nvidia_driver.fact").content_string)
    print(json.dumps(fact, indent=2))
    assert fact["gpus"] == [] and fact["branch"] == "535"
    assert fact["module_load"].startswith("failed: modprobe: FATAL: Module nvidia")
    assert fact["nvidia_smi"].startswith("failed: NVIDIA-SMI has failed because it couldn't communicate")
    assert fact["reboot_needed"] is False
    assert not host.file("/run/reboot-required").exists
    assert not host.file("/sys/module/nvidia").exists


# --- Docker CE from the STAND-IN repository ---------------------------------------------------------

def test_docker_ce_from_standin_repo_signed_by_its_keyring(host):
    source = host.file("/etc/apt/sources.list.d/docker-ce.list").content_string
    assert "[arch=amd64 signed-by=/etc/apt/keyrings/docker.asc] " in source
    assert source.rstrip().endswith(f"{host.system_info.codename} stable")
    if DOCKER_STANDIN:
        assert "http://172.17.0.1:8920/docker-ce/linux/debian bookworm stable" in source
    assert "BEGIN PGP PUBLIC KEY BLOCK" in host.file("/etc/apt/keyrings/docker.asc").content_string


def test_no_apt_key_trust_for_standin_repos(host):
    """No key in apt's global trust: the stand-in keys are only trusted through signed-by."""
    assert not host.file("/etc/apt/trusted.gpg").exists
    for name in host.file("/etc/apt/trusted.gpg.d").listdir():
        assert "docker" not in name and "nvidia" not in name, name


def test_docker_ce_from_standin_repo_pinned_version(host):
    """The repository also offers 5:28.0.0: the pin, not 'newest wins', chose 5:27.5.1."""
    if not DOCKER_STANDIN:
        pytest.skip("Docker's real repository (GPU_STACK_DOCKER_CE_REPO_URL)")
    assert version(host, "docker-ce") == "5:27.5.1-1~standin"
    assert version(host, "docker-ce-cli") == "5:27.5.1-1~standin"
    assert "5:28.0.0-1~standin" in host.check_output("apt-cache madison docker-ce")
    assert STANDIN_NOTE in host.check_output("dpkg-query -W -f '${Description}' docker-ce")
    pref = host.file("/etc/apt/preferences.d/docker-ce.pref").content_string
    assert "Pin: version 5:27.5.1-*" in pref and "Pin-Priority: 1001" in pref


def test_docker_engine_from_standin_docker_ce_runs(host):
    assert host.service("docker").is_enabled
    assert host.service("docker").is_running
    assert host.check_output("docker info --format '{{.LoggingDriver}}'") == "json-file"


# --- NVIDIA Container Toolkit from the STAND-IN repository ------------------------------------------

def test_toolkit_from_standin_repo_signed_by_its_keyring(host):
    source = host.file("/etc/apt/sources.list.d/nvidia-container-toolkit.list").content_string
    assert "deb [signed-by=/etc/apt/keyrings/nvidia-container-toolkit.asc] http://172.17.0.1:" in source
    assert "/libnvidia-container/stable/deb/amd64 /" in source


@pytest.mark.parametrize("package", TOOLKIT_PACKAGES)
def test_toolkit_from_standin_repo_pinned_version(host, package):
    """The repository also offers 1.18.0-1: every toolkit package is at the pinned 1.17.8-1."""
    assert version(host, package) == "1.17.8-1"
    assert "1.18.0-1" in host.check_output(f"apt-cache madison {package}")
    assert STANDIN_NOTE in host.check_output(f"dpkg-query -W -f '${{Description}}' {package}")


def test_toolkit_from_standin_repo_registers_nvidia_runtime(host):
    runtimes = json.loads(host.check_output("docker info --format '{{json .Runtimes}}'"))
    assert runtimes["nvidia"]["path"] == "nvidia-container-runtime"
    assert "runc" in runtimes


def test_daemon_json_keeps_log_opts_and_runtimes(host):
    """docker_engine's settings and the toolkit's runtime, merged in one file (both roles ran twice)."""
    daemon = json.loads(host.file("/etc/docker/daemon.json").content_string)
    assert daemon["log-driver"] == "json-file"
    assert daemon["log-opts"] == {"max-size": "50m", "max-file": "3"}
    assert daemon["max-concurrent-downloads"] == 4
    assert daemon["runtimes"] == {"nvidia": {"path": "nvidia-container-runtime", "args": []}}
    assert "default-runtime" not in daemon


def test_standin_nvidia_runtime_runs_a_container(host):
    """docker run --runtime nvidia really starts a container (the stand-in runtime execs runc)."""
    host.check_output(
        "rm -rf /tmp/standin-rootfs && mkdir -p /tmp/standin-rootfs && "
        "cp -L --parents /usr/bin/echo /lib/x86_64-linux-gnu/libc.so.6 /lib64/ld-linux-x86-64.so.2 /tmp/standin-rootfs && "
        "tar -C /tmp/standin-rootfs -c . | docker import - paddleocr-fleet/standin-tiny:1")
    out = host.check_output("docker run --rm --runtime nvidia paddleocr-fleet/standin-tiny:1 /usr/bin/echo standin-runtime-ok")
    assert out == "standin-runtime-ok"
    name = "paddleocr-gpu-stack-runtime-check"
    host.run(f"docker rm -f {name}")
    host.check_output(f"docker create --name {name} --runtime nvidia paddleocr-fleet/standin-tiny:1 /usr/bin/echo")
    assert host.check_output(f"docker inspect -f '{{{{.HostConfig.Runtime}}}}' {name}") == "nvidia"
    host.run(f"docker rm -f {name}")


# --- driver role: holds, persistenced, Fabric Manager, kernel modules ------------------------------------

def held(host) -> set[str]:
    return set(host.check_output("apt-mark showhold").split())


def test_driver_packages_held_and_out_of_unattended_upgrades(host, debian):
    """Every installed package built from nvidia-graphics-drivers is held, and listed for unattended-upgrades."""
    owned = host.check_output(
        "dpkg-query -W -f '${db:Status-Abbrev} ${Package} ${source:Package}\\n' "
        "| awk '$1 ~ /^[ih]i$/ && $3 == \"nvidia-graphics-drivers\" {print $2}'").split()
    assert {"nvidia-driver", "nvidia-kernel-dkms", "nvidia-driver-bin", "nvidia-driver-libs"} <= set(owned)
    assert set(owned) <= held(host)
    blacklist = host.file("/etc/apt/apt.conf.d/51paddleocr-nvidia-driver").content_string
    for package in owned:
        assert '"^' + package.replace("-", "\\-").replace(".", "\\.").replace("+", "\\+") + '$";' in blacklist, package


def test_toolkit_packages_held_and_out_of_unattended_upgrades(host):
    assert set(TOOLKIT_PACKAGES) <= held(host)
    blacklist = host.file("/etc/apt/apt.conf.d/51paddleocr-nvidia-container-toolkit").content_string
    assert '"^nvidia\\-container\\-toolkit$";' in blacklist and '"^libnvidia\\-container1$";' in blacklist


def test_persistenced_enabled_not_started_without_a_gpu(host):
    service = host.service("nvidia-persistenced")
    assert service.is_enabled
    assert not service.is_running


def test_fabric_manager_left_out_without_nvswitch(host):
    fact = json.loads(host.file("/etc/ansible/facts.d/nvidia_driver.fact").content_string)
    assert fact["nvswitches"] == []
    assert host.run("dpkg-query -W 'nvidia-fabricmanager*'").rc != 0
    assert not host.file("/lib/systemd/system/nvidia-fabricmanager.service").exists


def test_kernel_modules_and_secure_boot_recorded(host):
    """No GPU seen: proprietary modules (NVIDIA's choice for branch 535); Secure Boot unreadable in a container."""
    fact = json.loads(host.file("/etc/ansible/facts.d/nvidia_driver.fact").content_string)
    assert fact["kernel_modules"] == "proprietary"
    assert fact["secure_boot"] == "unknown"
    assert fact["devices"] == []


def test_no_cdi_spec_without_a_loaded_driver(host):
    assert not host.file("/etc/cdi/nvidia.yaml").exists
