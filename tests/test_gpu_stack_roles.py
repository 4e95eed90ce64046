"""The nvidia_driver role's GPU, NVSwitch and Secure Boot detection on fake sysfs trees, its skip, and its
parsers of nvidia-smi and /proc/driver/nvidia (this machine has no NVIDIA GPU).
Wrong variables of the GPU roles are rejected in test_argument_specs.py."""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from support import PROJECT_ROOT


def fake_pci(root: Path, devices: dict[str, tuple[str, str, str]]) -> Path:
    """A /sys/bus/pci/devices lookalike: address -> (vendor, class, device)."""
    for address, (vendor, klass, device) in devices.items():
        d = root / address
        d.mkdir(parents=True)
        (d / "vendor").write_text(vendor + "\n")
        (d / "class").write_text(klass + "\n")
        (d / "device").write_text(device + "\n")
    return root


def run_driver(tmp_path: Path, extra: dict, tasks_from: str = "main", *args: str) -> subprocess.CompletedProcess:
    play = tmp_path / "play.yml"
    play.write_text(f"""
- hosts: localhost
  connection: local
  gather_facts: true
  tasks:
    - ansible.builtin.include_role: {{name: nvidia_driver, tasks_from: {tasks_from}}}
    - ansible.builtin.debug: {{msg: "STATUS {{{{ nvidia_driver_status | to_json | b64encode }}}} END"}}
""")
    env = dict(os.environ, ANSIBLE_ROLES_PATH=str(PROJECT_ROOT / "roles"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0")
    return subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", str(play), *args,
                           "-e", json.dumps({"ansible_python_interpreter": sys.executable, **extra})],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=180, check=False)


def status(result: subprocess.CompletedProcess) -> dict:
    line = next(x for x in result.stdout.splitlines() if "STATUS " in x)
    return json.loads(base64.b64decode(line.split("STATUS ", 1)[1].split(" END")[0]))


def debian_or_ubuntu_controller() -> bool:
    text = Path("/etc/os-release").read_text() if Path("/etc/os-release").exists() else ""
    return 'VERSION_ID="12"' in text and "ID=debian" in text or any(
        f'VERSION_ID="{v}"' in text for v in ("20.04", "22.04", "24.04"))


@pytest.mark.skipif(not debian_or_ubuntu_controller(), reason="the role runs on Debian 12 / Ubuntu LTS only")
def test_without_an_nvidia_display_device_the_role_skips_with_a_message_and_changes_nothing(tmp_path):
    """An Intel GPU and an NVIDIA audio function (class 0x0403) are not NVIDIA GPUs."""
    pci = fake_pci(tmp_path / "pci", {"0000:00:02.0": ("0x8086", "0x030000", "0x3e92"),
                                      "0000:01:00.1": ("0x10de", "0x040300", "0x10f9")})
    result = run_driver(tmp_path, {"nvidia_driver_sysfs_pci_devices": str(pci)})
    assert result.returncode == 0, result.stdout[-3000:]
    text = " ".join(result.stdout.split())  # the callback may wrap long messages
    assert "No NVIDIA PCI device on localhost" in text
    assert "Set nvidia_driver_force=true to install it anyway" in text
    assert status(result)["action"] == "skipped-no-gpu"
    assert "changed=0" in result.stdout
    assert "repos.yml" not in result.stdout and "install.yml" not in result.stdout


@pytest.mark.skipif(not debian_or_ubuntu_controller(), reason="the role runs on Debian 12 / Ubuntu LTS only")
def test_an_nvidia_display_or_3d_controller_is_detected(tmp_path):
    pci = fake_pci(tmp_path / "pci", {"0000:3b:00.0": ("0x10de", "0x030200", "0x20b5"),
                                      "0000:5e:00.0": ("0x10de", "0x030000", "0x2204")})
    result = run_driver(tmp_path, {"nvidia_driver_sysfs_pci_devices": str(pci)}, tasks_from="detect")
    assert result.returncode == 0, result.stdout[-3000:]
    found = status(result)
    assert found["gpus"] == ["0000:3b:00.0 0x20b5", "0000:5e:00.0 0x2204"]
    assert found["action"] == "install"


@pytest.mark.skipif(not debian_or_ubuntu_controller(), reason="the role runs on Debian 12 / Ubuntu LTS only")
def test_an_unknown_branch_fails_before_any_change(tmp_path):
    result = run_driver(tmp_path, {"nvidia_driver_branch": "latest", "nvidia_driver_force": True})
    assert result.returncode != 0
    assert "branches like 535, 535-server, 570" in " ".join(result.stdout.split())
    assert "changed=0" in result.stdout


# --- the role's parsers and decisions (plugins/filter/nvidia_driver.py) -----------------

_spec = importlib.util.spec_from_file_location(
    "nvidia_driver_filters", PROJECT_ROOT / "plugins" / "filter" / "nvidia_driver.py")
filters = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(filters)
GENERATIONS = yaml.safe_load((PROJECT_ROOT / "roles" / "nvidia_driver" / "vars" / "main.yml").read_text())[
    "_nvidia_driver_generations"]

SMI_8_GPUS = "".join(f"GPU {n}: NVIDIA H100 80GB HBM3 (UUID: GPU-{n:08x}-1b2c-3d4e-5f60-7182934a5b6c)\n" for n in range(8))
SMI_MIG = """GPU 0: NVIDIA A100-SXM4-40GB (UUID: GPU-5e6f2d3c-8a3b-2b1f-9c1e-0123456789ab)
  MIG 3g.20gb     Device  0: (UUID: MIG-4e4a4b2c-1234-5678-9abc-def012345678)
  MIG 2g.10gb     Device  1: (UUID: MIG-9f8e7d6c-4321-8765-cba9-876543210fed)
GPU 1: NVIDIA A100-SXM4-40GB (UUID: GPU-aa6f2d3c-8a3b-2b1f-9c1e-0123456789ab)
"""


def test_nvidia_smi_list_of_8_gpus():
    devices = filters.nvidia_smi_devices(SMI_8_GPUS)
    assert [d["index"] for d in devices] == list(range(8))
    assert devices[7] == {"index": 7, "name": "NVIDIA H100 80GB HBM3",
                          "uuid": "GPU-00000007-1b2c-3d4e-5f60-7182934a5b6c", "mig": []}


def test_nvidia_smi_list_with_mig_devices_under_their_gpu():
    devices = filters.nvidia_smi_devices(SMI_MIG)
    assert [m["uuid"] for m in devices[0]["mig"]] == ["MIG-4e4a4b2c-1234-5678-9abc-def012345678",
                                                      "MIG-9f8e7d6c-4321-8765-cba9-876543210fed"]
    assert devices[0]["mig"][1]["name"] == "2g.10gb" and devices[1]["mig"] == []


def test_nvidia_smi_old_style_mig_uuid_and_failure_text():
    old = "GPU 0: A100-SXM4-40GB (UUID: GPU-5e6f2d3c-8a3b-2b1f-9c1e-0123456789ab)\n" \
          "  MIG 1g.5gb Device 0: (UUID: MIG-GPU-5e6f2d3c-8a3b-2b1f-9c1e-0123456789ab/7/0)\n"
    assert filters.nvidia_smi_devices(old)[0]["mig"][0]["uuid"] == "MIG-GPU-5e6f2d3c-8a3b-2b1f-9c1e-0123456789ab/7/0"
    assert filters.nvidia_smi_devices("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.") == []


@pytest.mark.parametrize(("text", "version"), [
    ("NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.309.01  Tue Jul  1 2025\nGCC version:  gcc 12.2.0", "535.309.01"),
    ("NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  570.133.20  Release Build  (dvs-builder@U16)", "570.133.20"),
    ("", ""),
])
def test_loaded_module_version_from_proc(text, version):
    assert filters.nvidia_module_version(text) == version


@pytest.mark.parametrize(("choice", "branch", "devices", "modules"), [
    ("auto", "535", ["0x2330"], "proprietary"),          # H100 on 535: before 560, proprietary
    ("auto", "570-server", ["0x2330", "0x2330"], "open"),  # H100 on 570: open
    ("auto", "570", ["0x1db1", "0x2330"], "proprietary"),  # a V100 (pre-Turing) among them
    ("auto", "570", ["0x2901"], "open"),                 # Blackwell: open only
    ("auto", "570", [], "proprietary"),                  # no GPU seen
    ("proprietary", "575", ["0x2330"], "proprietary"),   # the operator's choice wins
])
def test_kernel_modules_follow_branch_and_generation(choice, branch, devices, modules):
    assert filters.nvidia_kernel_modules(choice, branch, devices, GENERATIONS) == modules


@pytest.mark.parametrize(("efivar", "mokutil", "state"), [
    (bytes([6, 0, 0, 0, 1]), "", "enabled"),
    (bytes([6, 0, 0, 0, 0]), "", "disabled"),
    (b"", "", "unknown"),
    (bytes([6, 0, 0, 0, 0]), "SecureBoot enabled\n", "enabled"),
])
def test_secure_boot_state(efivar, mokutil, state):
    assert filters.nvidia_secure_boot(base64.b64encode(efivar).decode(), mokutil) == state


# --- detection on fake trees --------------------------------------------------------------------------

def fake_efivars(root: Path, enabled: bool) -> Path:
    root.mkdir(parents=True)
    (root / "SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c").write_bytes(bytes([6, 0, 0, 0, 1 if enabled else 0]))
    return root


HGX = {f"0000:{bus:02x}:00.0": ("0x10de", "0x030200", "0x2330") for bus in (0x18, 0x2a, 0x3a, 0x5d)}
HGX.update({f"0000:{bus:02x}:00.0": ("0x10de", "0x068000", "0x22a3") for bus in (0x05, 0x06, 0x07, 0x08)})


@pytest.mark.skipif(not debian_or_ubuntu_controller(), reason="the role runs on Debian 12 / Ubuntu LTS only")
def test_nvswitches_and_secure_boot_are_detected_on_a_fake_hgx_tree(tmp_path):
    result = run_driver(tmp_path, {"nvidia_driver_sysfs_pci_devices": str(fake_pci(tmp_path / "pci", HGX)),
                                   "nvidia_driver_efivars_dir": str(fake_efivars(tmp_path / "efi", True)),
                                   "nvidia_driver_branch": "570"}, tasks_from="detect")
    assert result.returncode == 0, result.stdout[-3000:]
    found = status(result)
    assert len(found["gpus"]) == 4
    assert found["nvswitches"] == [f"0000:0{n}:00.0 0x22a3" for n in (5, 6, 7, 8)]
    assert found["secure_boot"] == "enabled"
    assert found["kernel_modules"] == "open"


@pytest.mark.skipif(not debian_or_ubuntu_controller(), reason="the role runs on Debian 12 / Ubuntu LTS only")
def test_plain_gpu_host_has_no_nvswitch_and_secure_boot_off(tmp_path):
    pci = fake_pci(tmp_path / "pci", {"0000:3b:00.0": ("0x10de", "0x030200", "0x20b5")})
    result = run_driver(tmp_path, {"nvidia_driver_sysfs_pci_devices": str(pci),
                                   "nvidia_driver_efivars_dir": str(fake_efivars(tmp_path / "efi", False))},
                        tasks_from="detect")
    found = status(result)
    assert found["nvswitches"] == [] and found["secure_boot"] == "disabled"
    assert found["kernel_modules"] == "proprietary"  # A100 on the default 535


@pytest.mark.skipif(not debian_or_ubuntu_controller(), reason="the role runs on Debian 12 / Ubuntu LTS only")
def test_secure_boot_without_an_enrolled_key_fails_before_any_change_with_instructions(tmp_path):
    pci = fake_pci(tmp_path / "pci", {"0000:3b:00.0": ("0x10de", "0x030200", "0x20b5")})
    result = run_driver(tmp_path, {"nvidia_driver_sysfs_pci_devices": str(pci),
                                   "nvidia_driver_efivars_dir": str(fake_efivars(tmp_path / "efi", True))})
    assert result.returncode != 0
    text = " ".join(result.stdout.split())
    assert "Secure Boot is enabled on localhost and no Machine Owner Key that signs DKMS modules is enrolled" in text
    assert "mokutil --import /var/lib/dkms/mok.pub" in text and "Nothing was installed." in text
    assert "changed=0" in result.stdout
    assert "repos.yml" not in result.stdout


@pytest.mark.skipif(not debian_or_ubuntu_controller(), reason="the role runs on Debian 12 / Ubuntu LTS only")
def test_secure_boot_check_can_be_turned_off(tmp_path):
    """nvidia_driver_secure_boot_check=false (modules signed another way): the preflight lets the role go on to
    the install, run here in check mode, which then stops at this controller's missing driver packages."""
    pci = fake_pci(tmp_path / "pci", {"0000:3b:00.0": ("0x10de", "0x030200", "0x20b5")})
    result = run_driver(tmp_path, {"nvidia_driver_sysfs_pci_devices": str(pci), "nvidia_driver_secure_boot_check": False,
                                   "nvidia_driver_efivars_dir": str(fake_efivars(tmp_path / "efi", True))},
                        "main", "--check")
    text = " ".join(result.stdout.split())
    assert "no Machine Owner Key" not in text
    assert "Look up the driver package's candidate version" in text


def test_each_supported_distribution_has_a_vars_file_setting_the_same_variables():
    """What differs between Debian and Ubuntu is data in vars/<distribution>.yml (tasks/main.yml reads the host's):
    one file per supported distribution, each setting every variable the tasks read."""
    role_vars = PROJECT_ROOT / "roles" / "nvidia_driver" / "vars"
    supported = yaml.safe_load((role_vars / "main.yml").read_text())["_nvidia_driver_supported"]
    files = {path.stem: yaml.safe_load(path.read_text()) for path in role_vars.glob("*.yml") if path.stem != "main"}
    assert set(files) == set(supported)
    names = {distribution: set(values) for distribution, values in files.items()}
    assert len({frozenset(keys) for keys in names.values()}) == 1, names
    tasks = "".join(path.read_text() for path in (role_vars.parent / "tasks").glob("*.yml"))
    assert all(name in tasks for name in names["Debian"])
    assert "ansible_facts['distribution'] ==" not in tasks
