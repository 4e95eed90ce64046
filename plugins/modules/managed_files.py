"""Ansible module paddleocr.fleet.managed_files: the documentation and argument spec of the action plugin of the same
name (plugins/action/managed_files.py), which does the work on the controller."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: managed_files
short_description: Render a role's files, compare them with the host's in one look, write only those that differ
description:
  - Check before act with one source of truth. The files are rendered (O(files[].template)) or read
    (O(files[].copy)) on the controller once; one M(paddleocr.fleet.path_info) call reads the host's copies and
    directories; only the paths whose content, mode, owner or group differ are written, each as
    M(ansible.builtin.copy) (files) or M(ansible.builtin.file) (directories) would. An idempotent run therefore
    costs one call over the connection, whatever the number of files.
  - The task reports C(changed) when anything was written, so a C(notify:) on it restarts what reads the files;
    files that need different handlers go in different tasks.
  - Directories are written before files. A directory given as a link to another directory is followed.
  - Runs as an action plugin; this module only documents it.
options:
  directories:
    description: Directories that must exist, as paths (mode 0755) or dictionaries with C(path) and C(mode).
    type: list
    elements: raw
    default: []
  files:
    description: Files to manage.
    type: list
    elements: dict
    default: []
    suboptions:
      dest:
        description: Absolute path on the host.
        type: path
        required: true
      template:
        description: A template of the role (its templates/), rendered as M(ansible.builtin.template) renders it.
        type: str
      copy:
        description: A file of the role (its files/), copied byte for byte.
        type: str
      mode:
        description: The file's mode, octal (C("0644"); an unquoted 0644 is read as octal too).
        type: raw
        default: "0644"
      vars:
        description: Variables for this template only (as a task's C(vars:) would give them).
        type: dict
  owner:
    description: Owner of every path.
    type: str
    default: root
  group:
    description: Group of every path.
    type: str
    default: root
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    platforms: posix
author: paddleocr-fleet maintainers
"""

EXAMPLES = r"""
- name: Write the configuration and the unit the containers run with
  paddleocr.fleet.managed_files:
    files:
      - {dest: /etc/paddleocr/config.json, template: config.json.j2}
      - {dest: /etc/systemd/system/paddleocr@.service, template: paddleocr.service.j2,
         vars: {_paddleocr_service_templated: true}}
  notify: Restart the OCR containers
"""

RETURN = r"""
drift:
  description: What differed, one sentence per difference (empty when nothing did).
  returned: always
  type: list
  elements: str
written:
  description: The paths written.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

ARGUMENT_SPEC = {
    "directories": {"type": "list", "elements": "raw", "default": []},
    "files": {"type": "list", "elements": "dict", "default": [], "options": {
        "dest": {"type": "path", "required": True},
        "template": {"type": "str"},
        "copy": {"type": "str"},
        "mode": {"type": "raw", "default": "0644"},
        "vars": {"type": "dict"},
    }, "mutually_exclusive": [["template", "copy"]], "required_one_of": [["template", "copy"]]},
    "owner": {"type": "str", "default": "root"},
    "group": {"type": "str", "default": "root"},
}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    module.fail_json(msg="paddleocr.fleet.managed_files runs as an action plugin on the controller")


if __name__ == "__main__":
    main()
