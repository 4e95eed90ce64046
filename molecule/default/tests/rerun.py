"""Re-runs of a playbook on the converged sandbox host, from the installed collection, as the switch tests do."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from support import PROJECT_ROOT

SITE = "paddleocr.fleet.site"


def converge(extra_vars: dict, playbook: str = SITE) -> subprocess.CompletedProcess:
    inventory = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "inventory"
    return subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "-i",
            str(inventory),
            playbook,
            "-e",
            json.dumps(extra_vars),
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
        env=dict(os.environ, ANSIBLE_CONFIG=str(PROJECT_ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1"),
    )


def changes(run: subprocess.CompletedProcess) -> int:
    return sum(int(count) for count in re.findall(r"changed=(\d+)", run.stdout.split("PLAY RECAP")[-1]))
