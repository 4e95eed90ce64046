"""The first converge of site.yml on a fresh demo host against its idempotent re-run, and where the re-run's time goes.

    make bench-converge

Recreates the demo host (playbooks/sandbox.yml, as `make demo-clean demo` does), times site.yml's first
converge and then a re-run, checks that the re-run changed nothing, and prints the re-run's slowest tasks
(ansible.posix.profile_tasks) and the ratio first / re-run (goal >= 5). The image build and the model
downloads come from the local wheelhouse and mirror, as in `make demo`.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
RECAP = re.compile(r"^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.MULTILINE)


def playbook(*args: str, env: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), *args], cwd=PROJECT,
                          capture_output=True, text=True, env={**os.environ, **(env or {})}, check=False)
    elapsed = time.monotonic() - started
    if proc.returncode != 0:
        sys.exit(f"ansible-playbook {' '.join(args)} failed:\n{proc.stdout[-3000:]}{proc.stderr[-2000:]}")
    return proc, elapsed


def changed(output: str) -> int:
    return sum(int(match.group(3)) for match in RECAP.finditer(output))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", default="18866", help="the demo host's published port")
    parser.add_argument("--top", type=int, default=15, help="slowest tasks of the re-run to print")
    args = parser.parse_args()

    print("== recreating the demo host", flush=True)
    playbook("playbooks/sandbox.yml", "-e", "sandbox_state=absent")
    playbook("playbooks/sandbox.yml", "-e", f"sandbox_port={args.port}")
    first, first_s = playbook("site.yml")
    print(f"first converge: {first_s:.1f} s, {changed(first.stdout)} changed", flush=True)
    profile = {"ANSIBLE_CALLBACKS_ENABLED": "paddleocr.fleet.progress,ansible.posix.profile_tasks",
               "PROFILE_TASKS_TASK_OUTPUT_LIMIT": str(args.top)}
    rerun, rerun_s = playbook("site.yml", env=profile)
    print(f"re-run: {rerun_s:.1f} s, {changed(rerun.stdout)} changed (must be 0)")
    tasks = [line for line in rerun.stdout.splitlines() if re.search(r" -+ \d+\.\d+s$", line)]
    print("slowest tasks of the re-run (profile_tasks):\n  " + "\n  ".join(tasks[:args.top]))
    print(f"first / re-run: {first_s / rerun_s:.1f} (goal >= 5)")
    return 0 if changed(rerun.stdout) == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
