"""What the fleet tests share: the hosts, their endpoints as clients see them, and ansible runs as
the operator against the scenario's inventory."""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
from pathlib import Path
from typing import Self

import requests
import urllib3

from paddleocr_fleet.check import check_endpoints, predict_url, recognise
from paddleocr_fleet.samples import load_samples, missing_texts

# The sandbox's certificates are self-signed.
urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

HOSTS = ["paddleocr-fleet-1", "paddleocr-fleet-2", "paddleocr-fleet-3"]
# paddleocr-fleet-2 serves behind its local proxy with TLS (self-signed) and basic auth.
ENDPOINTS = {
    "paddleocr-fleet-1": "http://127.0.0.1:18871",
    "paddleocr-fleet-2": "https://ocr:fleet-basic-auth-s3cret@127.0.0.1:18872",
    "paddleocr-fleet-3": "http://127.0.0.1:18873",
}
PROJECT = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", Path(__file__).parents[3]))
INVENTORY = Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent if "MOLECULE_INVENTORY_FILE" in os.environ else None


def ansible_invocation(command: str, *args: str) -> tuple[list[str], dict[str, str]]:
    """The command line and environment of an ansible command as the operator, against the scenario's inventory."""
    assert INVENTORY, "run through `molecule verify` (MOLECULE_INVENTORY_FILE)"
    env = dict(os.environ, ANSIBLE_CONFIG=str(PROJECT / "ansible.cfg"), ANSIBLE_ROLES_PATH=str(PROJECT / "roles"),
               ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1")
    return [command, "-i", str(INVENTORY), *args], env


def ansible(command: str, *args: str) -> subprocess.CompletedProcess:
    argv, env = ansible_invocation(command, *args)
    return subprocess.run(argv, cwd=PROJECT, env=env, capture_output=True, text=True, check=False)


def playbook(path: Path, *args: str) -> subprocess.CompletedProcess:
    return ansible("ansible-playbook", str(path), *args)


def recap(output: str) -> dict[str, dict[str, int]]:
    """PLAY RECAP counters per host."""
    counters = {}
    for line in output.split("PLAY RECAP", 1)[-1].splitlines():
        match = re.match(r"(\S+)\s+:\s+(ok=.*)", line.strip())
        if match:
            counters[match.group(1)] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", match.group(2))}
    return counters


def show(proc: subprocess.CompletedProcess) -> str:
    return proc.stdout[-6000:] + proc.stderr[-2000:]


def on_host(host: str, *command: str, stdin: str | None = None) -> str:
    """A command run on a sandbox host as root, for what the tests inspect or stage there (not the deploy path)."""
    return subprocess.run(["docker", "exec", *(["-i"] if stdin is not None else []), host, *command], input=stdin,
                          capture_output=True, text=True, check=True).stdout


def assert_fleet_reads_sample() -> None:
    results = check_endpoints(list(ENDPOINTS.values()), load_samples(), timeout=120, verify=False)
    for result in results:
        print(f"  {result.endpoint}: ok={result.ok} {result.latency_ms} ms {result.texts} {result.error}")
    assert all(result.ok for result in results), results


# The load balancer (HAProxy on paddleocr-fleet-lb): TLS (self-signed) and basic auth for clients.
LB_HOST = "paddleocr-fleet-lb"
LB_ENDPOINT = "https://client:fleet-lb-client-s3cret@127.0.0.1:18870"


class ClientLoop:
    """Real OCR requests through the load balancer from `threads` clients until stopped, as users would send
    them: each answer must carry the sample's text, or the request counts as failed.

    Each client sends one request per `interval` seconds: the loop measures the rollouts without taking the
    cores they run on (every request is an OCR run on one of the fleet's hosts, which share this machine's cores
    with the rollout; at one request every two seconds per client, each host's update still meets dozens). It is
    not stopped before `min_requests` were sent, so a short rollout is still measured on enough requests."""

    def __init__(self, endpoint: str = LB_ENDPOINT, threads: int = 2, interval: float = 2.0,
                 min_requests: int = 20) -> None:
        self.url = predict_url(endpoint)
        self.interval = interval
        self.min_requests = min_requests
        self.sample = load_samples()[0]
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]
        self.stopping = threading.Event()
        self.latencies: list[float] = []
        self.failures: list[str] = []
        self.lock = threading.Lock()

    def _run(self) -> None:
        image = self.sample.image.read_bytes()
        with requests.Session() as session:
            session.verify = False
            while not self.stopping.is_set():
                started = time.perf_counter()
                try:
                    texts = recognise(session, self.url, image, timeout=120)
                    missing = missing_texts(self.sample.expect, texts)
                    failure = f"expected {missing}, read {texts}" if missing else ""
                except (requests.RequestException, RuntimeError, ValueError, KeyError, IndexError) as error:
                    failure = f"{type(error).__name__}: {error}"
                with self.lock:
                    self.latencies.append(time.perf_counter() - started)
                    if failure:
                        self.failures.append(f"{time.strftime('%H:%M:%S')} {failure}"[:300])
                self.stopping.wait(max(0.0, started + self.interval - time.perf_counter()))

    def __enter__(self) -> Self:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        deadline = time.monotonic() + 300
        while self.sent < self.min_requests and time.monotonic() < deadline:
            time.sleep(0.2)
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=150)

    @property
    def sent(self) -> int:
        return len(self.latencies)

    def p95_ms(self) -> float:
        ordered = sorted(self.latencies)
        return round(ordered[max(0, int(len(ordered) * 0.95) - 1)] * 1000, 1) if ordered else 0.0

    def report(self, what: str) -> str:
        line = (f"CLIENT LOOP {what}: {self.sent} requests through the load balancer, {len(self.failures)} failed, "
                f"p95 {self.p95_ms()} ms")
        print(f"\n{line}")
        return line
