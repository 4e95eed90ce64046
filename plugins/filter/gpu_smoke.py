"""The verdict of playbooks/gpu_smoke.yml (unit-tested in tests/test_gpu_smoke.py): does each OCR instance
run on the GPU it is bound to?

``tops | gpu_smoke_problems(compute_apps, devices)``:
- tops: one ``docker top <container> -eo pid`` result per instance (registered with a loop over
  /etc/paddleocr/instances.json: ``item`` is the instance (unit, container, url, gpu: index, GPU- or MIG-
  UUID), ``stdout`` the host PIDs of its container's processes);
- compute_apps: ``nvidia-smi --query-compute-apps=pid,gpu_uuid,used_memory --format=csv,noheader,nounits``;
- devices: ansible_local.nvidia_driver.devices (index, uuid, mig: [{uuid}]), to resolve indexes and MIG UUIDs
  to the physical GPU nvidia-smi reports processes on.
Returns one sentence per instance that is not on its GPU with memory in use; [] when all are.
"""

from __future__ import annotations


def _physical_gpu(gpu: str, devices: list[dict]) -> str:
    for device in devices:
        if gpu in (str(device["index"]), device["uuid"]) or gpu in [mig["uuid"] for mig in device.get("mig") or []]:
            return device["uuid"]
    return ""


def _apps(compute_apps: str) -> list[tuple[int, str, int]]:
    rows = []
    for line in (compute_apps or "").splitlines():
        fields = [field.strip() for field in line.split(",")]
        if len(fields) == 3 and fields[0].isdigit():
            memory = int(fields[2]) if fields[2].isdigit() else 0
            rows.append((int(fields[0]), fields[1], memory))
    return rows


def gpu_smoke_problems(tops: list[dict], compute_apps: str, devices: list[dict]) -> list[str]:
    problems = []
    apps = _apps(compute_apps)
    for top in tops:
        instance = top["item"]
        name = f"{instance['unit']} (GPU {instance['gpu']})"
        expected = _physical_gpu(str(instance["gpu"]), devices or [])
        if not expected:
            problems.append(f"{name}: the driver reports no such GPU (devices: {[d['uuid'] for d in devices or []]})")
            continue
        pids = {int(pid) for pid in (top.get("stdout") or "").split() if pid.isdigit()}
        mine = [app for app in apps if app[0] in pids]
        if not mine:
            problems.append(f"{name}: no process of container {instance['container']} (PIDs {sorted(pids)}) uses a GPU "
                            f"in nvidia-smi (compute apps: {apps or 'none'}): the engine runs on the CPU")
            continue
        elsewhere = [app for app in mine if app[1] != expected]
        if elsewhere:
            problems.append(f"{name}: container {instance['container']} runs on {sorted({a[1] for a in elsewhere})}, "
                            f"not on {expected}")
        elif sum(app[2] for app in mine) <= 0:
            problems.append(f"{name}: container {instance['container']} is on {expected} but uses no GPU memory")
    return problems


class FilterModule:
    def filters(self):
        return {"gpu_smoke_problems": gpu_smoke_problems}
