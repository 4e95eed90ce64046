"""The rule of the driver/CUDA/Paddle compatibility matrix (roles/gpu_matrix/vars/main.yml).

``branches | gpu_matrix_problem(flavours, branch, flavour)`` is "" when driver branch ``branch`` fully
supports the CUDA of Paddle flavour ``flavour``, else one sentence naming the branch, the flavour and the
fix. ``branches | gpu_matrix_min_branch(flavours, flavour)`` is the oldest branch that runs the flavour.
"""

from __future__ import annotations

import re


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in str(text).split("."))


def _number(branch: str) -> str:
    match = re.match(r"^([0-9]+)(-[a-z]+)*$", str(branch))
    return match.group(1) if match else ""


def gpu_matrix_min_branch(branches: dict, flavours: dict, flavour: str) -> str:
    cuda = _version(flavours[flavour]["cuda"])
    fitting = sorted((b for b, top in branches.items() if _version(top) >= cuda), key=int)
    return fitting[0] if fitting else ""


def gpu_matrix_problem(branches: dict, flavours: dict, branch: str, flavour: str) -> str:
    if flavour not in flavours:
        return (f"Paddle GPU flavour '{flavour}' is not in the compatibility matrix; known flavours: "
                f"{', '.join(sorted(flavours))}. Fix: set gpu_matrix_paddle_flavour to one of them.")
    number = _number(branch)
    if number not in branches:
        return (f"NVIDIA driver branch '{branch}' is not in the compatibility matrix; known branches: "
                f"{', '.join(sorted(branches, key=int))}. Fix: set gpu_matrix_driver_branch to one of them.")
    cuda = flavours[flavour]["cuda"]
    top = branches[number]
    if _version(top) >= _version(cuda):
        return ""
    needed = gpu_matrix_min_branch(branches, flavours, flavour)
    runnable = sorted((name for name, f in flavours.items() if _version(f["cuda"]) <= _version(top)),
                      key=lambda name: _version(flavours[name]["cuda"]))
    fix = f"set gpu_matrix_driver_branch to {needed} or newer" if needed else "no driver branch in the matrix runs it"
    if runnable:
        fix += f", or gpu_matrix_paddle_flavour to {runnable[-1]}"
    return (f"Paddle GPU flavour {flavour} needs CUDA {cuda}, but NVIDIA driver branch {branch} supports CUDA "
            f"up to {top} only. Fix: {fix}.")


class FilterModule:
    def filters(self):
        return {"gpu_matrix_problem": gpu_matrix_problem, "gpu_matrix_min_branch": gpu_matrix_min_branch}
