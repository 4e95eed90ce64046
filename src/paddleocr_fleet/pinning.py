"""Hash-pin the image's locks: every `name==version` line gets the sha256 of each file the index has for that
release, so the build installs them with `pip install --require-hashes` and a file swapped on an index or a
mirror fails the build instead of entering the image.

    paddleocr-hash-lock roles/paddleocr_image/files/requirements.lock roles/paddleocr_image/files/cuda-*.lock
    paddleocr-hash-lock --print paddlepaddle-gpu==3.3.1 \
        --index-url https://www.paddlepaddle.org.cn/packages/stable/cu126/

Hashes come from the index's simple API (PEP 691 JSON, or PEP 503 HTML with #sha256= links), PyPI by
default; a lock is rewritten in place, comments kept, earlier hashes replaced. --print writes the hashes of
the given requirements as YAML instead, the form of the paddleocr_image role's paddleocr_image_paddle_hashes.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

import requests
import yaml
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
HTML_LINK = re.compile(r'href="([^"#]*/)?([^"/#]+)#sha256=([0-9a-fA-F]{64})"')


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


def html_files(page: str) -> list[dict]:
    """A PEP 503 project page's files, in PEP 691's form: only links that carry a #sha256= fragment."""
    return [{"filename": filename, "hashes": {"sha256": digest.lower()}}
            for _, filename, digest in HTML_LINK.findall(page)]


def index_hashes(index_url: str, session: requests.Session) -> Callable[[str, str], list[str]]:
    def hashes_of(name: str, version: str) -> list[str]:
        url = f"{index_url.rstrip('/')}/{canonicalize_name(name)}/"
        answer = session.get(url, headers={"Accept": f"{SIMPLE_JSON}, text/html;q=0.1"}, timeout=60)
        answer.raise_for_status()
        if answer.headers.get("Content-Type", "").startswith(SIMPLE_JSON):
            files = answer.json()["files"]
        else:
            files = html_files(answer.text)
        return release_hashes(files, name, version)

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


class IndentedDumper(yaml.SafeDumper):
    """YAML with lists indented under their key, as yamllint's default wants."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def hash_table(requirements: Iterable[str], hashes_of: Callable[[str, str], list[str]]) -> dict[str, list[str]]:
    """Each `name==version` requirement with the sha256 of its files: paddleocr_image_paddle_hashes' form."""
    table = {}
    for requirement in requirements:
        match = PIN.match(requirement)
        if not match or match.group(0) != requirement:
            raise ValueError(f"{requirement}: give an exact pin, name==version")
        table[requirement] = hashes_of(*match.groups())
    return table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("locks", nargs="*", type=Path)
    parser.add_argument("--index-url", default=PYPI_SIMPLE, help="simple index (PEP 691 JSON or PEP 503 HTML)")
    parser.add_argument("--print", nargs="+", default=[], metavar="NAME==VERSION", dest="requirements",
                        help="write these requirements' hashes to standard output as YAML instead")
    args = parser.parse_args(argv)
    if bool(args.locks) == bool(args.requirements):
        parser.error("give lock files or --print requirements")
    with requests.Session() as session:
        hashes_of = index_hashes(args.index_url, session)
        if args.requirements:
            yaml.dump(hash_table(args.requirements, hashes_of), sys.stdout, Dumper=IndentedDumper,
                      sort_keys=False, explicit_start=True)
            return
        for lock in args.locks:
            lock.write_text(hash_lock(lock.read_text(), hashes_of))
            print(f"{lock}: {len(pins(lock.read_text()))} packages hash-pinned")


if __name__ == "__main__":
    main()
