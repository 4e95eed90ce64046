"""The proxied layout: two instances behind nginx with basic auth, TLS, failover and an allow-list."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from paddleocr_fleet.samples import load_samples, missing_texts
from support import PROJECT_ROOT

SAMPLE = load_samples()[0]
BODY = json.dumps({"images": [base64.b64encode(SAMPLE.image.read_bytes()).decode()]})
PROXY = "https://127.0.0.1:8866/predict/ocr_system"
AUTH = "ocr:fleet-test-password"


def post(host, auth: bool = True) -> tuple[int, str]:
    cmd = host.run(
        "curl --silent --insecure --max-time 120 --write-out '\\n%%{http_code}' --user %s "
        "-H 'Content-Type: application/json' --data-binary %s %s",
        AUTH if auth else "nobody:wrong", BODY, PROXY,
    )
    text, _, code = cmd.stdout.rpartition("\n")
    return int(code), text


def assert_reads_sample(host) -> None:
    code, text = post(host)
    assert code == 200, text
    answer = json.loads(text)
    assert answer["status"] == "000", answer
    assert missing_texts(SAMPLE.expect, [line["text"] for line in answer["results"][0]]) == []


def test_two_instances_and_the_proxy_run(host):
    for unit in ("paddleocr@0", "paddleocr@1", "nginx", "paddleocr-firewall"):
        assert host.service(unit).is_enabled and host.service(unit).is_running, unit
    assert not host.service("paddleocr").is_running
    for port in (8867, 8868):
        assert host.socket(f"tcp://127.0.0.1:{port}").is_listening


def test_real_ocr_through_tls_and_basic_auth(host):
    assert_reads_sample(host)


def test_wrong_credentials_are_refused(host):
    code, _ = post(host, auth=False)
    assert code == 401


MAKE_17MB_BODY = "import sys; sys.stdout.write('{\"images\": [\"' + 'A' * (17 << 20) + '\"]}')"


def test_oversized_body_gets_the_envelope_from_the_proxy(host):
    cmd = host.run(
        "python3 -c %s > /tmp/big.json && curl --silent --insecure --user %s "
        "-H 'Content-Type: application/json' --data-binary @/tmp/big.json %s",
        MAKE_17MB_BODY, AUTH, PROXY,
    )
    answer = json.loads(cmd.stdout)
    assert answer["status"] == "101" and "larger than" in answer["msg"]


def test_one_instance_down_the_other_serves(host):
    host.run_test("systemctl stop paddleocr@0")
    try:
        for _ in range(4):
            assert_reads_sample(host)
    finally:
        host.run_test("systemctl start paddleocr@0")


def test_port_is_dropped_for_networks_not_allowed(host):
    """The controller reaches the host from the docker bridge, outside 10.255.0.0/16: its packets are dropped, so
    the request hangs until the timeout. The proxy answers an allowed client (loopback) just before, so the
    timeout is the firewall's drop, not a dead service; a refused or reset connection does not pass."""
    assert host.socket("tcp://0.0.0.0:8866").is_listening
    assert_reads_sample(host)  # from the host itself, loopback is allowed
    started = time.monotonic()
    with pytest.raises(requests.exceptions.Timeout):
        requests.post("https://127.0.0.1:18868/predict/ocr_system", data=BODY, timeout=5, verify=False)
    assert time.monotonic() - started >= 4.5


# --- a settings change restarts the instances one at a time while clients keep being served ------------

CLIENT_LOOP = r"""
import base64, json, os, ssl, sys, time, urllib.request
url, auth, image, expect = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
body = json.dumps({"images": [base64.b64encode(open(image, "rb").read()).decode()]}).encode()
headers = {"Content-Type": "application/json", "Authorization": "Basic " + base64.b64encode(auth.encode()).decode()}
context = ssl._create_unverified_context()
sent, failures = 0, []
while not os.path.exists("/tmp/stop-client-loop"):
    sent += 1
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=body, headers=headers), timeout=120, context=context) as answer:
            result = json.load(answer)
        texts = " ".join(line["text"] for line in result["results"][0]) if result.get("status") == "000" else ""
        if any("".join(word.split()).lower() not in "".join(texts.split()).lower() for word in expect):
            failures.append(f"{time.time():.1f} status={result.get('status')} msg={result.get('msg')} texts={texts!r}")
    except Exception as error:
        failures.append(f"{time.time():.1f} {type(error).__name__}: {error}")
json.dump({"sent": sent, "failed": len(failures), "failures": failures[:20]}, open("/tmp/client-loop.json", "w"))
"""


def journal_cursor(host) -> str:
    return host.check_output("journalctl -n 0 --show-cursor --no-pager").rsplit("-- cursor: ", 1)[1].strip()


def unit_events(host, cursor: str) -> list[str]:
    """'stopping N' / 'started N' for the instance units after the cursor, in journal order."""
    journal = host.check_output("journalctl --no-pager -o cat -u paddleocr@0 -u paddleocr@1 --after-cursor %s", cursor)
    events = []
    for line in journal.splitlines():
        for verb in ("Stopping", "Started"):
            if line.startswith(f"{verb} paddleocr@"):
                events.append(f"{verb.lower()} {line.split('@', 1)[1][0]}")
    return events


def test_settings_change_restarts_instances_one_at_a_time_with_zero_failed_requests(host):
    """A client loop sends real OCR requests through the proxy while site.yml applies a changed engine setting:
    the instances restart one after the other (each reads the probe image before the next stops), and every
    request gets the sample's text."""
    inventory = Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent
    host.run("rm -f /tmp/stop-client-loop /tmp/client-loop.json")
    host.run_test("printf '%%s' %s | base64 -d > /root/sample.png", base64.b64encode(SAMPLE.image.read_bytes()).decode())
    host.run_test("printf '%%s' %s > /root/client_loop.py", CLIENT_LOOP)
    cursor = journal_cursor(host)
    host.run_test("nohup python3 /root/client_loop.py %s %s /root/sample.png %s >/root/client-loop.log 2>&1 &",
                  PROXY, AUTH, json.dumps(SAMPLE.expect))
    env = dict(os.environ, ANSIBLE_CONFIG=str(PROJECT_ROOT / "ansible.cfg"), ANSIBLE_ROLES_PATH=str(PROJECT_ROOT / "roles"),
               ANSIBLE_NOCOLOR="1")
    try:
        run = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory),
                              str(PROJECT_ROOT / "site.yml"), "-e", "paddleocr_service_rec_batch_num=8"],
                             capture_output=True, text=True, env=env, cwd=PROJECT_ROOT, timeout=1200, check=False)
    finally:
        host.run("touch /tmp/stop-client-loop")
        host.run("for i in $(seq 150); do [ -s /tmp/client-loop.json ] && break; sleep 1; done")
    assert run.returncode == 0, run.stdout[-5000:] + run.stderr[-2000:]
    counts = json.loads(host.file("/tmp/client-loop.json").content_string)
    events = unit_events(host, cursor)
    print(f"client loop: {counts['sent']} requests, {counts['failed']} failed; unit events: {events}")
    assert events == ["stopping 0", "started 0", "stopping 1", "started 1"], events
    assert counts["sent"] >= 10
    assert counts["failed"] == 0, counts["failures"]
    assert '"rec_batch_num": 8' in host.file("/etc/paddleocr/config.json").content_string
