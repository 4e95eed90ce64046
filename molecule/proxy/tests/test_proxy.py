"""The proxied layout: two instances behind nginx with basic auth, TLS, failover and an allow-list."""

from __future__ import annotations

import base64
import json

import pytest
import requests

from paddleocr_fleet.samples import load_samples, missing_texts

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


def test_port_is_dropped_for_networks_not_allowed():
    # The controller reaches the host from the docker bridge, outside 10.255.0.0/16.
    with pytest.raises((requests.exceptions.ConnectionError, requests.exceptions.Timeout)):
        requests.post("https://127.0.0.1:18868/predict/ocr_system", data=BODY, timeout=5, verify=False)
