"""site.yml and the rolling update run one release sequence (playbooks/tasks/release_sequence.yml): the tasks
ansible-playbook would run on an OCR host, role by role, are the same and in the same order in both."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from support import PROJECT_ROOT

RELEASE_STEPS = ["Record the verified release", "Prune the models no release uses any more"]


def listed_tasks(playbook: str, play: str, inventory: Path) -> list[str]:
    """The task lines `--list-tasks` prints for the named play."""
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_INVENTORY_UNPARSED_WARNING="0")
    result = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory),
                             "--list-tasks", str(PROJECT_ROOT / playbook)],
                            capture_output=True, text=True, env=env, check=True, cwd=PROJECT_ROOT)
    plays = re.split(r"\n\s*play #\d+ \(.*?\): ", result.stdout)
    [tasks] = [text for text in plays if text.startswith(play)]
    return [line.split("\t")[0].strip() for line in tasks.splitlines()[2:] if line.strip()]


def role_tasks(tasks: list[str]) -> list[str]:
    """The role tasks and the release steps, in order, from the first model task to the pruning."""
    start = next(index for index, task in enumerate(tasks) if task.startswith("paddleocr_models : "))
    end = tasks.index(RELEASE_STEPS[-1])
    return [task for task in tasks[start:end + 1] if " : " in task or task in RELEASE_STEPS]


def test_site_and_the_rolling_update_run_the_same_release_sequence(tmp_path: Path):
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("paddleocr_hosts:\n  hosts:\n    ocr-1:\n")
    site = role_tasks(listed_tasks("playbooks/ocr_hosts.yml", "Deploy PaddleOCR HubServing", inventory))
    rollout = role_tasks(listed_tasks("playbooks/rolling_update.yml", "Roll the release out", inventory))
    assert site == rollout
    roles = list(dict.fromkeys(task.split(" : ")[0] for task in site if " : " in task))
    assert roles == ["paddleocr_models", "gpu_matrix", "paddleocr_image", "paddleocr_service", "paddleocr_proxy",
                     "paddleocr_verify"]
    assert site[-2:] == RELEASE_STEPS
