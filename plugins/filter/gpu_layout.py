"""The GPU layout of the paddleocr_service role (unit-tested in tests/test_gpu_layout.py).

- ``devices | paddleocr_gpu_targets``: the driver's devices (ansible_local.nvidia_driver.devices, parsed
  from ``nvidia-smi -L``) -> the UUIDs instances run on: each GPU's UUID, or the UUIDs of the MIG devices
  it is split into (a MIG-enabled GPU cannot run CUDA work as a whole).
- ``gpus | paddleocr_instance_gpus(instances_per_gpu)``: the GPU of each instance (instance n is item n),
  instances_per_gpu consecutive instances per GPU.
"""

from __future__ import annotations


def paddleocr_gpu_targets(devices: list | None) -> list[str]:
    targets: list[str] = []
    for gpu in devices or []:
        migs = [mig["uuid"] for mig in gpu.get("mig") or []]
        targets.extend(migs or [gpu["uuid"]])
    return targets


def paddleocr_instance_gpus(gpus: list, instances_per_gpu: int) -> list[str]:
    per_gpu = int(instances_per_gpu)
    if per_gpu < 1:
        raise ValueError(f"instances_per_gpu must be at least 1, not {per_gpu}")
    return [str(gpu) for gpu in gpus for _ in range(per_gpu)]


class FilterModule:
    def filters(self):
        return {"paddleocr_gpu_targets": paddleocr_gpu_targets, "paddleocr_instance_gpus": paddleocr_instance_gpus}
