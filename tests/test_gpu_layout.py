"""The service role's GPU layout (plugins/filter/gpu_layout.py): which GPU or MIG
device each instance gets, for 1, 2 and 8 GPUs, MIG and several instances per GPU."""

from __future__ import annotations

import importlib.util

import pytest

from support import PROJECT_ROOT

_spec = importlib.util.spec_from_file_location(
    "gpu_layout", PROJECT_ROOT / "plugins" / "filter" / "gpu_layout.py")
gpu_layout = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gpu_layout)


def gpus(count: int, mig: dict[int, list[str]] | None = None) -> list[dict]:
    return [{"index": n, "uuid": f"GPU-{n}", "mig": [{"uuid": u} for u in (mig or {}).get(n, [])]} for n in range(count)]


@pytest.mark.parametrize("count", [1, 2, 8])
def test_one_instance_per_gpu_addressed_by_uuid(count):
    targets = gpu_layout.paddleocr_gpu_targets(gpus(count))
    assert gpu_layout.paddleocr_instance_gpus(targets, 1) == [f"GPU-{n}" for n in range(count)]


def test_mig_devices_replace_the_gpu_they_split():
    targets = gpu_layout.paddleocr_gpu_targets(gpus(2, {0: ["MIG-a", "MIG-b", "MIG-c"]}))
    assert targets == ["MIG-a", "MIG-b", "MIG-c", "GPU-1"]


def test_several_instances_per_gpu_are_consecutive():
    assert gpu_layout.paddleocr_instance_gpus(["GPU-0", "GPU-1"], 3) == ["GPU-0"] * 3 + ["GPU-1"] * 3


def test_no_driver_fact_means_no_targets():
    assert gpu_layout.paddleocr_gpu_targets(None) == []
    assert gpu_layout.paddleocr_gpu_targets([]) == []


def test_zero_instances_per_gpu_is_refused():
    with pytest.raises(ValueError, match="at least 1"):
        gpu_layout.paddleocr_instance_gpus(["GPU-0"], 0)


@pytest.mark.parametrize(("profile", "kwargs", "layout"), [
    ("cpu", {"workers": 3}, {"instances": 1, "workers": 3}),
    ("gpu", {"devices": gpus(8), "workers": 3}, {"instances": 8, "workers": 1}),
    ("gpu", {"devices": gpus(2, {0: ["MIG-a", "MIG-b", "MIG-c"]})}, {"instances": 4, "workers": 1}),
    ("gpu", {"devices": gpus(2), "instances_per_gpu": 2}, {"instances": 4, "workers": 1}),
    ("gpu", {"gpu_ids": [0], "devices": gpus(4)}, {"instances": 1, "workers": 1}),
    ("gpu", {}, {"instances": 1, "workers": 1}),
    ("cpu", {"instances": "2", "workers": 2}, {"instances": 2, "workers": 2}),
])
def test_layout_rule_counts_instances_and_workers(profile, kwargs, layout):
    """The rule the service role's defaults and the load balancer's view of a host share: MIG devices count."""
    assert gpu_layout.paddleocr_layout(profile, **kwargs) == layout
