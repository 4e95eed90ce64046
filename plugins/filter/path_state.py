"""How a host's paths differ from what a role would leave there: the check half of check-before-act.

``facts`` below is the ``paths`` result of the paddleocr.fleet.path_info module (one call for many paths).

``path | paddleocr.fleet.path_fact(facts)``: the facts of one path, given to the module or an entry of a directory
given to it (``{"exists": false}`` when absent).

``facts | paddleocr.fleet.path_drift(expected)``: ``expected`` maps each path (as path_fact finds it) to the facts
it must have: any of type, mode, owner, group, target, checksum, and entries (the exact list of a directory's entry
names). The result lists every difference as a sentence
(``/etc/paddleocr/release/config.json: checksum 3a2f... (want 9bc1...)``); empty means the role has nothing to do
there. A wanted checksum that is empty (an archive without a recorded one) is always a difference.

``path | paddleocr.fleet.controller_sha256``: the sha256 of a file on the controller (a role's own file, binary
ones too), to compare with the copy path_info found on the host.
"""

from __future__ import annotations

import hashlib
import posixpath

from ansible.errors import AnsibleFilterError

_COMPARED = ("type", "mode", "owner", "group", "target", "checksum")


def _normalised(facts: dict) -> dict:
    return {posixpath.normpath(key): value for key, value in facts.items()}


def _fact(path: str, given: dict) -> dict:
    wanted = posixpath.normpath(path)
    if wanted in given:
        return given[wanted]
    parent, name = posixpath.split(wanted)
    if parent not in given:
        raise AnsibleFilterError(f"path_fact: {path} was not looked at (give it or its directory to path_info)")
    return given[parent].get("entries", {}).get(name, {"exists": False})


def path_fact(path: str, facts: dict) -> dict:
    """The facts of ``path``: a path given to path_info, or an entry of a directory given to it (paths compared
    normalised: ``/etc/paddleocr/`` and ``/etc/paddleocr//config.json`` find theirs)."""
    return _fact(path, _normalised(facts))


def path_drift(facts: dict, expected: dict) -> list[str]:
    """Every difference between ``facts`` and ``expected``, one sentence each; [] when they agree."""
    given = _normalised(facts)
    drift = []
    for path, want in expected.items():
        have = _fact(path, given)
        if not have.get("exists"):
            drift.append(f"{path}: missing")
            continue
        for key in _COMPARED:
            if key in want and (not want[key] or have.get(key) != want[key]):
                drift.append(f"{path}: {key} {have.get(key, 'none')} (want {want[key] or 'a recorded one'})")
        if "entries" in want:
            present, wanted = set(have.get("entries", {})), set(want["entries"])
            drift.extend(f"{path}: unexpected entry {name}" for name in sorted(present - wanted))
            drift.extend(f"{path}: missing entry {name}" for name in sorted(wanted - present))
    return drift


def controller_sha256(path: str) -> str:
    """The sha256 of a file on the controller."""
    try:
        with open(path, "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()
    except OSError as exc:
        raise AnsibleFilterError(f"controller_sha256: cannot read {path}: {exc.strerror}") from exc


class FilterModule:
    """Ansible filters: path_fact, path_drift, controller_sha256."""

    def filters(self):
        return {"path_fact": path_fact, "path_drift": path_drift, "controller_sha256": controller_sha256}
