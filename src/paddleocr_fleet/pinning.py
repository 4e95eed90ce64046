"""Hash-pin the image's locks: every `name==version` line gets the sha256 of each file the index has for that
release, so the build installs them with `pip install --require-hashes` and a file swapped on an index or a
mirror fails the build instead of entering the image.

    paddleocr-hash-lock roles/paddleocr_image/files/requirements.lock roles/paddleocr_image/files/cuda-*.lock

Hashes come from the index's simple API in JSON (PEP 691), PyPI by default; the lock is rewritten in place,
comments kept, earlier hashes replaced.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Iterable
from pathlib import Path

import requests
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

PYPI_SIMPLE = "https://pypi.org/simple/"
SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)")


def pins(lock_text: str) -> list[tuple[str, str]]:
    """The (name, version) of every requirement line of a lock, hashed or not."""
    return [(match.group(1), match.group(2)) for line in lock_text.splitlines() if (match := PIN.match(line))]


def release_of(filename: str, name: str) -> Version | None:
    """The version a distribution file belongs to, if it is one of `name`'s wheels or sdists."""
    try:
        if filename.endswith(".whl"):
            project, version, _, _ = parse_wheel_filename(filename)
        elif filename.endswith((".tar.gz", ".zip")):
            project, version = parse_sdist_filename(filename)
        else:
            return None
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        return None
    return version if project == canonicalize_name(name) else None


def release_hashes(files: Iterable[dict], name: str, version: str) -> list[str]:
    """The sha256 of every file of name==version in an index's project listing (PEP 691 `files`)."""
    wanted = Version(version)
    hashes = sorted({file["hashes"]["sha256"] for file in files
                     if "sha256" in file.get("hashes", {}) and release_of(file["filename"], name) == wanted})
    if not hashes:
        raise LookupError(f"{name}=={version}: the index lists no file with a sha256 for this release")
    return hashes


def index_hashes(index_url: str, session: requests.Session) -> Callable[[str, str], list[str]]:
    def hashes_of(name: str, version: str) -> list[str]:
        url = f"{index_url.rstrip('/')}/{canonicalize_name(name)}/"
        answer = session.get(url, headers={"Accept": SIMPLE_JSON}, timeout=60)
        answer.raise_for_status()
        return release_hashes(answer.json()["files"], name, version)

    return hashes_of


def hash_lock(lock_text: str, hashes_of: Callable[[str, str], list[str]]) -> str:
    """The lock with each requirement followed by its --hash lines (pip's format); comments stay."""
    lines: list[str] = []
    for line in lock_text.splitlines():
        if line.strip().startswith("--hash="):
            continue
        match = PIN.match(line)
        if not match:
            lines.append(line)
            continue
        name, version = match.groups()
        hashes = hashes_of(name, version)
        entries = [f"{name}=={version}"] + [f"    --hash=sha256:{digest}" for digest in hashes]
        lines.extend(" \\\n".join(entries).splitlines())
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("locks", nargs="+", type=Path)
    parser.add_argument("--index-url", default=PYPI_SIMPLE, help="simple index with the PEP 691 JSON API")
    args = parser.parse_args(argv)
    with requests.Session() as session:
        hashes_of = index_hashes(args.index_url, session)
        for lock in args.locks:
            lock.write_text(hash_lock(lock.read_text(), hashes_of))
            print(f"{lock}: {len(pins(lock.read_text()))} packages hash-pinned")


if __name__ == "__main__":
    main()
