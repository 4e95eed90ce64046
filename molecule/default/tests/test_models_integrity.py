"""A tampered model archive is rejected by a real converge of site.yml, and the host keeps
serving the installed set without a restart."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from paddleocr_fleet import CATALOG_PATH
from paddleocr_fleet.check import check_endpoint
from paddleocr_fleet.samples import load_samples
from support import PROJECT_ROOT
from support.mirror_standin import default_cache
from support.testing import corrupt_copy, docker0_address, running_mirror

URL = os.environ.get("PADDLEOCR_TEST_URL", "http://127.0.0.1:18867")
SERVED = "ppocrv6-small"  # the default set the converge installed


def started_at(host) -> str:
    return host.check_output("docker inspect --format '{{.State.StartedAt}}' paddleocr")


def test_tampered_archive_fails_the_converge_and_the_old_set_keeps_serving(host, tmp_path):
    mirror = default_cache() / "mirror"
    catalog = yaml.safe_load(CATALOG_PATH.read_text())
    det = catalog["sets"][SERVED]["models"]["det"]
    corrupt_copy(mirror / "models" / det["source"] / det["path"], tmp_path / "models" / "tampered" / det["path"])
    lock = yaml.safe_load((mirror / "models.lock.yml").read_text())["archives"]
    # What the archive should be; the mirror serves other bytes.
    lock[f"tampered/{det['path']}"] = lock[f"{det['source']}/{det['path']}"]
    (tmp_path / "lock.yml").write_text(yaml.safe_dump({"archives": lock}))
    tampered_set = json.loads(json.dumps(catalog["sets"][SERVED]))
    tampered_set["models"]["det"]["source"] = "tampered"
    catalog["sets"]["tampered"] = tampered_set
    before = started_at(host)

    with running_mirror(tmp_path / "models", docker0_address(), 8913) as url:
        catalog["sources"]["tampered"] = f"{url}/tampered/"
        (tmp_path / "catalog.yml").write_text(yaml.safe_dump(catalog))
        overrides = {
            "paddleocr_models_catalog_file": str(tmp_path / "catalog.yml"),
            "paddleocr_models_lock_file": str(tmp_path / "lock.yml"),
            "paddleocr_models_controller_cache": str(tmp_path / "controller-cache"),
            "paddleocr_model_sets": [SERVED, "tampered"],
            "paddleocr_model_set_active": "tampered",
        }
        inventory = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "inventory"
        result = subprocess.run(
            [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory), "paddleocr.fleet.site",
             "-e", json.dumps(overrides)],
            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=900, check=False,
            env=dict(os.environ, ANSIBLE_CONFIG=str(PROJECT_ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1"),
        )

    assert result.returncode != 0
    assert "did not match" in result.stdout, result.stdout[-3000:]
    assert host.check_output("readlink /opt/paddleocr/models/current") == SERVED
    assert started_at(host) == before, "the service must not be restarted onto unverified models"
    answer = check_endpoint(URL, load_samples(), timeout=120)
    assert answer.ok, answer.error
