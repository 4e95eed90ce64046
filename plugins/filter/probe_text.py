"""The one rule for "the service reads the probe": an expected line is read when some recognised line contains it,
case and spacing ignored (OCR models differ in the spaces they put between words).

``recognised | paddleocr.fleet.missing_texts(expected)``: the expected lines no recognised line contains, for the
checks that hold the answer's lines (the verify role; the `paddleocr-check` tool applies the same rule,
``paddleocr_fleet.samples.missing_texts``).

``expected | paddleocr.fleet.answer_regex``: the same rule as a regular expression over the raw HubServing answer
(``{"msg": ..., "results": [[{..., "text": "..."}]], "status": "000"}``, keys in order as the service sends them),
for the checks that only see the body: HAProxy's ``http-check expect rstring``, the units' readiness gate and
gpu_smoke.yml. It matches when every expected line is found in one ``text`` value, in the order given, and the
status is "000"; with no expected line, when some text was read. Its syntax is what HAProxy's and Python's regular
expressions share (no backslash, no quote, no dollar sign), so the expected lines are printable ASCII without those
(the service escapes every other character in its JSON).
"""

from __future__ import annotations

import re

from ansible.errors import AnsibleFilterError

_SPACING = re.compile(r"\s+")


def normalised_text(text: str) -> str:
    """The text as the rule compares it: without spacing, case folded."""
    return _SPACING.sub("", text).casefold()


def missing_texts(recognised: list[str], expected: list[str]) -> list[str]:
    """The expected lines that no recognised line contains (case and spacing ignored)."""
    lines = [normalised_text(line) for line in recognised]
    return [text for text in expected if not any(normalised_text(text) in line for line in lines)]


_STATUS_000 = '.*"status": *"000"'
_UNWRITABLE = '"\\$'  # a quote and a backslash arrive escaped in the JSON; HAProxy expands $ in quotes


def _character(char: str) -> str:
    if char.isalpha():
        return f"[{char.upper()}{char.lower()}]"
    if char.isalnum():
        return char
    return "." if char in "[]^" else f"[{char}]"


def answer_regex(expected: list[str] | str) -> str:
    """A regular expression matching a HubServing answer that reads every expected line, in order (no line: any
    text)."""
    lines = [expected] if isinstance(expected, str) else list(expected)
    for line in lines:
        if not (isinstance(line, str) and normalised_text(line) and line.isascii() and line.isprintable()
                and not set(line) & set(_UNWRITABLE)):
            raise AnsibleFilterError(f"answer_regex: an expected line must be non-empty printable ASCII without "
                                     f"{_UNWRITABLE!r}, got {line!r}")
    if not lines:
        return '"text": *"[^"]+"' + _STATUS_000
    texts = [" *".join(_character(char) for char in _SPACING.sub("", line)) for line in lines]
    return ".*".join(f'"text": *"[^"]*{text}' for text in texts) + _STATUS_000


class FilterModule:
    """Ansible filters: missing_texts, answer_regex."""

    def filters(self):
        return {"missing_texts": missing_texts, "answer_regex": answer_regex}
