"""Testinfra checks of a converged OCR host: unit, port, and a real OCR answer of a real image."""

from __future__ import annotations

import json

import pytest

from paddleocr_fleet.samples import load_samples, missing_texts

PREDICT = "http://127.0.0.1:8866/predict/ocr_system"


def post_json(host, body: str) -> dict:
    cmd = host.run(
        "curl --silent --show-error --max-time 120 -H 'Content-Type: application/json' --data-binary %s %s",
        body,
        PREDICT,
    )
    assert cmd.rc == 0, cmd.stderr
    return json.loads(cmd.stdout)


def test_docker_engine_running(host):
    docker = host.service("docker")
    assert docker.is_enabled and docker.is_running


def test_unit_enabled_and_active(host):
    service = host.service("paddleocr")
    assert service.is_enabled
    assert service.is_running


def test_port_answers(host):
    assert host.socket("tcp://0.0.0.0:8866").is_listening
    assert host.run("curl --silent --fail --max-time 10 http://127.0.0.1:8866/").rc == 0


def test_models_mounted_read_only(host):
    mounts = json.loads(host.check_output("docker inspect --format '{{json .Mounts}}' paddleocr"))
    models = [m for m in mounts if m["Destination"] == "/models"]
    assert models and models[0]["RW"] is False


@pytest.mark.parametrize("sample", load_samples(), ids=lambda s: s.image.name)
def test_real_image_returns_its_text(host, sample):
    import base64

    body = json.dumps({"images": [base64.b64encode(sample.image.read_bytes()).decode()]})
    answer = post_json(host, body)
    assert answer["status"] == "000", answer
    assert answer["msg"] == ""
    lines = answer["results"][0]
    texts = [line["text"] for line in lines]
    assert missing_texts(sample.expect, texts) == []
    for line in lines:
        assert isinstance(line["confidence"], float) and 0.5 < line["confidence"] <= 1.0
        assert len(line["text_region"]) == 4 and all(len(point) == 2 for point in line["text_region"])


def test_bad_image_gets_error_envelope_and_service_stays_up(host):
    answer = post_json(host, json.dumps({"images": ["bm90IGFuIGltYWdl"]}))
    assert answer["status"] != "000"
    assert "not a decodable image" in answer["msg"]
    assert host.service("paddleocr").is_running


def test_the_running_container_is_hardened(host):
    inspect = json.loads(host.check_output("docker inspect paddleocr"))[0]
    config, container_host = inspect["Config"], inspect["HostConfig"]
    assert config["User"] not in ("", "0", "root")
    assert container_host["CapDrop"] == ["ALL"] and not container_host["CapAdd"]
    assert container_host["ReadonlyRootfs"] is True
    assert set(container_host["Tmpfs"]) == {"/tmp", "/var/lib/paddleocr"}
    assert container_host["PidsLimit"] == 1024
    assert "no-new-privileges" in container_host["SecurityOpt"]
    memtotal_kib = int(host.check_output("awk '/MemTotal/ {print $2}' /proc/meminfo"))
    assert 0 < container_host["Memory"] <= memtotal_kib * 1024 * 0.8 + 2**20
    # Nothing in the image can be written: the root filesystem refuses, /tmp takes it.
    denied = host.run("docker exec paddleocr touch /opt/paddleocr/x")
    assert denied.rc != 0 and "Read-only file system" in denied.stderr
    host.run_test("docker exec paddleocr touch /tmp/x")
