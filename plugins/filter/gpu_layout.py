"""The GPU layout of the paddleocr_service role (unit-tested in tests/test_gpu_layout.py).

- ``devices | paddleocr_gpu_targets``: the driver's devices (ansible_local.nvidia_driver.devices, parsed
  from ``nvidia-smi -L``) -> the UUIDs instances run on: each GPU's UUID, or the UUIDs of the MIG devices
  it is split into (a MIG-enabled GPU cannot run CUDA work as a whole).
- ``gpus | paddleocr_instance_gpus(instances_per_gpu)``: the GPU of each instance (instance n is item n),
  instances_per_gpu consecutive instances per GPU.
- ``profile | paddleocr_layout(gpu_ids, instances_per_gpu, devices, workers, instances)``: how many instances a
  host runs and how many gunicorn workers each has; the service role's defaults and the load balancer's
  capacity of a host it has no published layout of (playbooks/lb.yml) both take it from here.
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


def paddleocr_layout(profile: str, gpu_ids: list | None = None, instances_per_gpu: int = 1,
                     devices: list | None = None, workers: int = 1, instances: int | str | None = None) -> dict:
    """In the gpu profile, one instance per GPU of gpu_ids (else per GPU or MIG device of the driver's devices, else
    GPU 0) times instances_per_gpu, each with one worker (every worker would hold its own engine on the GPU);
    otherwise one instance of `workers` workers. instances, where set, is the operator's count."""
    gpu = profile == "gpu"
    if instances is None or instances == "":
        targets = list(gpu_ids or paddleocr_gpu_targets(devices) or [0])
        instances = len(paddleocr_instance_gpus(targets, instances_per_gpu)) if gpu else 1
    return {"instances": int(instances), "workers": 1 if gpu else int(workers)}


class FilterModule:
    def filters(self):
        return {"paddleocr_gpu_targets": paddleocr_gpu_targets, "paddleocr_instance_gpus": paddleocr_instance_gpus,
                "paddleocr_layout": paddleocr_layout}
