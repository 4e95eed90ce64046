"""Parsers and decisions of the nvidia_driver role, as filters (unit-tested in tests/test_gpu_stack_roles.py).

- ``text | nvidia_smi_devices``: ``nvidia-smi -L`` -> [{index, name, uuid, mig: [{index, name, uuid}]}]
- ``text | nvidia_module_version``: /proc/driver/nvidia/version -> "535.309.01" ("" when unreadable)
- ``choice | nvidia_kernel_modules(branch, device_ids, generations)``: "open" or "proprietary"
- ``efivar_b64 | nvidia_secure_boot(mokutil_stdout)``: "enabled", "disabled" or "unknown"
"""

from __future__ import annotations

import base64
import re

_GPU = re.compile(r"^GPU (\d+): (.+?) \(UUID: (GPU-[0-9a-fA-F-]+)\)\s*$")
_MIG = re.compile(r"^\s+MIG (\S+)\s+Device\s+(\d+): \(UUID: (MIG-[0-9A-Za-z-]+(?:/\d+/\d+)?)\)\s*$")
_MODULE = re.compile(r"Kernel Module(?: for \S+)?\s+([0-9]+\.[0-9]+(?:\.[0-9]+)?)")


def nvidia_smi_devices(text: str) -> list[dict]:
    devices: list[dict] = []
    for line in (text or "").splitlines():
        gpu = _GPU.match(line)
        if gpu:
            devices.append({"index": int(gpu.group(1)), "name": gpu.group(2), "uuid": gpu.group(3), "mig": []})
            continue
        mig = _MIG.match(line)
        if mig and devices:
            devices[-1]["mig"].append({"index": int(mig.group(2)), "name": mig.group(1), "uuid": mig.group(3)})
    return devices


def nvidia_module_version(text: str) -> str:
    match = _MODULE.search(text or "")
    return match.group(1) if match else ""


def nvidia_kernel_modules(choice: str, branch: str, device_ids: list, generations: dict) -> str:
    """NVIDIA's recommendation: open modules from branch 560 on for Turing and newer GPUs (the only kind
    for Blackwell and newer), proprietary before 560 and whenever a GPU predates Turing."""
    if choice in ("open", "proprietary"):
        return choice
    ids = [int(str(device), 16) for device in device_ids]
    branch_number = re.match(r"^[0-9]+", str(branch))
    if branch_number is None:
        raise ValueError(f"nvidia_kernel_modules: the branch must start with its number (535, 535-server), "
                         f"not {branch!r}")
    number = int(branch_number.group(0))
    if any(device >= int(generations["open_only_from"], 16) for device in ids):
        return "open"
    if ids and all(device >= int(generations["open_capable_from"], 16) for device in ids) and number >= 560:
        return "open"
    return "proprietary"


def nvidia_secure_boot(efivar_b64: str, mokutil_stdout: str = "") -> str:
    """The SecureBoot EFI variable: 4 attribute bytes, then 1 (enabled) or 0; mokutil --sb-state wins."""
    said = (mokutil_stdout or "").lower()
    if "secureboot enabled" in said:
        return "enabled"
    if "secureboot disabled" in said:
        return "disabled"
    if not efivar_b64:
        return "unknown"
    data = base64.b64decode(efivar_b64)
    if len(data) < 5:
        return "unknown"
    return "enabled" if data[4] == 1 else "disabled"


class FilterModule:
    def filters(self):
        return {"nvidia_smi_devices": nvidia_smi_devices, "nvidia_module_version": nvidia_module_version,
                "nvidia_kernel_modules": nvidia_kernel_modules, "nvidia_secure_boot": nvidia_secure_boot}
