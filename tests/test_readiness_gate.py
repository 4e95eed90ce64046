"""The units' readiness gate (roles/paddleocr_service/files/paddleocr-ready) against a real HTTP server."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml

from support import PROJECT_ROOT, load_plugin

GATE = PROJECT_ROOT / "roles/paddleocr_service/files/paddleocr-ready"
PROBE = PROJECT_ROOT / "roles/paddleocr_service/files/probe.png"
GATE_ANY_TEXT = re.search(r"^ANY_TEXT = '(.*)'$", GATE.read_text(), re.MULTILINE).group(1)
PROBE_TEXT = yaml.safe_load((PROJECT_ROOT / "roles/paddleocr_service/files/probe.yml").read_text())["expect"]


@pytest.fixture(autouse=True)
def expect_file(tmp_path, monkeypatch):
    """The regular expression the role writes beside the probe (templates/probe.regex.j2)."""
    path = tmp_path / "probe.regex"
    path.write_text(load_plugin("filter", "probe_text").answer_regex(PROBE_TEXT) + "\n")
    monkeypatch.setenv("PROBE_REGEX", str(path))
    return path


def serving(answer: dict):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            body = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def gate(server: ThreadingHTTPServer, env: dict | None = None, expect: bool = True) -> subprocess.CompletedProcess:
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    argv = [sys.executable, str(GATE), "--probe", str(PROBE),
            *(["--expect-file", os.environ["PROBE_REGEX"]] if expect else []), url]
    return subprocess.run(argv, capture_output=True, text=True,
                          timeout=30, env=env, check=False)


@pytest.mark.parametrize("read", ["READY 8866", "ready8866", "Ready  8866 ."])
def test_gate_passes_once_the_probe_is_read_case_and_spacing_ignored(read):
    assert PROBE_TEXT == ["READY 8866"]
    server = serving({"msg": "", "results": [[{"text": read, "confidence": 0.99, "text_region": []}]],
                      "status": "000"})
    try:
        assert gate(server).returncode == 0
    finally:
        server.shutdown()


@pytest.mark.parametrize(
    ("answer", "named"),
    [
        ({"msg": "index 6625 is out of bounds", "results": "", "status": "101"}, "status 101: index 6625"),
        ({"msg": "", "results": [[]], "status": "000"}, "the probe image's text not read: []"),
        ({"msg": "", "results": [[{"text": "REAOY 8B66", "confidence": 0.9, "text_region": []}]], "status": "000"},
         "the probe image's text not read: ['REAOY 8B66']"),
    ],
)
def test_gate_fails_soon_when_a_loaded_instance_keeps_answering_wrongly(answer, named):
    """A broken model set answers, but never with the probe's text: the unit fails now, not at TimeoutStartSec."""
    server = serving(answer)
    try:
        result = gate(server)
    finally:
        server.shutdown()
    assert result.returncode == 1
    assert named in result.stderr and "5 times in a row" in result.stderr


def test_gate_fails_at_once_when_nothing_answers_and_the_container_exited():
    result = subprocess.run([sys.executable, str(GATE), "--probe", str(PROBE), "--expect-file",
                             os.environ["PROBE_REGEX"], "http://127.0.0.1:9/"],
                            capture_output=True, text=True, timeout=30, env={"MAINPID": "999999999"}, check=False)
    assert result.returncode == 1
    assert "the container exited" in result.stderr


@pytest.mark.parametrize(("read", "ready"), [("PaddleOCR", True), ("", False)])
def test_units_recorded_by_earlier_versions_want_some_text(read, ready):
    """Their ExecStartPost has --probe without --expect-file (a rollback restores them): status 000 and any text, the
    filter's expression for no expected line."""
    assert GATE_ANY_TEXT == load_plugin("filter", "probe_text").answer_regex([])
    server = serving({"msg": "", "results": [[{"text": read, "confidence": 0.9, "text_region": []}]], "status": "000"})
    try:
        result = gate(server, expect=False)
    finally:
        server.shutdown()
    assert (result.returncode == 0) is ready, result.stderr
