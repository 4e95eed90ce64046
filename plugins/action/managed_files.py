"""Action plugin paddleocr.fleet.managed_files: a role's files rendered once, compared with the host's in one look,
and only those that differ written (the documentation is in plugins/modules/managed_files.py)."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from typing import Any

from ansible import constants as C
from ansible._internal._templating import _template_vars
from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.module_utils.common.text.converters import to_bytes
from ansible.plugins.action import ActionBase
from ansible.template import trust_as_template
from ansible_collections.paddleocr.fleet.plugins.filter.path_state import path_drift
from ansible_collections.paddleocr.fleet.plugins.modules.managed_files import ARGUMENT_SPEC


def _mode(path: str, mode: object) -> str:
    """An octal mode as path_info reports it (0644); an unquoted YAML 0644 arrives as the integer 420."""
    if isinstance(mode, int) and not isinstance(mode, bool):
        return f"{mode:04o}"
    if isinstance(mode, str) and re.fullmatch(r"0?[0-7]{3}", mode):
        return f"{int(mode, 8):04o}"
    raise AnsibleActionFail(f"managed_files: {path}: mode must be octal such as \"0644\", got {mode!r}")


def _directories(entries: list) -> list[dict]:
    directories = []
    for entry in entries:
        entry = {"path": entry} if isinstance(entry, str) else dict(entry)
        if set(entry) - {"path", "mode"} or not str(entry.get("path", "")).startswith("/"):
            raise AnsibleActionFail(f"managed_files: a directory is an absolute path or {{path, mode}}, got {entry!r}")
        directories.append({"path": str(entry["path"]), "mode": _mode(str(entry["path"]), entry.get("mode", "0755"))})
    return directories


class ActionModule(ActionBase):
    """Render, look once, write what differs."""

    TRANSFERS_FILES = False  # the copy it runs for a file that differs makes its own temporary directory

    def _render(self, entry: dict, task_vars: dict) -> bytes:
        kind = "template" if entry["template"] else "files"
        try:
            source = self._find_needle("templates" if kind == "template" else "files", entry["template"] or entry["copy"])
        except AnsibleError as exc:
            raise AnsibleActionFail(f"managed_files: {entry['dest']}: {exc}") from exc
        if kind == "files":
            with open(source, "rb") as handle:
                return handle.read()
        searchpath = [*task_vars.get("ansible_search_path", []), self._loader.get_basedir(), os.path.dirname(source)]
        available = {**task_vars, **_template_vars.generate_ansible_template_vars(
            path=entry["template"], fullpath=source, dest_path=entry["dest"],
            include_ansible_managed="ansible_managed" not in task_vars), **(entry["vars"] or {})}
        templar = self._templar.copy_with_new_env(
            searchpath=[path for base in searchpath for path in (os.path.join(base, "templates"), base)],
            available_variables=available)
        rendered = templar.template(trust_as_template(self._loader.get_text_file_contents(source)),
                                    escape_backslashes=False, overrides={"trim_blocks": True, "lstrip_blocks": False,
                                                                      "newline_sequence": "\n"})
        return to_bytes(rendered or "", errors="surrogate_or_strict")

    def _run_sub_action(self, name: str, args: dict, task_vars: dict) -> dict:
        task = self._task.copy()
        task.args = args
        action = self._shared_loader_obj.action_loader.get(
            name, task=task, connection=self._connection, play_context=self._play_context, loader=self._loader,
            templar=self._templar, shared_loader_obj=self._shared_loader_obj)
        return action.run(task_vars=task_vars)

    def run(self, tmp: Any = None, task_vars: dict | None = None) -> dict:
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        _, args = self.validate_argument_spec(ARGUMENT_SPEC)
        directories, files, owner, group = _directories(args["directories"]), args["files"], args["owner"], args["group"]
        for entry in files:
            if not entry["dest"].startswith("/"):
                raise AnsibleActionFail(f"managed_files: {entry['dest']}: dest must be an absolute path")
            if entry["vars"] and not entry["template"]:
                raise AnsibleActionFail(f"managed_files: {entry['dest']}: vars go with a template only")
            entry["mode"] = _mode(entry["dest"], entry["mode"])
        content = {entry["dest"]: self._render(entry, task_vars) for entry in files}
        expected = {entry["path"]: {"type": "directory", "mode": entry["mode"], "owner": owner, "group": group}
                    for entry in directories}
        expected.update({entry["dest"]: {"type": "file", "mode": entry["mode"], "owner": owner, "group": group,
                                         "checksum": hashlib.sha256(content[entry["dest"]]).hexdigest()}
                         for entry in files})

        look = self._execute_module(module_name="paddleocr.fleet.path_info", task_vars=task_vars,
                                    module_args={"paths": list(expected), "checksum": True, "follow": True})
        if look.get("failed"):
            return {**result, **look}
        drift = {path: path_drift(look["paths"], {path: want}) for path, want in expected.items()}
        result.update(changed=False, drift=[line for lines in drift.values() for line in lines], written=[])
        diffs: list[dict] = []
        local_tmp = tempfile.mkdtemp(dir=C.DEFAULT_LOCAL_TMP)
        try:
            for entry in directories:
                if drift[entry["path"]]:
                    outcome = self._execute_module(
                        module_name="ansible.legacy.file", task_vars=task_vars,
                        module_args={"path": entry["path"], "state": "directory", "owner": owner, "group": group,
                                     "mode": entry["mode"]})
                    if self._record(result, entry["path"], outcome, diffs):
                        return result
            for entry in files:
                if drift[entry["dest"]]:
                    source = os.path.join(local_tmp, hashlib.sha256(to_bytes(entry["dest"])).hexdigest())
                    with open(source, "wb") as handle:
                        handle.write(content[entry["dest"]])
                    outcome = self._run_sub_action(
                        "ansible.legacy.copy",
                        {"src": source, "dest": entry["dest"], "owner": owner, "group": group, "mode": entry["mode"]},
                        task_vars)
                    if self._record(result, entry["dest"], outcome, diffs):
                        return result
        finally:
            shutil.rmtree(local_tmp, ignore_errors=True)
            self._remove_tmp_path(self._connection._shell.tmpdir)
        if diffs:
            result["diff"] = diffs
        return result

    @staticmethod
    def _record(result: dict, path: str, outcome: dict, diffs: list) -> bool:
        """Adds one write's outcome to the result; True when it failed (the task stops there)."""
        if outcome.get("failed"):
            result.update(failed=True, msg=f"{path}: {outcome.get('msg', 'write failed')}")
            return True
        if outcome.get("changed"):
            result["changed"] = True
            result["written"].append(path)
        diff = outcome.get("diff")
        diffs.extend(diff if isinstance(diff, list) else [diff] if diff else [])
        return False
