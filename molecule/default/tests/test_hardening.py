"""Bad input, load and faults against the running service, from the client side (the sandbox
host publishes the API on 127.0.0.1:18867). Every bad request must get the HubServing error
envelope or a real answer, the service must stay up, and a good request right after must still
return the right text. The fault tests kill the container and restart the whole host."""

from __future__ import annotations

import base64
import io
import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from PIL import Image, ImageDraw, ImageFont

from paddleocr_fleet.check import check_endpoint
from paddleocr_fleet.samples import FONT, load_samples

URL = os.environ.get("PADDLEOCR_TEST_URL", "http://127.0.0.1:18867")
SANDBOX_CONTAINER = os.environ.get("PADDLEOCR_TEST_CONTAINER", "paddleocr-molecule")
PREDICT = f"{URL}/predict/ocr_system"
SAMPLE = load_samples()[0]
SAMPLE_B64 = base64.b64encode(SAMPLE.image.read_bytes()).decode()


def png_b64(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def huge_image_b64() -> str:
    image = Image.new("RGB", (6000, 6000), "white")
    ImageDraw.Draw(image).text((300, 2800), "PaddleOCR fleet", fill="black", font=ImageFont.truetype(str(FONT), 400))
    return png_b64(image)


def assert_still_serving() -> None:
    result = check_endpoint(URL, [SAMPLE], timeout=120)
    assert result.ok, result.error


BAD_REQUESTS = {
    "not-json": {"data": b"images=abc", "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
    "broken-json": {"data": b'{"images": [', "headers": {"Content-Type": "application/json"}},
    "missing-images": {"json": {"pictures": [SAMPLE_B64]}},
    "images-not-a-list": {"json": {"images": SAMPLE_B64}},
    "empty-list": {"json": {"images": []}},
    "invalid-base64": {"json": {"images": ["this is not base64!"]}},
    "not-an-image": {"json": {"images": [base64.b64encode(b"%PDF-1.4 not an image").decode()]}},
    "empty-image": {"json": {"images": [""]}},
    "20-MB-payload": {"json": {"images": [base64.b64encode(os.urandom(15 * 1024 * 1024)).decode()]}},
}


@pytest.mark.parametrize("case", BAD_REQUESTS, ids=list(BAD_REQUESTS))
def test_bad_request_gets_error_envelope(case):
    started = time.perf_counter()
    response = requests.post(PREDICT, timeout=60, **BAD_REQUESTS[case])
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"msg", "results", "status"}
    assert body["status"] != "000" and body["msg"], body
    assert time.perf_counter() - started < 30, "an error must come back fast, not hang"
    assert_still_serving()


def test_huge_image_is_resized_and_still_read():
    answer = requests.post(PREDICT, json={"images": [huge_image_b64()]}, timeout=300).json()
    assert answer["status"] == "000", answer
    assert any("paddleocr fleet" in line["text"].lower() for line in answer["results"][0])


def test_unknown_module_gets_111():
    answer = requests.post(f"{URL}/predict/no_such_module", json={"images": [SAMPLE_B64]}, timeout=30).json()
    assert answer["status"] == "111"


def test_50_concurrent_requests_all_answered():
    def post(index: int) -> dict:
        payload = {"images": [SAMPLE_B64 if index % 5 else "bm90IGFuIGltYWdl"]}
        return requests.post(PREDICT, json=payload, timeout=600).json()

    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(post, range(50)))
    good = [a for i, a in enumerate(answers) if i % 5]
    bad = [a for i, a in enumerate(answers) if not i % 5]
    assert all(a["status"] == "000" and a["results"][0] for a in good)
    assert all(a["status"] == "101" for a in bad)
    assert_still_serving()


def wait_until_serving(deadline_s: float) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < deadline_s:
        if check_endpoint(URL, [SAMPLE], timeout=30).ok:
            return time.perf_counter() - started
        time.sleep(1)
    raise AssertionError(f"not serving again within {deadline_s} s")


def wait_until_active(host, unit: str, deadline_s: float = 60) -> None:
    """The unit turns active once its readiness gate has read the probe image, a moment after the
    container first answers."""
    started = time.perf_counter()
    while time.perf_counter() - started < deadline_s:
        if host.service(unit).is_running:
            return
        time.sleep(0.5)
    raise AssertionError(f"{unit}: {host.run('systemctl is-active %s', unit).stdout.strip()} after {deadline_s} s")


def test_sigkilled_container_is_back_within_restart_window(host):
    host.run_test("docker kill --signal KILL paddleocr")
    seconds = wait_until_serving(180)
    print(f"\nSIGKILL -> serving real OCR again after {seconds:.1f} s")
    wait_until_active(host, "paddleocr")


def test_service_comes_back_after_host_restart(host):
    subprocess.run(["docker", "restart", "--time", "5", SANDBOX_CONTAINER], check=True, capture_output=True)
    seconds = wait_until_serving(300)
    print(f"\nhost restart -> serving real OCR again after {seconds:.1f} s")
    assert host.service("paddleocr").is_enabled
    wait_until_active(host, "paddleocr")
