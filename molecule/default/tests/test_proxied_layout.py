"""The proxied layout, switched to on the converged host. One run of a user's playbook (the installed collection's
roles by their fully-qualified names: molecule/default/collection_playbook.yml) takes the host from where the
runtime switch left it (PP-OCRv4 mobile on the PaddleOCR 2.x runtime) back to the default set on ONNX Runtime, on
its OpenVINO build (the OpenVINO provider, in place of the default plain CPU build), as two instances (CPU
stand-ins for one per GPU) behind nginx with basic auth, TLS and an nftables allow-list; a second run changes
nothing. Then: real OCR through TLS and auth, failover, the allow-list, and a settings change applied by site.yml
that restarts the instances one at a time under a client loop."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import time
from pathlib import Path

import pytest
import requests
from rerun import changes, converge

from paddleocr_fleet.samples import load_samples, missing_texts
from support.image_lock import in_service_container, providers_of, runtime_of, venv_content

SAMPLES = load_samples()
SAMPLE = SAMPLES[0]
BODY = json.dumps({"images": [base64.b64encode(SAMPLE.image.read_bytes()).decode()]})
PROXY = "https://127.0.0.1:8866/predict/ocr_system"
PASSWORD = "fleet-test-password"
AUTH = f"ocr:{PASSWORD}"
# The API port as the controller reaches it (molecule.yml publishes it): outside the allow-list.
FROM_THE_CONTROLLER = "https://127.0.0.1:18867/predict/ocr_system"
EPHEMERAL = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "."))
COLLECTION_PLAYBOOK = str(Path(__file__).resolve().parents[1] / "collection_playbook.yml")
PROXIED = {
    "paddleocr_onnxruntime_cpu_provider": "openvino",
    "paddleocr_service_instances": 2,
    "paddleocr_service_workers": 1,
    "paddleocr_proxy_basic_auth_users": [{"name": "ocr", "password": PASSWORD}],
    "paddleocr_proxy_tls_cert_file": str(EPHEMERAL / "tls.crt"),
    "paddleocr_proxy_tls_key_file": str(EPHEMERAL / "tls.key"),
    # The controller reaches the host from the docker bridge, outside this network: it must be dropped.
    "paddleocr_proxy_allowed_cidrs": ["10.255.0.0/16"],
}


@pytest.fixture(scope="module")
def proxied(host) -> subprocess.CompletedProcess:
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "7", "-subj", "/CN=paddleocr-proxy",
                    "-keyout", PROXIED["paddleocr_proxy_tls_key_file"], "-out", PROXIED["paddleocr_proxy_tls_cert_file"]],
                   capture_output=True, check=True)
    run = converge(PROXIED, COLLECTION_PLAYBOOK)
    assert run.returncode == 0, run.stdout[-4000:]
    return run


def post(host, auth: bool = True, body: str = BODY) -> tuple[int, str]:
    cmd = host.run(
        "curl --silent --insecure --max-time 120 --write-out '\\n%%{http_code}' --user %s "
        "-H 'Content-Type: application/json' --data-binary %s %s",
        AUTH if auth else "nobody:wrong", body, PROXY,
    )
    text, _, code = cmd.stdout.rpartition("\n")
    return int(code), text


def texts_through_the_proxy(host, image: Path) -> list[str]:
    code, text = post(host, body=json.dumps({"images": [base64.b64encode(image.read_bytes()).decode()]}))
    assert code == 200, text
    answer = json.loads(text)
    assert answer["status"] == "000", answer
    return [line["text"] for line in answer["results"][0]]


def assert_reads_sample(host) -> None:
    assert missing_texts(SAMPLE.expect, texts_through_the_proxy(host, SAMPLE.image)) == []


def test_one_run_brings_back_the_default_set_on_onnx_runtime_behind_the_proxy(host, proxied):
    for container in ("paddleocr-0", "paddleocr-1"):
        assert runtime_of(host, container) == "onnxruntime", container
    assert host.check_output("readlink /opt/paddleocr/models/current") == "ppocrv6-small"
    for sample in SAMPLES:
        assert texts_through_the_proxy(host, sample.image) == list(sample.expect)


def test_the_openvino_build_serves_on_openvinos_cpu_plugin(host, proxied):
    """ONNX Runtime's OpenVINO build: each instance's serving worker has OpenVINO's CPU plugin loaded, which only
    compiling a model on the OpenVINO provider does (the CPU provider never loads it)."""
    for container in ("paddleocr-0", "paddleocr-1"):
        in_container = in_service_container(host, container)
        assert "OpenVINOExecutionProvider" in providers_of(in_container)
        loaded = in_container("sh", "-c", "grep -l libopenvino_intel_cpu_plugin /proc/[0-9]*/maps || true")
        assert loaded.strip(), f"no process of {container} has OpenVINO's CPU plugin loaded"


def test_the_openvino_builds_venv_has_no_pip_no_test_suites_and_openvinos_library_once(host, proxied):
    """OpenVINO's library, which its wheel ships as three identical files (a wheel holds no symlinks), is one file
    that its other names link to; the test above shows the workers loading OpenVINO through them."""
    found = venv_content(in_service_container(host, "paddleocr-0"))
    assert found["pip"] is False
    assert found["tests"] == []
    files = [name for name, target in found["openvino"].items() if target is None]
    assert len(files) == 1 and len(found["openvino"]) >= 2, found["openvino"]
    assert {target for target in found["openvino"].values() if target} == set(files), found["openvino"]


def test_a_second_run_of_the_proxied_layout_changes_nothing(proxied):
    run = converge(PROXIED, COLLECTION_PLAYBOOK)
    assert run.returncode == 0 and changes(run) == 0, run.stdout[-4000:]


def test_two_instances_and_the_proxy_run(host, proxied):
    for unit in ("paddleocr@0", "paddleocr@1", "nginx", "paddleocr-firewall"):
        assert host.service(unit).is_enabled and host.service(unit).is_running, unit
    assert not host.service("paddleocr").is_running
    for port in (8867, 8868):
        assert host.socket(f"tcp://127.0.0.1:{port}").is_listening


def test_real_ocr_through_tls_and_basic_auth(host, proxied):
    assert_reads_sample(host)


def test_wrong_credentials_are_refused(host, proxied):
    code, _ = post(host, auth=False)
    assert code == 401


MAKE_17MB_BODY = "import sys; sys.stdout.write('{\"images\": [\"' + 'A' * (17 << 20) + '\"]}')"


def test_oversized_body_gets_the_envelope_from_the_proxy(host, proxied):
    cmd = host.run(
        "python3 -c %s > /tmp/big.json && curl --silent --insecure --user %s "
        "-H 'Content-Type: application/json' --data-binary @/tmp/big.json %s",
        MAKE_17MB_BODY, AUTH, PROXY,
    )
    answer = json.loads(cmd.stdout)
    assert answer["status"] == "101" and "larger than" in answer["msg"]


def test_one_instance_down_the_other_serves(host, proxied):
    host.run_test("systemctl stop paddleocr@0")
    try:
        for _ in range(4):
            assert_reads_sample(host)
    finally:
        host.run_test("systemctl start paddleocr@0")


def test_port_is_dropped_for_networks_not_allowed(host, proxied):
    """The controller reaches the host from the docker bridge, outside 10.255.0.0/16: its packets are dropped, so
    the request hangs until the timeout. The proxy answers an allowed client (loopback) just before, so the
    timeout is the firewall's drop, not a dead service; a refused or reset connection does not pass."""
    assert host.socket("tcp://0.0.0.0:8866").is_listening
    assert_reads_sample(host)  # from the host itself, loopback is allowed
    started = time.monotonic()
    with pytest.raises(requests.exceptions.Timeout):
        requests.post(FROM_THE_CONTROLLER, data=BODY, timeout=5, verify=False)
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


def test_settings_change_restarts_instances_one_at_a_time_with_zero_failed_requests(host, proxied):
    """A client loop sends real OCR requests through the proxy while site.yml applies a changed engine setting:
    the instances restart one after the other (each reads the probe image before the next stops), and every
    request gets the sample's text."""
    host.run("rm -f /tmp/stop-client-loop /tmp/client-loop.json")
    host.run_test("printf '%%s' %s | base64 -d > /root/sample.png", base64.b64encode(SAMPLE.image.read_bytes()).decode())
    host.run_test("printf '%%s' %s > /root/client_loop.py", CLIENT_LOOP)
    cursor = journal_cursor(host)
    host.run_test("nohup python3 /root/client_loop.py %s %s /root/sample.png %s >/root/client-loop.log 2>&1 &",
                  PROXY, AUTH, json.dumps(SAMPLE.expect))
    try:
        run = converge(PROXIED | {"paddleocr_service_rec_batch_num": 8})
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
