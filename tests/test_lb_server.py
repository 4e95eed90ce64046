"""paddleocr-lb-server (roles/paddleocr_lb/files) against a STAND-IN of HAProxy's runtime API: a unix socket that
answers `show stat` and `set server ... state` the way HAProxy 2.6 does. The real HAProxy runs in molecule/fleet."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from support import PROJECT_ROOT

TOOL = PROJECT_ROOT / "roles/paddleocr_lb/files/paddleocr-lb-server"


class FakeRuntimeApi:
    def __init__(self, path: Path, servers: dict[str, dict[str, str]]) -> None:
        self.servers = servers
        self.commands: list[str] = []
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(path))
        self.listener.listen()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            with connection:
                line = connection.recv(4096).decode().strip()
                self.commands.append(line)
                connection.sendall(self._answer(line).encode())

    def _answer(self, line: str) -> str:
        if line == "show stat":
            rows = ["# pxname,svname,qcur,scur,status,", "paddleocr,FRONTEND,,0,OPEN,"]
            rows += [f"paddleocr,{name},{s['qcur']},{s['scur']},{s['status']}," for name, s in self.servers.items()]
            return "\n".join(rows + ["paddleocr,BACKEND,0,0,UP,"]) + "\n\n"
        _, _, target, _, state = line.split()
        server = self.servers[target.split("/")[1]]
        server["status"] = "DRAIN" if state == "drain" else "UP"
        server["scur"] = "0"  # its in-flight request ends
        return "\n"

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def api(tmp_path):
    servers = {"ocr-1": {"status": "UP", "scur": "1", "qcur": "0"}, "ocr-2": {"status": "UP", "scur": "0", "qcur": "0"}}
    fake = FakeRuntimeApi(tmp_path / "admin.sock", servers)
    yield fake
    fake.close()


def run(api: FakeRuntimeApi, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(TOOL), "--socket", api.listener.getsockname(), *args, "--timeout", "5"],
                          capture_output=True, text=True, timeout=30, check=False)


def test_drain_waits_for_in_flight_requests_and_ready_for_up(api):
    drained = run(api, "drain", "ocr-1")
    assert drained.returncode == 0, drained.stderr
    assert "set server paddleocr/ocr-1 state drain" in api.commands
    assert '"scur": "0"' in drained.stdout
    assert run(api, "ready", "ocr-1").returncode == 0
    assert api.servers["ocr-1"]["status"] == "UP"


def test_draining_the_last_server_in_rotation_is_refused(api):
    api.servers["ocr-2"]["status"] = "DOWN"
    refused = run(api, "drain", "ocr-1")
    assert refused.returncode == 3 and "would leave no server" in refused.stderr
    assert not any(command.startswith("set server") for command in api.commands)
    assert run(api, "drain", "ocr-1", "--allow-last").returncode == 0


def test_a_host_the_balancer_does_not_know_is_left_alone(api):
    result = run(api, "drain", "ocr-9")
    assert result.returncode == 0 and "nothing to do" in result.stdout
    assert not any(command.startswith("set server") for command in api.commands)
