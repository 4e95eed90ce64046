"""Every role shows its contract the way Ansible users read it: `ansible-doc -t role paddleocr.fleet.<role>` lists every variable of
every entry point with a description, and each role's README (what it does, an example, its variables) agrees
with meta/argument_specs.yml."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from paddleocr_fleet.roledocs import rendered, roles_in
from support import PROJECT_ROOT

ROLES = roles_in(PROJECT_ROOT / "roles")
ANSIBLE_DOC = Path(sys.executable).parent / "ansible-doc"


@pytest.fixture(scope="module")
def docs(tmp_path_factory) -> dict:
    """ansible-doc's view of every role of the collection as users install it: built from galaxy.yml, installed
    into a fresh collections path, each role asked for by its fully-qualified name."""
    work = tmp_path_factory.mktemp("collection")
    galaxy = Path(sys.executable).parent / "ansible-galaxy"
    subprocess.run([str(galaxy), "collection", "build", "--output-path", str(work), str(PROJECT_ROOT)],
                   capture_output=True, text=True, check=True, timeout=120)
    tarball = next(work.glob("paddleocr-fleet-*.tar.gz"))
    subprocess.run([str(galaxy), "collection", "install", "--no-deps", "--force", "-p", str(work / "collections"), str(tarball)],
                   capture_output=True, text=True, check=True, timeout=120)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(work / "collections"), ANSIBLE_ROLES_PATH=str(work / "none"))
    run = subprocess.run([str(ANSIBLE_DOC), "-t", "role", "-j", *(f"paddleocr.fleet.{role.name}" for role in ROLES)],
                         capture_output=True, text=True, check=True, timeout=120, env=env, cwd=work)
    found = json.loads(run.stdout)
    assert found, run.stderr[-3000:]
    return {name.removeprefix("paddleocr.fleet."): role_docs for name, role_docs in found.items()}


def options_of(role_docs: dict) -> dict:
    return {name: option for entry in role_docs["entry_points"].values()
            for name, option in (entry.get("options") or {}).items()}


@pytest.mark.parametrize("role", ROLES, ids=[role.name for role in ROLES])
def test_ansible_doc_shows_every_variable_of_the_role_with_a_description(docs, role):
    role_docs = docs[role.name]
    assert all(entry.get("short_description") for entry in role_docs["entry_points"].values())
    options = options_of(role_docs)
    defaults_file = role / "defaults" / "main.yml"
    defaults = yaml.safe_load(defaults_file.read_text()) or {} if defaults_file.exists() else {}
    public = {name for name in defaults if not name.startswith("_")}
    assert public - set(options) == set(), f"set in defaults/main.yml, missing from argument_specs: {public - set(options)}"
    assert [name for name, option in options.items() if not option.get("description")] == []


@pytest.mark.parametrize("role", ROLES, ids=[role.name for role in ROLES])
def test_the_roles_readme_lists_its_variables_as_argument_specs_has_them(role):
    current, wanted = rendered(role)
    assert current == wanted, f"{role.name}/README.md is out of date: run make role-docs"


@pytest.mark.parametrize("role", ROLES, ids=[role.name for role in ROLES])
def test_the_readmes_example_uses_only_the_roles_variables(docs, role):
    text = (role / "README.md").read_text()
    [example] = re.findall(r"## Example\n\n```yaml\n(.*?)```", text, re.DOTALL)
    plays = yaml.safe_load(example)
    used = {name for play in plays for entry in play.get("roles", []) if entry["role"] == role.name
            for name in (entry.get("vars") or {})}
    assert any(entry["role"] == role.name for play in plays for entry in play.get("roles", []))
    assert used - set(options_of(docs[role.name])) == set()
