"""daemon.json's one merge rule (plugins/filter/docker_daemon.py): unit tests of the
filter, then the file as ansible renders it through docker_engine and nvidia_container_toolkit together."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from support import PROJECT_ROOT

_spec = importlib.util.spec_from_file_location(
    "docker_daemon", PROJECT_ROOT / "plugins" / "filter" / "docker_daemon.py")
docker_daemon = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(docker_daemon)
merge = docker_daemon.docker_daemon_merge

LOG = {"log-driver": "json-file", "log-opts": {"max-size": "50m", "max-file": "3"}}
NVIDIA = {"runtimes": {"nvidia": {"path": "nvidia-container-runtime", "args": []}}}


def test_existing_settings_survive_and_dicts_merge_recursively():
    existing = json.dumps({"data-root": "/srv/docker", "log-opts": {"labels": "app"}, **NVIDIA})
    result = merge(existing, LOG)
    assert result["data-root"] == "/srv/docker"
    assert result["log-opts"] == {"labels": "app", "max-size": "50m", "max-file": "3"}
    assert result["runtimes"] == NVIDIA["runtimes"]


def test_layers_apply_in_order_and_lists_replace():
    result = merge({"registry-mirrors": ["http://a"]}, {"registry-mirrors": ["http://b"]}, {"debug": True})
    assert result == {"registry-mirrors": ["http://b"], "debug": True}
    assert merge({}, [LOG, {"log-opts": {"max-size": "10m"}}])["log-opts"] == {"max-size": "10m", "max-file": "3"}


def test_null_removes_a_key():
    result = merge({"default-runtime": "nvidia", **NVIDIA}, {"default-runtime": None, "nothing-here": None})
    assert result == NVIDIA


def test_merging_again_changes_nothing():
    once = merge("", LOG, NVIDIA)
    assert merge(once, LOG) == once
    assert merge(once, NVIDIA) == once
    assert docker_daemon.docker_daemon_json(merge(once, LOG)) == docker_daemon.docker_daemon_json(once)


def test_the_input_is_not_modified():
    existing = {"log-opts": {"max-size": "1m"}}
    merge(existing, LOG)
    assert existing == {"log-opts": {"max-size": "1m"}}


@pytest.mark.parametrize("text", ["", "  \n", None])
def test_empty_or_missing_file_is_an_empty_object(text):
    assert merge(text, LOG) == LOG


@pytest.mark.parametrize(("text", "says"), [("{broken", "not valid JSON"), ("[1, 2]", "JSON list, not an object")])
def test_a_broken_file_is_refused_not_clobbered(text, says):
    with pytest.raises(docker_daemon.DaemonJsonError, match=says):
        merge(text, LOG)


def test_rendered_text_is_stable():
    text = docker_daemon.docker_daemon_json({"b": 1, "a": {"d": 2, "c": 3}})
    assert text == '{\n  "a": {\n    "c": 3,\n    "d": 2\n  },\n  "b": 1\n}\n'


# --- the rendered file, through the roles' own tasks ------------------------------------------------

def run_play(tmp_path: Path, path: Path, extra: dict) -> subprocess.CompletedProcess:
    """docker_engine's daemon.json, then the toolkit's runtime merge, then docker_engine's again, as in
    gpu_stack.yml followed by ocr_hosts.yml; docker is never restarted (restart_on_change false)."""
    play = tmp_path / "play.yml"
    play.write_text(f"""
- hosts: localhost
  connection: local
  gather_facts: true
  gather_subset: [min]
  vars:
    docker_engine_daemon_json_path: {path}
    nvidia_container_toolkit_docker_daemon_json_path: {path}
    docker_engine_restart_on_change: false
  tasks:
    - ansible.builtin.include_role: {{name: docker_engine, tasks_from: daemon_json}}
    - ansible.builtin.include_role: {{name: nvidia_container_toolkit, tasks_from: runtime}}
    - ansible.builtin.include_role: {{name: docker_engine, tasks_from: daemon_json}}
""")
    env = dict(os.environ, ANSIBLE_ROLES_PATH=str(PROJECT_ROOT / "roles"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0")
    return subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", str(play),
                           "-e", json.dumps({"ansible_python_interpreter": sys.executable, **extra})],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=180, check=False)


@pytest.mark.skipif(os.geteuid() != 0, reason="the roles write daemon.json owned by root")
def test_engine_and_toolkit_together_keep_log_opts_runtimes_and_foreign_keys(tmp_path):
    path = tmp_path / "etc-docker" / "daemon.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"data-root": "/srv/docker"}))  # written by hand before: must survive
    first = run_play(tmp_path, path, {"docker_engine_daemon_options_extra": {"live-restore": True}})
    assert first.returncode == 0, first.stdout[-3000:]
    daemon = json.loads(path.read_text())
    assert daemon == {"data-root": "/srv/docker", "live-restore": True, **LOG, **NVIDIA}
    again = run_play(tmp_path, path, {"docker_engine_daemon_options_extra": {"live-restore": True}})
    assert again.returncode == 0, again.stdout[-3000:]
    assert "changed=0" in again.stdout
    assert json.loads(path.read_text()) == daemon


@pytest.mark.skipif(os.geteuid() != 0, reason="the roles write daemon.json owned by root")
def test_default_runtime_is_set_and_removed_again_but_a_foreign_default_stays(tmp_path):
    path = tmp_path / "daemon.json"
    on = run_play(tmp_path, path, {"nvidia_container_toolkit_default_runtime": True})
    assert on.returncode == 0, on.stdout[-3000:]
    assert json.loads(path.read_text())["default-runtime"] == "nvidia"
    off = run_play(tmp_path, path, {"nvidia_container_toolkit_default_runtime": False})
    assert off.returncode == 0, off.stdout[-3000:]
    assert "default-runtime" not in json.loads(path.read_text())
    path.write_text(json.dumps({"default-runtime": "crun"}))
    foreign = run_play(tmp_path, path, {})
    assert foreign.returncode == 0, foreign.stdout[-3000:]
    assert json.loads(path.read_text())["default-runtime"] == "crun"


@pytest.mark.skipif(os.geteuid() != 0, reason="the roles write daemon.json owned by root")
def test_merge_off_replaces_the_file(tmp_path):
    path = tmp_path / "daemon.json"
    path.write_text(json.dumps({"data-root": "/srv/docker"}))
    result = run_play(tmp_path, path, {"docker_engine_daemon_json_merge": False})
    assert result.returncode == 0, result.stdout[-3000:]
    assert "data-root" not in json.loads(path.read_text())
