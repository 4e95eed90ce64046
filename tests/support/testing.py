"""Helpers the integration and molecule tests share: a private local mirror and a corrupted archive."""

from __future__ import annotations

import contextlib
import functools
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

from support.mirror_standin import FaultyMirrorHandler


def docker0_address() -> str:
    """The docker bridge gateway: the address sandbox hosts reach the controller on."""
    out = subprocess.run(["ip", "-4", "-o", "addr", "show", "docker0"], capture_output=True, text=True, check=True)
    return out.stdout.split()[3].split("/")[0]


@contextlib.contextmanager
def serving(handler, bind: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve HTTP with handler in a thread, on bind:port (0: any free port); yields the base URL."""
    server = ThreadingHTTPServer((bind, port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://{bind}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def running_mirror(root: Path, bind: str, port: int) -> Iterator[str]:
    """Serve root as the mirror does, with the byte accounting and the truncation route, in a thread."""
    with serving(functools.partial(FaultyMirrorHandler, directory=str(root)), bind, port) as url:
        yield url


def corrupt_copy(archive: Path, target: Path) -> None:
    """Copy an archive with one byte flipped in the middle: same size, different sha256."""
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(bytes(data))


@contextlib.contextmanager
def gpg_home() -> Iterator[Path]:
    """An empty GnuPG home with a short path (gpg-agent's socket path must stay under the kernel's 108 bytes, which
    pytest's nested tmp_path can exceed); its agent is stopped afterwards."""
    home = Path(tempfile.mkdtemp(prefix="gpg-", dir="/tmp"))
    try:
        yield home
    finally:
        subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], capture_output=True, check=False)
        shutil.rmtree(home, ignore_errors=True)
