"""Model mirror for hosts that cannot reach the official origins: record the sha256 and size of the catalog's
archives, lay downloaded archives out as a mirror directory, and serve a directory over HTTP.

    paddleocr-mirror sets                            # the catalog's model sets
    paddleocr-mirror lock --lock roles/paddleocr_models/files/models.lock.yml [--sets A,B] [--source-url S=URL]
    paddleocr-mirror assemble ARCHIVES_DIR --out DIR # downloaded official *.tar -> DIR/models/<source>/<path>
    paddleocr-mirror serve --root DIR [--bind IP] [--port N]

The catalog is the one shipped in the package (roles/paddleocr_models/files/models.yml); --catalog names another.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import os
import sys
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

from paddleocr_fleet import CATALOG_PATH
from paddleocr_fleet.catalog import Catalog, load_catalog

LOCK_NAME = "models.lock.yml"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(functools.partial(handle.read, 1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_lock(lock: dict[str, dict[str, object]], lock_path: Path) -> None:
    header = "# sha256 and size of each model archive; downloads are verified against it.\n"
    lock_path.write_text(header + yaml.safe_dump({"archives": lock}, sort_keys=True), encoding="utf-8")


def write_lock(models_root: Path, catalog: Catalog, lock_path: Path) -> dict[str, dict[str, object]]:
    """Record sha256 and size of every catalog archive present under models_root."""
    lock: dict[str, dict[str, object]] = {}
    for key in sorted(catalog.archives()):
        archive = models_root / key
        if archive.is_file():
            lock[key] = {"sha256": sha256_file(archive), "size": archive.stat().st_size}
    save_lock(lock, lock_path)
    return lock


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
    save_lock(lock, lock_path)
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
    """Static files; the request log only when PADDLEOCR_MIRROR_LOG is set."""

    def log_message(self, format: str, *args: object) -> None:
        if os.environ.get("PADDLEOCR_MIRROR_LOG"):
            super().log_message(format, *args)


def serve(root: Path, bind: str, port: int, handler: type[SimpleHTTPRequestHandler] = MirrorHandler) -> None:
    with ThreadingHTTPServer((bind, port), functools.partial(handler, directory=str(root))) as server:
        print(f"serving {root} on http://{bind}:{port}/", flush=True)
        server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="paddleocr-mirror", description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", type=Path, default=CATALOG_PATH,
                        help="model catalog (default: the one shipped in the package)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("sets", help="list the catalog's model sets")
    serve_cmd = commands.add_parser("serve", help="serve a mirror directory over HTTP")
    serve_cmd.add_argument("--root", type=Path, required=True, help="directory to serve (an assembled mirror)")
    serve_cmd.add_argument("--bind", default="127.0.0.1")
    serve_cmd.add_argument("--port", type=int, default=8900)
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
    else:
        serve(args.root, args.bind, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
