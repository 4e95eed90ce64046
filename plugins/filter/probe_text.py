"""The one rule for "the service reads the probe": an expected line is read when some recognised line contains it,
case and spacing ignored (OCR models differ in the spaces they put between words).

``recognised | paddleocr.fleet.missing_texts(expected)``: the expected lines no recognised line contains, for the
checks that hold the answer's lines (the verify role; the `paddleocr-check` tool applies the same rule,
``paddleocr_fleet.samples.missing_texts``).

``expected | paddleocr.fleet.answer_regex``: the same rule as a regular expression over the raw HubServing answer
(``{"msg": ..., "results": [[{..., "text": "..."}]], "status": "000"}``, keys in order as the service sends them),
for the checks that only see the body: HAProxy's ``http-check expect rstring`` and the units' readiness gate.
It matches when every expected line is found in one ``text`` value, in the order given, and the status is "000".
Its syntax is what HAProxy's and Python's regular expressions share (no backslash, no quote).
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


def _character(char: str) -> str:
    if char.isascii() and char.isalpha():
        return f"[{char.upper()}{char.lower()}]"
    if char.isascii() and char.isalnum():
        return char
    if char.isascii() and char.isprintable() and char not in '"\\[]^':
        return f"[{char}]"
    return "."  # JSON escapes it (a quote, a backslash, anything not ASCII): any one character stands for it


def answer_regex(expected: list[str] | str) -> str:
    """A regular expression matching a HubServing answer that reads every expected line, in order."""
    lines = [expected] if isinstance(expected, str) else list(expected)
    if not lines or not all(isinstance(line, str) and normalised_text(line) for line in lines):
        raise AnsibleFilterError(f"answer_regex: expected lines must be non-empty strings, got {expected!r}")
    texts = [" *".join(_character(char) for char in _SPACING.sub("", line)) for line in lines]
    return ".*".join(f'"text": *"[^"]*{text}' for text in texts) + '.*"status": *"000"'


class FilterModule:
    """Ansible filters: missing_texts, answer_regex."""

    def filters(self):
        return {"missing_texts": missing_texts, "answer_regex": answer_regex}
