"""Ansible module paddleocr.fleet.path_info: what many paths are, in one call."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: path_info
short_description: Type, mode, owner, link target and checksum of many paths in one call
description:
  - Reads the paths, and one level into each directory, so that a role can check a whole installed state in one
    task (check before act) instead of one M(ansible.builtin.stat) per path.
  - Reads only.
options:
  paths:
    description: Absolute paths to look at. A directory's entries are read too (one level, not recursive).
    type: list
    elements: path
    required: true
  checksum:
    description: Add the sha256 of every regular file, the paths' and their directories' entries.
    type: bool
    default: false
  follow:
    description:
      - A path given that is a link to a directory is described as that directory, entries included (a models
        root or configuration directory moved to another disk). Links to anything else, and the entries of
        directories, are always described as links.
    type: bool
    default: false
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: posix
author: paddleocr-fleet maintainers
"""

EXAMPLES = r"""
- name: Look at the downloads and the models root's entries (current among them) at once
  paddleocr.fleet.path_info:
    paths: [/opt/paddleocr/models, /opt/paddleocr/models/.downloads]
    checksum: true
    follow: true
  register: _installed
"""

RETURN = r"""
paths:
  description: >-
    Per path given: exists (bool); and when it exists type (file, directory, link or other), mode (octal string
    such as 0644), owner and group (names, or the numeric ids when they have none), target (links: the link as
    written), checksum (regular files, with checksum=true) and entries (directories: the same facts per entry
    name, without entries of their own). A path that vanishes while it is read is reported as not existing.
  returned: always
  type: dict
"""

import grp
import hashlib
import os
import pwd
import stat

from ansible.module_utils.basic import AnsibleModule


def _name(lookup, ident: int) -> str:
    try:
        return lookup(ident)[0]
    except KeyError:
        return str(ident)


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def describe(path: str, checksum: bool, entries: bool = True, follow: bool = False) -> dict:
    """The facts of one path: a link is described, not followed, unless follow and it leads to a directory."""
    try:
        info = os.lstat(path)
        if follow and stat.S_ISLNK(info.st_mode) and os.path.isdir(path):
            info = os.stat(path)
        kind = ("link" if stat.S_ISLNK(info.st_mode) else "directory" if stat.S_ISDIR(info.st_mode)
                else "file" if stat.S_ISREG(info.st_mode) else "other")
        facts = {"exists": True, "type": kind, "mode": f"{stat.S_IMODE(info.st_mode):04o}",
                 "owner": _name(pwd.getpwuid, info.st_uid), "group": _name(grp.getgrgid, info.st_gid)}
        if kind == "link":
            facts["target"] = os.readlink(path)
        elif kind == "file" and checksum:
            facts["checksum"] = _sha256(path)
        elif kind == "directory" and entries:
            facts["entries"] = {name: describe(os.path.join(path, name), checksum, entries=False)
                                for name in sorted(os.listdir(path))}
    except FileNotFoundError:
        return {"exists": False}
    return facts


def main() -> None:
    module = AnsibleModule(
        argument_spec={"paths": {"type": "list", "elements": "path", "required": True},
                       "checksum": {"type": "bool", "default": False},
                       "follow": {"type": "bool", "default": False}},
        supports_check_mode=True,
    )
    try:
        paths = {path: describe(path, module.params["checksum"], follow=module.params["follow"])
                 for path in module.params["paths"]}
    except OSError as exc:
        module.fail_json(msg=f"cannot read {exc.filename}: {exc.strerror}")
    module.exit_json(changed=False, paths=paths)


if __name__ == "__main__":
    main()
