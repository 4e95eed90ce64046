"""The service's generated files for the profiles this machine cannot run (GPU): rendered by ansible
itself from the role's defaults and templates, then checked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from support import PROJECT_ROOT

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
    - ansible.builtin.template: {{src: {ROLE}/templates/instance.env.j2, dest: "{tmp_path}/instance-{{{{ item }}}}.env"}}
      loop: "{{{{ range(paddleocr_service_instances | int) | list }}}}"
    - ansible.builtin.template: {{src: {ROLE}/templates/config.json.j2, dest: {tmp_path}/config.json}}
    - ansible.builtin.template: {{src: {ROLE}/templates/instances.json.j2, dest: {tmp_path}/instances.json}}
""")
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
               ANSIBLE_COLLECTIONS_PATH=str(PROJECT_ROOT / ".collections"))
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
    assert config["labels"] == {"image": "paddleocr-fleet/hubserving:0123456789ab", "model_set": "ppocrv4-mobile",
                                "models_version": "a-b-c"}


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
    gate = ("ExecStartPost=/usr/local/sbin/paddleocr-ready --probe /usr/local/share/paddleocr/probe.png"
            " --expect-file /usr/local/share/paddleocr/probe.regex")
    assert f"{gate} http://{probe}:8866/\n" in files["single.service"]
    assert f"{gate} http://127.0.0.1:${{PADDLEOCR_PORT}}/\n" in files["template.service"]
    assert "TimeoutStartSec=300" in files["single.service"]


def driver_fact(*gpus: list[str]) -> dict:
    """ansible_local.nvidia_driver as the driver role writes it: one entry per GPU, MIG UUIDs under it."""
    return {"ansible_local": {"nvidia_driver": {"devices": [
        {"index": n, "name": "NVIDIA H100 80GB HBM3", "uuid": f"GPU-{n:08x}-0000-0000-0000-000000000000",
         "mig": [{"index": m, "name": "1g.10gb", "uuid": uuid} for m, uuid in enumerate(migs)]}
        for n, migs in enumerate(gpus)]}}}


def instance_gpus(files: dict[str, str]) -> list[str]:
    envs = sorted((name for name in files if name.startswith("instance-")), key=lambda n: int(n[9:-4]))
    return [files[name].splitlines()[2].removeprefix("PADDLEOCR_GPUS=device=") for name in envs]


def test_gpu_profile_on_an_8_gpu_host_serves_from_every_gpu_by_uuid(tmp_path):
    files = render(tmp_path, {"paddleocr_profile": "gpu", **driver_fact(*[[]] * 8)})
    assert instance_gpus(files) == [f"GPU-{n:08x}-0000-0000-0000-000000000000" for n in range(8)]
    assert files["instance-7.env"].splitlines()[1] == "PADDLEOCR_PORT=8874"


def test_gpu_profile_with_mig_devices_runs_one_instance_per_mig_device(tmp_path):
    files = render(tmp_path, {"paddleocr_profile": "gpu", **driver_fact(["MIG-aaaa", "MIG-bbbb"], [])})
    assert instance_gpus(files) == ["MIG-aaaa", "MIG-bbbb", "GPU-00000001-0000-0000-0000-000000000000"]


def test_gpu_profile_with_two_instances_per_gpu(tmp_path):
    files = render(tmp_path, {"paddleocr_profile": "gpu", "paddleocr_service_instances_per_gpu": 2, **driver_fact([], [])})
    gpu0, gpu1 = (f"GPU-{n:08x}-0000-0000-0000-000000000000" for n in range(2))
    assert instance_gpus(files) == [gpu0, gpu0, gpu1, gpu1]
    layout = json.loads(files["instances.json"])["instances"]
    assert [(i["unit"], i["container"], i["url"], i["gpu"]) for i in layout] == [
        (f"paddleocr@{n}", f"paddleocr-{n}", f"http://127.0.0.1:{8867 + n}/", gpu) for n, gpu in enumerate([gpu0, gpu0, gpu1, gpu1])]


def test_cpu_single_instance_layout_record(tmp_path):
    layout = json.loads(render(tmp_path, {"paddleocr_service_bind_address": "10.0.0.5"})["instances.json"])
    assert layout == {"profile": "cpu", "instances": [
        {"unit": "paddleocr", "container": "paddleocr", "url": "http://10.0.0.5:8866/", "gpu": None}]}


def test_gpu_profile_without_a_driver_fact_serves_from_gpu_0(tmp_path):
    files = render(tmp_path, {"paddleocr_profile": "gpu"})
    assert "--gpus device=0" in files["single.service"]
    assert [n for n in files if n.startswith("instance-")] == ["instance-0.env"]


def test_settings_given_as_strings_reach_the_engine_as_numbers_and_flags(tmp_path):
    """`-e paddleocr_service_rec_batch_num=8` is the string "8": the engine crashed on it at every request."""
    config = json.loads(render(tmp_path, {"paddleocr_service_rec_batch_num": "8", "paddleocr_service_use_angle_cls": "false",
                                          "paddleocr_service_det_limit_side_len": "1280", "paddleocr_service_workers": "2"})[
        "config.json"])
    init = config["modules_info"]["ocr_system"]["init_args"]
    assert init["rec_batch_num"] == 8 and init["det_limit_side_len"] == 1280 and init["use_angle_cls"] is False
    assert config["workers"] == 2


def test_containers_are_hardened_by_default(tmp_path):
    files = render(tmp_path, {"ansible_facts": {"memtotal_mb": 16000}, "paddleocr_service_instances": 2,
                              "paddleocr_service_behind_proxy": True})
    for unit in ("single.service", "template.service"):
        text = files[unit]
        for flag in ("--cap-drop ALL", "--read-only", "--tmpfs /tmp:rw,nosuid,nodev,size=256m",
                     "--tmpfs /var/lib/paddleocr:rw,nosuid,nodev,size=256m,uid=10001,gid=10001",
                     "--pids-limit 1024", "--security-opt no-new-privileges"):
            assert flag in text, (unit, flag)
        # 80 % of the host's memory shared by the two instances.
        assert "--memory 6400m" in text, unit


def test_access_settings_put_a_single_instance_behind_the_proxy(tmp_path):
    files = render(tmp_path, {"paddleocr_proxy_allowed_cidrs": ["10.0.0.0/8"]})
    layout = json.loads(files["instances.json"])
    assert [instance["unit"] for instance in layout["instances"]] == ["paddleocr@0"]
