"""The rule of the driver/CUDA/GPU-wheel compatibility matrix (roles/gpu_matrix/vars/main.yml).

``branches | gpu_matrix_problem(flavours, branch, flavour, runtime)`` is "" when driver branch ``branch``
runs the CUDA of flavour ``flavour`` and that flavour serves ``runtime`` (the active model set's), else one
sentence naming what does not fit and the fix. ``branches | gpu_matrix_min_branch(flavours, flavour)`` is the
oldest branch that runs the flavour: the first whose CUDA is at least the flavour's ``driver_cuda`` (its
``cuda`` where it relies on no minor-version compatibility).
"""

from __future__ import annotations

import re


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in str(text).split("."))


def _number(branch: str) -> str:
    match = re.match(r"^([0-9]+)(-[a-z]+)*$", str(branch))
    return match.group(1) if match else ""


def _driver_cuda(flavour: dict) -> tuple[int, ...]:
    return _version(flavour.get("driver_cuda", flavour["cuda"]))


def gpu_matrix_min_branch(branches: dict, flavours: dict, flavour: str) -> str:
    cuda = _driver_cuda(flavours[flavour])
    fitting = sorted((b for b, top in branches.items() if _version(top) >= cuda), key=int)
    return fitting[0] if fitting else ""


def gpu_matrix_problem(branches: dict, flavours: dict, branch: str, flavour: str, runtime: str = "") -> str:
    if flavour not in flavours:
        return (f"GPU flavour '{flavour}' is not in the compatibility matrix; known flavours: "
                f"{', '.join(sorted(flavours))}. Fix: set gpu_matrix_flavour to one of them.")
    serving = sorted(name for name, f in flavours.items() if runtime in f["runtimes"])
    if runtime and flavour not in serving:
        fix = f"set gpu_matrix_flavour to {' or '.join(serving)} (or leave it unset)" if serving else (
            "serve a model set of another runtime on GPU hosts")
        return (f"GPU flavour {flavour} is built for the {' and '.join(flavours[flavour]['runtimes'])} runtime, but the "
                f"active model set needs the {runtime} runtime. Fix: {fix}.")
    number = _number(branch)
    if number not in branches:
        return (f"NVIDIA driver branch '{branch}' is not in the compatibility matrix; known branches: "
                f"{', '.join(sorted(branches, key=int))}. Fix: set gpu_matrix_driver_branch to one of them.")
    cuda = flavours[flavour].get("driver_cuda", flavours[flavour]["cuda"])
    top = branches[number]
    if _version(top) >= _version(cuda):
        return ""
    needed = gpu_matrix_min_branch(branches, flavours, flavour)
    # Alternatives for the same runtime (the requested flavour's where the runtime is not known).
    runtimes = {runtime} if runtime else set(flavours[flavour]["runtimes"])
    runnable = sorted((name for name, f in flavours.items()
                       if _driver_cuda(f) <= _version(top) and runtimes & set(f["runtimes"])),
                      key=lambda name: _driver_cuda(flavours[name]))
    fix = f"set gpu_matrix_driver_branch to {needed} or newer" if needed else "no driver branch in the matrix runs it"
    if runnable:
        fix += f", or gpu_matrix_flavour to {runnable[-1]}"
    return (f"GPU flavour {flavour} needs a driver of CUDA {cuda}, but NVIDIA driver branch {branch} supports CUDA "
            f"up to {top} only. Fix: {fix}.")


class FilterModule:
    def filters(self):
        return {"gpu_matrix_problem": gpu_matrix_problem, "gpu_matrix_min_branch": gpu_matrix_min_branch}
