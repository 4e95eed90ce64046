"""Hash-pinned locks: the rewriting tool, and the image's locks as committed."""

from __future__ import annotations

import pytest

from paddleocr_fleet import PROJECT_ROOT
from paddleocr_fleet.pinning import hash_lock, pins, release_hashes

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
