"""One rule for "the service reads the probe" (filter plugin probe_text): the verify role's missing_texts, the
regular expression the readiness gate and HAProxy apply to the raw answer, and the `paddleocr-check` tool's
samples.missing_texts accept and refuse the same answers."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from paddleocr_fleet import samples
from support import PROJECT_ROOT, load_plugin

probe_text = load_plugin("filter", "probe_text")
PROBE_TEXT = yaml.safe_load((PROJECT_ROOT / "roles/paddleocr_service/files/probe.yml").read_text())["expect"]

# (expected lines, recognised lines, read?)
CASES = [
    (["READY 8866"], ["READY 8866"], True),
    (["READY 8866"], ["ready8866"], True),  # case and spacing ignored
    (["READY 8866"], ["Status: READY  8866."], True),  # contained in a longer line
    (["READY 8866"], ["READY", "8866"], False),  # split over two lines
    (["READY 8866"], ["REAOY 8866"], False),
    (["READY 8866"], [], False),
    (["PaddleOCR fleet", "Invoice 2026-11-24"], ["PaddleOCRfleet", "INVOICE 2026-11-24"], True),
    (["PaddleOCR fleet", "Invoice 2026-11-24"], ["PaddleOCR gleet", "Invoice 2026-11-24"], False),
    (["Größe 12"], ["GRÖSSE 12"], True),  # casefold, as Python's str.casefold
]


def hubserving_body(lines: list[str], status: str = "000", compact: bool = True) -> str:
    """An answer as the service sends it (sorted keys, compact, ASCII escapes), or as json.dumps writes it."""
    results = [[{"confidence": 0.97, "text": line, "text_region": [[1, 2], [3, 2], [3, 4], [1, 4]]} for line in lines]]
    separators = (",", ":") if compact else (", ", ": ")
    return json.dumps({"msg": "", "results": results, "status": status}, sort_keys=True, separators=separators)


@pytest.mark.parametrize(("expected", "recognised", "read"), CASES)
def test_the_filter_and_the_check_tool_apply_the_same_rule(expected, recognised, read):
    assert (probe_text.missing_texts(recognised, expected) == []) is read
    assert (samples.missing_texts(expected, recognised) == []) is read
    assert probe_text.missing_texts(recognised, expected) == samples.missing_texts(expected, recognised)


@pytest.mark.parametrize(("expected", "recognised", "read"), [case for case in CASES if case[0][0].isascii()])
@pytest.mark.parametrize("compact", [True, False])
def test_the_answer_regex_accepts_what_missing_texts_accepts_in_order(expected, recognised, read, compact):
    regex = re.compile(probe_text.answer_regex(expected))
    assert (regex.search(hubserving_body(recognised, compact=compact)) is not None) is read


def test_the_answer_regex_needs_status_000_and_the_text_in_a_text_value():
    regex = re.compile(probe_text.answer_regex(PROBE_TEXT))
    assert regex.search(hubserving_body(PROBE_TEXT))
    assert not regex.search(hubserving_body(PROBE_TEXT, status="101"))
    assert not regex.search(json.dumps({"msg": "READY 8866", "results": "", "status": "000"}, sort_keys=True))


def test_the_answer_regex_is_written_in_what_haproxy_and_python_share():
    regex = probe_text.answer_regex(["READY 8866", "[part] ^x-1.5"])
    assert "\\" not in regex and "$" not in regex
    assert regex.count('"') == 12  # only the JSON's own (4 per text, 4 for the status)
    assert regex.startswith('"text": *"[^"]*[Rr] *[Ee] *[Aa] *[Dd] *[Yy] *8 *8 *6 *6')
    assert re.search(regex, hubserving_body(["READY 8866", "see [PART] ^x-1.5 here"]))


def test_no_expected_line_means_some_text_was_read():
    regex = re.compile(probe_text.answer_regex([]))
    assert regex.search(hubserving_body(["anything"]))
    assert not regex.search(hubserving_body([""]))
    assert not regex.search(hubserving_body([]))
    assert not regex.search(hubserving_body(["anything"], status="101"))


@pytest.mark.parametrize("expected", [[""], ["  "], "", [3], ['say "ready"'], ["C:\\dir"], ["$HOME"], ["Größe"]])
def test_the_answer_regex_refuses_what_it_cannot_write(expected):
    with pytest.raises(Exception, match="non-empty printable ASCII"):
        probe_text.answer_regex(expected)
