"""Ansible module paddleocr.fleet.async_job_watch: watch a background job for a while and say how far it has come."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: async_job_watch
short_description: Watch an async job for some seconds and report how far it has come
description:
  - The roles start their long steps (the image build, the model archive downloads) as async jobs (C(poll=0)) and
    wait for them with this module in an C(until=result.finished) loop. Each call watches the job for O(seconds)
    and returns as soon as the job has written its result, so that the end is seen within a second; otherwise it
    returns a progress report, which the callback C(paddleocr.fleet.progress) prints under the retry line.
  - The report names O(label), the seconds since the job started, and what grows while it runs, measured one of two
    ways. O(partial_files) and O(final_file) (a download) - the bytes of the newest partial file the job has written
    (else of the final file, once the job renamed it into place) against O(total_bytes), never less than an earlier
    call reported for the same job. O(used_space_of) (a build) - the growth of the used space of the file system
    holding that path since O(used_before_kb).
  - After the job has finished, M(ansible.builtin.async_status) collects its own result (its failure, its changed)
    and cleans its results file up; the note of the bytes reported (O(results_file) with C(.progress) appended) is
    removed by the caller then.
  - Reads only; in check mode it watches all the same.
options:
  results_file:
    description: The job's results file, as the async task registered it (C(results_file)).
    type: path
    required: true
  seconds:
    description: How long to watch a job that is still running before reporting.
    type: int
    default: 10
  label:
    description: What the report names (the archive, "image build").
    type: str
    required: true
  partial_files:
    description: A glob of the partial files the job writes (get_url's C(tmp*) in its C(tmp_dest)).
    type: str
  final_file:
    description: Where the job puts the file once complete.
    type: path
  total_bytes:
    description: The size the file will have; 0 when not known.
    type: int
    default: 0
  used_space_of:
    description: A path on the file system the job fills (the Docker engine's data root); empty reports time only.
    type: str
    default: ""
  used_before_kb:
    description: The used space of that file system before the job started, in kB (C(df -P -k)); empty reports time only.
    type: str
    default: ""
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
- name: Wait for the image build
  paddleocr.fleet.async_job_watch:
    results_file: "{{ _build_job.results_file }}"
    seconds: 10
    label: image build
    used_space_of: /var/lib/docker
    used_before_kb: "{{ _used_before.stdout }}"
  register: _build_watch
  until: _build_watch.finished
  retries: 400
  delay: 0
"""

RETURN = r"""
finished:
  description: Whether the job has written its result.
  returned: always
  type: bool
progress:
  description: >-
    While the job runs, the report, such as "det.tar: 1.2 of 3.0 MB, 4 s" (kB below 1 MB) or "image build: elapsed
    12 s, docker data +340 MB"; empty once finished.
  returned: always
  type: str
"""

import glob
import json
import os
import time

from ansible.module_utils.basic import AnsibleModule


def job_running(results_file: str) -> bool:
    """Ansible's async wrapper keeps a record with "started" in the results file until the job's own result
    replaces it (async_status reads it the same way)."""
    try:
        with open(results_file, encoding="utf-8") as handle:
            record = json.load(handle)
    except FileNotFoundError:
        return False
    except ValueError:
        return True  # being written
    return isinstance(record, dict) and "started" in record


def bytes_so_far(partial_files: str, final_file: str, started: float) -> int:
    """The newest partial file written since the job started, else the final file once it is there."""
    candidates = []
    for path in glob.glob(partial_files):
        try:
            candidates.append((os.stat(path).st_mtime, path))
        except FileNotFoundError:
            pass
    for mtime, path in sorted(candidates, reverse=True):
        if mtime > started:
            try:
                return os.stat(path).st_size
            except FileNotFoundError:
                break
    try:
        status = os.stat(final_file)
    except (FileNotFoundError, TypeError):
        return 0
    return status.st_size if status.st_mtime > started else 0


def not_less_than_seen(note: str, size: int) -> int:
    """Between the partial file's rename and the job's result, neither file may be there to measure: a report
    never goes back below what an earlier one said."""
    try:
        with open(note, encoding="utf-8") as handle:
            seen = int(handle.read().strip() or 0)
    except (FileNotFoundError, ValueError):
        seen = 0
    size = max(size, seen)
    with open(note, "w", encoding="utf-8") as handle:
        handle.write(str(size))
    return size


def size_report(label: str, got: int, total: int, seconds: int) -> str:
    unit, digits, name = (1e6, 1, "MB") if (total if total > 0 else got) >= 1e6 else (1e3, 0, "kB")
    of = f" of {total / unit:.{digits}f}" if total > 0 else ""
    return f"{label}: {got / unit:.{digits}f}{of} {name}, {seconds} s"


def used_kb(path: str) -> int | None:
    try:
        status = os.statvfs(path)
    except OSError:
        return None
    return (status.f_blocks - status.f_bfree) * status.f_frsize // 1024


def growth_report(label: str, seconds: int, used_space_of: str, used_before_kb: str) -> str:
    used = used_kb(used_space_of) if used_space_of else None
    if used is None or not used_before_kb.strip().isdigit():
        return f"{label}: elapsed {seconds} s"
    return f"{label}: elapsed {seconds} s, docker data {(used - int(used_before_kb)) * 1024 / 1e6:+.0f} MB"


def watch(params: dict) -> dict:
    results_file = params["results_file"]
    deadline = time.monotonic() + params["seconds"]
    while job_running(results_file):
        if time.monotonic() >= deadline:
            break
        time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
    else:
        return {"finished": True, "progress": ""}
    started = os.stat(results_file).st_mtime
    seconds = int(time.time() - started)
    if params.get("partial_files"):
        got = bytes_so_far(params["partial_files"], params.get("final_file") or "", started)
        got = not_less_than_seen(results_file + ".progress", got)
        return {"finished": False, "progress": size_report(params["label"], got, params["total_bytes"], seconds)}
    return {"finished": False,
            "progress": growth_report(params["label"], seconds, params["used_space_of"], params["used_before_kb"])}


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "results_file": {"type": "path", "required": True},
            "seconds": {"type": "int", "default": 10},
            "label": {"type": "str", "required": True},
            "partial_files": {"type": "str"},
            "final_file": {"type": "path"},
            "total_bytes": {"type": "int", "default": 0},
            "used_space_of": {"type": "str", "default": ""},
            "used_before_kb": {"type": "str", "default": ""},
        },
        mutually_exclusive=[("partial_files", "used_space_of")],
        supports_check_mode=True,
    )
    module.exit_json(changed=False, **watch(module.params))


if __name__ == "__main__":
    main()
