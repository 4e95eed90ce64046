"""The nvidia_driver role's GPU detection and skip on fake sysfs trees (this machine has no NVIDIA GPU).
Wrong variables of the GPU roles are rejected in test_argument_specs.py."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from paddleocr_fleet import PROJECT_ROOT


def fake_pci(root: Path, devices: dict[str, tuple[str, str, str]]) -> Path:
    """A /sys/bus/pci/devices lookalike: address -> (vendor, class, device)."""
    for address, (vendor, klass, device) in devices.items():
        d = root / address
        d.mkdir(parents=True)
        (d / "vendor").write_text(vendor + "\n")
        (d / "class").write_text(klass + "\n")
        (d / "device").write_text(device + "\n")
    return root


def run_driver(tmp_path: Path, extra: dict, tasks_from: str = "main") -> subprocess.CompletedProcess:
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
    return subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", str(play),
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
