"""Progress lines of long steps: a task that waits for a background job in an `until` loop reports how far the job
has come, and this callback prints that report under Ansible's "FAILED - RETRYING" line of each attempt."""

from __future__ import annotations

DOCUMENTATION = r"""
name: progress
type: notification
short_description: Show the progress line of a task that waits for a long step
description:
  - The roles run their long steps (the image build, the model archive downloads) as async jobs and wait for them
    with a status task in an C(until) loop. Each attempt of that task reports where the job stands (elapsed time,
    bytes so far); at default verbosity Ansible shows only a C(FAILED - RETRYING) line for it, with the retries
    left.
  - This callback prints the report under that line, indented and prefixed with the host in brackets. The report is
    the result's C(progress) value, or else the last line of the result's C(stdout) when that line starts with
    C(progress:) and a space (the prefix is dropped), which is how a shell status task reports.
  - A retried result without such a report, and any other event, print nothing.
author: paddleocr-fleet
requirements:
  - enabled in ansible.cfg, for example C(callbacks_enabled = paddleocr.fleet.progress)
"""

from ansible.plugins.callback import CallbackBase

PREFIX = "progress: "


def progress_of(result: object) -> str | None:
    """The report a retried task result carries, if any."""
    if not isinstance(result, dict) or result.get("_ansible_no_log"):
        return None
    value = result.get("progress")
    if isinstance(value, str) and value.strip():
        return value.strip()
    stdout = result.get("stdout")
    if isinstance(stdout, str):
        lines = [line for line in stdout.splitlines() if line.strip()]
        if lines and lines[-1].startswith(PREFIX):
            return lines[-1][len(PREFIX):].strip() or None
    return None


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "progress"
    CALLBACK_NEEDS_ENABLED = True

    def v2_runner_retry(self, result) -> None:
        # ansible-core 2.19 passes a CallbackTaskResult (.result); earlier versions a TaskResult (._result).
        data = result.result if hasattr(result, "result") else getattr(result, "_result", None)
        line = progress_of(data)
        if line:
            self._display.display(f"  [{self.host_label(result)}] {line}")
