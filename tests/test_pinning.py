"""Hash-pinned locks: the rewriting tool, and the image's locks as committed."""

from __future__ import annotations

import re

import pytest
import yaml

from paddleocr_fleet.pinning import hash_lock, hash_table, html_files, pins, release_hashes
from support import PROJECT_ROOT

LOCKS = sorted((PROJECT_ROOT / "roles" / "paddleocr_image" / "files").glob("*.lock"))
FILES = [
    {"filename": "Flask-3.1.3-py3-none-any.whl", "hashes": {"sha256": "aa"}},
    {"filename": "flask-3.1.3.tar.gz", "hashes": {"sha256": "bb"}},
    {"filename": "flask-3.1.30-py3-none-any.whl", "hashes": {"sha256": "cc"}},
    {"filename": "flask_login-3.1.3-py3-none-any.whl", "hashes": {"sha256": "dd"}},
    {"filename": "flask-3.1.3.exe", "hashes": {"sha256": "ee"}},
    {"filename": "flask-3.1.3.post1.tar.gz", "hashes": {"sha256": "ff"}},
]


def test_release_hashes_take_every_file_of_that_release_only():
    assert release_hashes(FILES, "Flask", "3.1.3") == ["aa", "bb"]


def test_a_release_the_index_does_not_have_is_an_error():
    with pytest.raises(LookupError, match="Flask==9.9: the index lists no file"):
        release_hashes(FILES, "Flask", "9.9")


def test_hash_lock_keeps_comments_and_replaces_earlier_hashes():
    lock = "# pinned\nFlask==3.1.3 \\\n    --hash=sha256:old\nnumpy==2.4.6\n"
    hashed = hash_lock(lock, lambda name, version: {"Flask": ["aa", "bb"], "numpy": ["cc"]}[name])
    assert hashed == ("# pinned\nFlask==3.1.3 \\\n    --hash=sha256:aa \\\n    --hash=sha256:bb\n"
                      "numpy==2.4.6 \\\n    --hash=sha256:cc\n")
    assert pins(hashed) == [("Flask", "3.1.3"), ("numpy", "2.4.6")]
    assert hash_lock(hashed, lambda name, version: {"Flask": ["aa", "bb"], "numpy": ["cc"]}[name]) == hashed


@pytest.mark.parametrize("lock", LOCKS, ids=[lock.name for lock in LOCKS])
def test_every_package_of_the_image_locks_has_its_hashes(lock):
    """pip install --require-hashes refuses a lock with any requirement lacking a hash: run make locks."""
    text = lock.read_text()
    requirements = [line for line in text.splitlines() if line and not line.startswith(("#", " "))]
    assert requirements and len(requirements) == len(pins(text))
    blocks = text.split("\n")
    for n, line in enumerate(blocks):
        if line in requirements:
            assert line.endswith(" \\") and blocks[n + 1].strip().startswith("--hash=sha256:"), f"{lock.name}: {line}"


def test_a_pep_503_page_gives_the_files_whose_links_carry_a_sha256():
    page = ('<a href="https://paddle-whl.example/cu126/paddlepaddle_gpu-3.3.1-cp311-cp311-linux_x86_64.whl#sha256='
            + "AB" * 32 + '">x</a>\n<a href="paddlepaddle_gpu-3.3.1-cp312-cp312-linux_x86_64.whl#md5=00">y</a>\n'
            '<a href="../paddlepaddle_gpu-3.3.0-cp311-cp311-linux_x86_64.whl#sha256=' + "cd" * 32 + '">z</a>')
    files = html_files(page)
    assert files == [
        {"filename": "paddlepaddle_gpu-3.3.1-cp311-cp311-linux_x86_64.whl", "hashes": {"sha256": "ab" * 32}},
        {"filename": "paddlepaddle_gpu-3.3.0-cp311-cp311-linux_x86_64.whl", "hashes": {"sha256": "cd" * 32}},
    ]
    assert release_hashes(files, "paddlepaddle-gpu", "3.3.1") == ["ab" * 32]


def test_the_printed_table_is_the_paddle_hashes_variable_and_takes_exact_pins_only():
    assert hash_table(["paddlepaddle-gpu==3.3.1"], lambda name, version: ["aa"]) == {"paddlepaddle-gpu==3.3.1": ["aa"]}
    with pytest.raises(ValueError, match="astor>=0.8: give an exact pin"):
        hash_table(["astor>=0.8"], lambda name, version: ["aa"])


def test_the_roles_cpu_paddle_defaults_have_their_hashes():
    files = PROJECT_ROOT / "roles" / "paddleocr_image"
    defaults = re.findall(r"'(paddlepaddle==[^']+)'", (files / "defaults" / "main.yml").read_text())
    known = yaml.safe_load((files / "files" / "paddle-hashes.yml").read_text())
    assert sorted(set(defaults)) == ["paddlepaddle==3.2.2", "paddlepaddle==3.3.1"]  # paddleocr3, paddleocr2 runtime
    for default in defaults:
        assert len(known[default]) >= 2 and all(re.fullmatch(r"[0-9a-f]{64}", digest) for digest in known[default])
