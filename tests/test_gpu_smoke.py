"""The verdict of playbooks/gpu_smoke.yml (plugins/filter/gpu_smoke.py) on nvidia-smi output in the
format of a real host: this machine has no GPU, so the playbook itself is not run here."""

from __future__ import annotations

import importlib.util

from support import PROJECT_ROOT

_spec = importlib.util.spec_from_file_location("gpu_smoke", PROJECT_ROOT / "plugins" / "filter" / "gpu_smoke.py")
gpu_smoke = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gpu_smoke)

GPU0, GPU1 = "GPU-5e6f2d3c-8a3b-2b1f-9c1e-0123456789ab", "GPU-aa6f2d3c-8a3b-2b1f-9c1e-0123456789ab"
DEVICES = [{"index": 0, "uuid": GPU0, "mig": []},
           {"index": 1, "uuid": GPU1, "mig": [{"uuid": "MIG-4e4a4b2c-1234-5678-9abc-def012345678"}]}]


def top(n: int, gpu: str, pids: list[int]) -> dict:
    """What `docker top paddleocr-N -eo pid` registers in the playbook's loop."""
    return {"item": {"unit": f"paddleocr@{n}", "container": f"paddleocr-{n}", "url": f"http://127.0.0.1:{8867 + n}/",
                     "gpu": gpu},
            "stdout": "PID\n" + "\n".join(str(p) for p in pids)}


def test_every_instance_on_its_gpu_with_memory():
    apps = f"41234, {GPU0}, 1893\n52345, {GPU1}, 1201\n"
    tops = [top(0, GPU0, [41200, 41234]), top(1, "MIG-4e4a4b2c-1234-5678-9abc-def012345678", [52300, 52345])]
    assert gpu_smoke.gpu_smoke_problems(tops, apps, DEVICES) == []


def test_instance_addressed_by_index():
    assert gpu_smoke.gpu_smoke_problems([top(0, "1", [7])], f"7, {GPU1}, 900", DEVICES) == []


def test_instance_on_the_cpu_is_named():
    problems = gpu_smoke.gpu_smoke_problems([top(0, GPU0, [41200, 41234])], "", DEVICES)
    assert problems == [(f"paddleocr@0 (GPU {GPU0}): no process of container paddleocr-0 (PIDs [41200, 41234]) uses a "
                         "GPU in nvidia-smi (compute apps: none): the engine runs on the CPU")]


def test_instance_on_the_wrong_gpu_is_named():
    problems = gpu_smoke.gpu_smoke_problems([top(1, GPU1, [900])], f"900, {GPU0}, 1500", DEVICES)
    assert problems == [f"paddleocr@1 (GPU {GPU1}): container paddleocr-1 runs on ['{GPU0}'], not on {GPU1}"]


def test_unknown_gpu_and_no_memory():
    assert "the driver reports no such GPU" in gpu_smoke.gpu_smoke_problems([top(0, "7", [1])], "", DEVICES)[0]
    assert "uses no GPU memory" in gpu_smoke.gpu_smoke_problems([top(0, "0", [5])], f"5, {GPU0}, 0", DEVICES)[0]
