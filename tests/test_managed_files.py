"""The managed_files action plugin, run for real by ansible-playbook on this machine: a role's files rendered once,
compared with the host's in one look, and only what differs written (content, mode), with the handler notified."""

from __future__ import annotations

import grp
import json
import os
import pwd
import subprocess
import sys
from pathlib import Path

import pytest

from support import PROJECT_ROOT

USER = pwd.getpwuid(os.getuid()).pw_name
GROUP = grp.getgrgid(os.getgid()).gr_name


@pytest.fixture
def role(tmp_path: Path) -> Path:
    role = tmp_path / "roles" / "managed"
    for sub in ("tasks", "templates", "files", "handlers"):
        (role / sub).mkdir(parents=True)
    (role / "templates" / "config.json.j2").write_text('{"greeting": "{{ greeting }}", "port": {{ port }}}\n')
    (role / "templates" / "instance.env.j2").write_text(
        "{# one per instance #}\nINSTANCE={{ item }}\n{% if item == 0 %}FIRST=true\n{% endif %}GREETING={{ greeting }}\n")
    (role / "files" / "probe.bin").write_bytes(bytes(range(256)))
    (role / "tasks" / "main.yml").write_text(f"""
- name: Write the files
  paddleocr.fleet.managed_files:
    owner: {USER}
    group: {GROUP}
    directories:
      - "{{{{ root }}}}/etc"
      - {{path: "{{{{ root }}}}/share", mode: "0750"}}
    files:
      - {{dest: "{{{{ root }}}}/etc/config.json", template: config.json.j2}}
      - {{dest: "{{{{ root }}}}/share/probe.bin", copy: probe.bin, mode: 0600}}  # unquoted: YAML's octal integer
      - {{dest: "{{{{ root }}}}/etc/instance-0.env", template: instance.env.j2, vars: {{item: 0}}}}
      - {{dest: "{{{{ root }}}}/etc/instance-1.env", template: instance.env.j2, vars: {{item: 1}}}}
  register: managed
  notify: Restart
- name: The template module's rendering, to compare with
  ansible.builtin.template: {{src: instance.env.j2, dest: "{{{{ root }}}}-reference-{{{{ item }}}}.env", mode: "0644"}}
  loop: [0, 1]
  check_mode: false
""")
    (role / "handlers" / "main.yml").write_text("""
- name: Restart
  ansible.builtin.debug: {msg: restarted}
""")
    return role


def play(role: Path, *args: str, **variables) -> dict:
    playbook = role.parent.parent / "play.yml"
    playbook.write_text(f"""
- hosts: localhost
  connection: local
  gather_facts: false
  roles: [{role}]
""")
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", ANSIBLE_LOCALHOST_WARNING="0",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="0", ANSIBLE_COLLECTIONS_PATH=str(PROJECT_ROOT / ".collections"))
    extra = {"ansible_python_interpreter": sys.executable, "root": str(role.parent.parent / "host"),
             "greeting": "hello", "port": 8866, **variables}
    result = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", str(playbook),
                             "-e", json.dumps(extra), *args], capture_output=True, text=True, env=env, check=False)
    report = json.loads(result.stdout)
    tasks = {task["task"]["name"].split(" : ")[-1]: task["hosts"]["localhost"] for task in report["plays"][0]["tasks"]}
    return {"rc": result.returncode, "tasks": tasks, "stats": report["stats"]["localhost"]}


def test_first_run_writes_every_file_as_the_template_module_would_and_notifies(role: Path):
    run = play(role)
    host = role.parent.parent / "host"
    assert run["rc"] == 0, run
    managed = run["tasks"]["Write the files"]
    assert managed["changed"] and sorted(managed["written"]) == sorted(
        str(host / p) for p in ("etc", "share", "etc/config.json", "share/probe.bin", "etc/instance-0.env",
                                "etc/instance-1.env"))
    assert "Restart" in run["tasks"]
    assert (host / "etc" / "config.json").read_text() == '{"greeting": "hello", "port": 8866}\n'
    assert (host / "share" / "probe.bin").read_bytes() == bytes(range(256))
    for instance in (0, 1):
        assert (host / "etc" / f"instance-{instance}.env").read_bytes() == \
            (host.parent / f"host-reference-{instance}.env").read_bytes()
    assert oct((host / "share").stat().st_mode & 0o777) == "0o750"
    assert oct((host / "share" / "probe.bin").stat().st_mode & 0o777) == "0o600"


def test_second_run_writes_nothing_and_notifies_nothing(role: Path):
    assert play(role)["rc"] == 0
    run = play(role)
    managed = run["tasks"]["Write the files"]
    assert run["rc"] == 0 and not managed["changed"]
    assert managed["written"] == [] and managed["drift"] == []
    assert "Restart" not in run["tasks"]


def test_only_what_differs_is_written_again(role: Path):
    assert play(role)["rc"] == 0
    host = role.parent.parent / "host"
    (host / "etc" / "instance-1.env").write_text("INSTANCE=edited by hand\n")
    (host / "share" / "probe.bin").chmod(0o644)
    run = play(role)
    managed = run["tasks"]["Write the files"]
    assert sorted(managed["written"]) == [str(host / "etc" / "instance-1.env"), str(host / "share" / "probe.bin")]
    assert any("instance-1.env: checksum" in line for line in managed["drift"])
    assert any("probe.bin: mode 0644 (want 0600)" in line for line in managed["drift"])
    assert "Restart" in run["tasks"]
    assert (host / "etc" / "instance-1.env").read_bytes() == (host.parent / "host-reference-1.env").read_bytes()


def test_a_changed_variable_rewrites_the_template_that_uses_it(role: Path):
    assert play(role)["rc"] == 0
    run = play(role, greeting="bonjour")
    host = role.parent.parent / "host"
    assert run["tasks"]["Write the files"]["written"] == [
        str(host / "etc" / "config.json"), str(host / "etc" / "instance-0.env"), str(host / "etc" / "instance-1.env")]
    assert (host / "etc" / "config.json").read_text() == '{"greeting": "bonjour", "port": 8866}\n'


def test_check_mode_reports_the_change_and_writes_nothing(role: Path):
    run = play(role, "--check")
    assert run["rc"] == 0 and run["tasks"]["Write the files"]["changed"]
    assert not (role.parent.parent / "host").exists()


@pytest.mark.parametrize(("entry", "says"), [
    ('{dest: "relative/config.json", template: config.json.j2}', "dest must be an absolute path"),
    ('{dest: "/x/config.json", template: config.json.j2, copy: probe.bin}', "mutually exclusive"),
    ('{dest: "/x/probe.bin", copy: probe.bin, vars: {a: 1}}', "vars go with a template only"),
    ('{dest: "/x/config.json", template: missing.j2}', "missing.j2"),
    ('{dest: "/x/config.json", template: config.json.j2, mode: "rw-r--r--"}', "mode must be octal"),
])
def test_bad_arguments_fail_before_anything_is_written(role: Path, entry: str, says: str):
    tasks = role / "tasks" / "main.yml"
    text = tasks.read_text()
    tasks.write_text(text.replace('      - {dest: "{{ root }}/etc/config.json", template: config.json.j2}',
                                  f"      - {entry}"))
    run = play(role)
    assert run["rc"] != 0 and says in run["tasks"]["Write the files"]["msg"]
    assert not (role.parent.parent / "host").exists()
