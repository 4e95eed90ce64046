"""What the fleet tests share: the hosts, their endpoints as clients see them, and ansible runs as
the operator against the scenario's inventory."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from paddleocr_fleet.check import check_endpoints
from paddleocr_fleet.samples import load_samples

HOSTS = ["paddleocr-fleet-1", "paddleocr-fleet-2", "paddleocr-fleet-3"]
# paddleocr-fleet-2 serves behind its local proxy with TLS (self-signed) and basic auth.
ENDPOINTS = {
    "paddleocr-fleet-1": "http://127.0.0.1:18871",
    "paddleocr-fleet-2": "https://ocr:fleet-basic-auth-s3cret@127.0.0.1:18872",
    "paddleocr-fleet-3": "http://127.0.0.1:18873",
}
PROJECT = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", Path(__file__).parents[3]))
INVENTORY = Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent if "MOLECULE_INVENTORY_FILE" in os.environ else None


def ansible(command: str, *args: str) -> subprocess.CompletedProcess:
    """An ansible command as the operator, against the scenario's inventory."""
    assert INVENTORY, "run through `molecule verify` (MOLECULE_INVENTORY_FILE)"
    env = dict(os.environ, ANSIBLE_CONFIG=str(PROJECT / "ansible.cfg"), ANSIBLE_ROLES_PATH=str(PROJECT / "roles"),
               ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1")
    return subprocess.run([command, "-i", str(INVENTORY), *args], cwd=PROJECT, env=env,
                          capture_output=True, text=True, check=False)


def playbook(path: Path, *args: str) -> subprocess.CompletedProcess:
    return ansible("ansible-playbook", str(path), *args)


def recap(output: str) -> dict[str, dict[str, int]]:
    """PLAY RECAP counters per host."""
    counters = {}
    for line in output.split("PLAY RECAP", 1)[-1].splitlines():
        match = re.match(r"(\S+)\s+:\s+(ok=.*)", line.strip())
        if match:
            counters[match.group(1)] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", match.group(2))}
    return counters


def show(proc: subprocess.CompletedProcess) -> str:
    return proc.stdout[-6000:] + proc.stderr[-2000:]


def assert_fleet_reads_sample() -> None:
    results = check_endpoints(list(ENDPOINTS.values()), load_samples(), timeout=120, verify=False)
    for result in results:
        print(f"  {result.endpoint}: ok={result.ok} {result.latency_ms} ms {result.texts} {result.error}")
    assert all(result.ok for result in results), results
