"""Switching the active model set between runtimes is a re-run of site.yml. The sandbox host serves PP-OCRv6 small
on ONNX Runtime; with ppocrv4-mobile-3x active (PP-OCRv4 mobile weights in PaddleX's 3.x layout, laid out by the
sandbox mirror: a labelled stand-in, no v5 weights are reachable here) the run builds the image's paddleocr3 flavour
(PaddleOCR 3.x on Paddle) and serves it: the samples' text on /predict/ocr_system with the answer's shape unchanged,
/ocr with images and PDFs, and a second run with no change. Then ppocrv4-mobile, a set of the PaddleOCR 2.x runtime
(what custom-trained 2.x models use): the run builds the 2.x flavour, whose lock is what its started service imports,
and serves the samples on both routes; a second run changes nothing. The way back to the default set is the next
switch's (test_proxied_layout.py)."""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
from pathlib import Path

import pytest
import requests
from PIL import Image
from rerun import changes, converge

from paddleocr_fleet.samples import load_samples
from support.image_lock import image_lock_against_imports, in_service_container, runtime_of

URL = os.environ.get("PADDLEOCR_TEST_URL", "http://127.0.0.1:18867")
SAMPLES = load_samples()
ON_3X = {"paddleocr_model_sets": ["ppocrv6-small", "ppocrv4-mobile-3x"], "paddleocr_model_set_active": "ppocrv4-mobile-3x"}
ON_2X = {"paddleocr_model_sets": ["ppocrv6-small", "ppocrv4-mobile"], "paddleocr_model_set_active": "ppocrv4-mobile"}


def lines_of(path: Path) -> list[dict]:
    image = base64.b64encode(path.read_bytes()).decode()
    answer = requests.post(f"{URL}/predict/ocr_system", json={"images": [image]}, timeout=120).json()
    assert answer["status"] == "000", answer
    return answer["results"][0]


def switched(extra_vars: dict) -> subprocess.CompletedProcess:
    run = converge(extra_vars)
    assert run.returncode == 0, run.stdout[-4000:]
    return run


def assert_serves(host, runtime: str, model_set: str) -> None:
    """The container runs the runtime's image, its config names the runtime, and the set is the active one."""
    assert runtime_of(host) == runtime
    config = json.loads(host.file("/etc/paddleocr/config.json").content_string)
    assert config["modules_info"]["ocr_system"]["init_args"]["runtime"] == runtime
    assert host.check_output("readlink /opt/paddleocr/models/current") == model_set


@pytest.fixture(scope="module")
def on_paddleocr3(host) -> subprocess.CompletedProcess:
    assert runtime_of(host) == "onnxruntime"
    return switched(ON_3X)


def test_a_paddleocr3_set_runs_on_the_paddleocr3_image(host, on_paddleocr3):
    assert_serves(host, "paddleocr3", "ppocrv4-mobile-3x")
    inference_yml = host.check_output("cat /opt/paddleocr/models/current/det/inference.yml")
    assert inference_yml.startswith("# STAND-IN written by")


def assert_reads_in_the_same_answer_shape(sample) -> None:
    lines = lines_of(sample.image)
    assert [line["text"] for line in lines] == list(sample.expect)
    for line in lines:
        assert list(line) == ["confidence", "text", "text_region"] and 0.5 < line["confidence"] <= 1.0
        assert len(line["text_region"]) == 4 and all(isinstance(v, int) for p in line["text_region"] for v in p)


@pytest.mark.parametrize("sample", SAMPLES, ids=[sample.image.name for sample in SAMPLES])
def test_the_3x_runtime_reads_the_samples_in_the_same_answer_shape(on_paddleocr3, sample):
    assert_reads_in_the_same_answer_shape(sample)


def test_the_3x_runtime_reads_images_and_pdfs_on_ocr(on_paddleocr3):
    sample = SAMPLES[0]
    page = Image.open(sample.image).convert("RGB")
    pdf = io.BytesIO()
    page.save(pdf, format="PDF", save_all=True, append_images=[page], resolution=72)
    for body, pages in (({"file": base64.b64encode(sample.image.read_bytes()).decode(), "fileType": 1}, 1),
                        ({"file": base64.b64encode(pdf.getvalue()).decode(), "fileType": 0}, 2)):
        answer = requests.post(f"{URL}/ocr", json=body, timeout=180)
        assert answer.status_code == 200, answer.text
        results = answer.json()["result"]["ocrResults"]
        assert [result["prunedResult"]["rec_texts"] for result in results] == [list(sample.expect)] * pages


def test_a_second_run_on_the_3x_runtime_changes_nothing(on_paddleocr3):
    run = converge(ON_3X)
    assert run.returncode == 0 and changes(run) == 0, run.stdout[-4000:]


@pytest.fixture(scope="module")
def on_paddleocr2(host) -> subprocess.CompletedProcess:
    return switched(ON_2X)


def test_a_paddleocr2_set_runs_on_the_2x_image(host, on_paddleocr2):
    assert_serves(host, "paddleocr2", "ppocrv4-mobile")


def test_every_package_in_the_2x_image_lock_is_imported_by_the_started_service(host, on_paddleocr2):
    unimported, unlocked, loaded = image_lock_against_imports(in_service_container(host))
    assert unimported == set(), f"in the lock but never imported: {sorted(unimported)}"
    assert unlocked <= {"paddlepaddle", "pip", "setuptools"}, f"imported but not locked: {sorted(unlocked)}"
    assert "paddlepaddle" in loaded and "paddlehub" not in loaded
    assert not {"opencv-python", "opencv-contrib-python"} & loaded


@pytest.mark.parametrize("sample", SAMPLES, ids=[sample.image.name for sample in SAMPLES])
def test_the_2x_runtime_reads_the_samples_in_the_same_answer_shape(on_paddleocr2, sample):
    assert_reads_in_the_same_answer_shape(sample)


def test_the_ocr_route_reads_the_sample_on_the_2x_runtime_as_hubserving_does(on_paddleocr2):
    sample = SAMPLES[0]
    image = base64.b64encode(sample.image.read_bytes()).decode()
    answer = requests.post(f"{URL}/ocr", json={"file": image, "fileType": 1}, timeout=180)
    assert answer.status_code == 200 and answer.json()["errorCode"] == 0, answer.text
    [page] = answer.json()["result"]["ocrResults"]
    lines = lines_of(sample.image)
    assert page["prunedResult"]["rec_texts"] == list(sample.expect) == [line["text"] for line in lines]
    assert page["prunedResult"]["rec_polys"] == [line["text_region"] for line in lines]


def test_a_second_run_on_the_2x_runtime_changes_nothing(on_paddleocr2):
    run = converge(ON_2X)
    assert run.returncode == 0 and changes(run) == 0, run.stdout[-4000:]
