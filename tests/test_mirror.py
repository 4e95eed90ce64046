from __future__ import annotations

import hashlib
import io
import tarfile

import yaml

from paddleocr_fleet.catalog import load_catalog
from paddleocr_fleet.mirror import deterministic_tar, write_lock


def test_deterministic_tar_is_stable_and_unpacks_to_one_directory():
    members = {"ch_PP-OCRv4_det_infer/inference.pdmodel": b"model", "ch_PP-OCRv4_det_infer/inference.pdiparams": b"w"}
    first, second = deterministic_tar(members), deterministic_tar(dict(reversed(list(members.items()))))
    assert first == second
    with tarfile.open(fileobj=io.BytesIO(first)) as tar:
        names = tar.getnames()
        assert names[0] == "ch_PP-OCRv4_det_infer"
        assert tar.extractfile("ch_PP-OCRv4_det_infer/inference.pdiparams").read() == b"w"


def test_lock_records_sha256_and_size_of_present_archives(tmp_path):
    catalog = load_catalog()
    archive = tmp_path / "ppocr/PP-OCRv4/chinese/ch_PP-OCRv4_det_infer.tar"
    archive.parent.mkdir(parents=True)
    archive.write_bytes(b"x" * 1000)
    lock_path = tmp_path / "models.lock.yml"
    write_lock(tmp_path, catalog, lock_path)
    lock = yaml.safe_load(lock_path.read_text())["archives"]
    assert lock == {
        "ppocr/PP-OCRv4/chinese/ch_PP-OCRv4_det_infer.tar": {
            "sha256": hashlib.sha256(b"x" * 1000).hexdigest(),
            "size": 1000,
        }
    }
