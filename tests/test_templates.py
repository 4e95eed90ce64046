"""The service's generated files for the profiles this machine cannot run (GPU): rendered by ansible
itself from the role's defaults and templates, then checked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from paddleocr_fleet import PROJECT_ROOT

ROLE = PROJECT_ROOT / "roles" / "paddleocr_service"


def render(tmp_path: Path, extra: dict) -> dict[str, str]:
    play = tmp_path / "render.yml"
    play.write_text(f"""
- hosts: localhost
  connection: local
  gather_facts: false
  vars_files: [{ROLE}/defaults/main.yml, {ROLE}/vars/main.yml]
  vars:
    paddleocr_image_ref: paddleocr-fleet/hubserving:0123456789ab
    paddleocr_models_active: {{set: ppocrv4-mobile, ocr_version: PP-OCRv4, lang: ch, dict: ppocr_keys_v1.txt,
      det: current/det, cls: current/cls, rec: current/rec, version: a-b-c}}
  tasks:
    - ansible.builtin.template: {{src: {ROLE}/templates/paddleocr.service.j2, dest: {tmp_path}/single.service}}
    - ansible.builtin.template: {{src: {ROLE}/templates/paddleocr.service.j2, dest: {tmp_path}/template.service}}
      vars: {{_paddleocr_service_templated: true}}
    - ansible.builtin.template: {{src: {ROLE}/templates/instance.env.j2, dest: {tmp_path}/instance-0.env}}
      vars: {{item: 0}}
    - ansible.builtin.template: {{src: {ROLE}/templates/config.json.j2, dest: {tmp_path}/config.json}}
""")
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0")
    result = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", str(play),
                             "-e", json.dumps({"ansible_python_interpreter": sys.executable, **extra})],
                            capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 0, result.stdout[-3000:]
    return {p.name: p.read_text() for p in tmp_path.iterdir() if p.suffix in (".service", ".env", ".json")}


def test_cpu_single_instance_publishes_the_api_port_without_gpus(tmp_path):
    files = render(tmp_path, {"paddleocr_profile": "cpu"})
    assert "--publish 0.0.0.0:8866:8866" in files["single.service"]
    assert "--gpus" not in files["single.service"]
    config = json.loads(files["config.json"])
    init = config["modules_info"]["ocr_system"]["init_args"]
    assert init["use_gpu"] is False and init["enable_mkldnn"] is True
    assert init["det_model_dir"] == "/models/current/det" and init["models_version"] == "a-b-c"
    assert config["workers"] == 1 and config["use_gpu"] is False


@pytest.mark.parametrize("gpus", [[0], [2, 3]])
def test_gpu_profile_without_a_gpu_here_renders_one_container_per_gpu(tmp_path, gpus):
    files = render(tmp_path, {"paddleocr_profile": "gpu", "paddleocr_service_gpu_ids": gpus})
    assert f"--gpus device={gpus[0]}" in files["single.service"]
    assert "--gpus ${PADDLEOCR_GPUS}" in files["template.service"]
    assert "--publish 127.0.0.1:${PADDLEOCR_PORT}:8866" in files["template.service"]
    assert "--name paddleocr-%i" in files["template.service"]
    assert files["instance-0.env"].splitlines()[1:] == ["PADDLEOCR_PORT=8867", f"PADDLEOCR_GPUS=device={gpus[0]}"]
    config = json.loads(files["config.json"])
    init = config["modules_info"]["ocr_system"]["init_args"]
    assert init["use_gpu"] is True and init["enable_mkldnn"] is False and init["gpu_id"] == 0
    assert config["workers"] == 1


@pytest.mark.parametrize(("bind", "probe"), [("0.0.0.0", "127.0.0.1"), ("10.0.0.5", "10.0.0.5"), ("::", "[::1]")])
def test_units_are_started_only_once_the_api_answers_at_the_bound_address(tmp_path, bind, probe):
    files = render(tmp_path, {"paddleocr_service_bind_address": bind})
    assert f"ExecStartPost=/usr/local/sbin/paddleocr-ready http://{probe}:8866/\n" in files["single.service"]
    assert "ExecStartPost=/usr/local/sbin/paddleocr-ready http://127.0.0.1:${PADDLEOCR_PORT}/\n" in files["template.service"]
    assert "TimeoutStartSec=300" in files["single.service"]
