from __future__ import annotations

import hashlib
import io
import tarfile

import pytest
import yaml

from paddleocr_fleet.catalog import load_catalog
from paddleocr_fleet.mirror import write_lock
from support.mirror_standin import deterministic_tar, paddleocr3_config


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


def test_served_mirror_counts_bytes_truncates_on_request_and_locks(tmp_path):
    """The real mirror server on loopback: byte accounting, the truncated fault route, first-fetch locking."""
    import requests

    from paddleocr_fleet.mirror import record_lock
    from support.testing import running_mirror

    catalog = load_catalog()
    for key in catalog.archives(["ppocrv4-mobile"]):
        archive = tmp_path / "models" / key
        archive.parent.mkdir(parents=True, exist_ok=True)
        archive.write_bytes(key.encode() * 100)
    with running_mirror(tmp_path, "127.0.0.1", 18931) as base:
        requests.post(f"{base}/_stats/reset", timeout=5)
        lock = record_lock(catalog, ["ppocrv4-mobile"], {"ppocr": f"{base}/models/ppocr/"}, tmp_path / "lock.yml")
        served = requests.get(f"{base}/_stats", timeout=5).json()
        key = "ppocr/PP-OCRv4/chinese/ch_PP-OCRv4_det_infer.tar"
        assert lock[key] == {"sha256": hashlib.sha256(key.encode() * 100).hexdigest(), "size": len(key) * 100}
        assert served[f"/models/{key}"] == len(key) * 100
        assert record_lock(catalog, ["ppocrv4-mobile"], {"ppocr": "http://127.0.0.1:9/"}, tmp_path / "lock.yml") == lock

        raw = requests.get(f"{base}/_truncated/models/{key}", timeout=5, stream=True)
        assert int(raw.headers["Content-Length"]) == len(key) * 100
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            raw.content  # noqa: B018 - reading the body is the point


def test_the_shipped_mirror_serves_files_and_no_test_routes(tmp_path):
    import functools

    import requests

    from paddleocr_fleet.mirror import MirrorHandler
    from support.testing import serving

    (tmp_path / "models.lock.yml").write_text("archives: {}\n")
    with serving(functools.partial(MirrorHandler, directory=str(tmp_path))) as base:
        assert requests.get(f"{base}/models.lock.yml", timeout=5).text == "archives: {}\n"
        assert requests.get(f"{base}/_stats", timeout=5).status_code == 404
        assert requests.get(f"{base}/_truncated/models.lock.yml", timeout=5).status_code == 404


@pytest.mark.parametrize(("role", "model", "post"), [
    ("det", "PP-OCRv4_mobile_det", "DBPostProcess"),
    ("rec", "PP-OCRv4_mobile_rec", "CTCLabelDecode"),
    ("cls", "PP-LCNet_x0_25_textline_ori", None),
])
def test_the_3x_layouts_inference_yml_is_labelled_a_stand_in_and_names_its_model(role, model, post):
    text = paddleocr3_config(role, model, ["a", "b"])
    assert text.startswith("# STAND-IN written by the paddleocr-fleet test sandbox")
    config = yaml.safe_load(text)
    assert config["Global"]["model_name"] == model
    assert config["PostProcess"].get("name") == post
    if role == "rec":
        assert config["PostProcess"]["character_dict"] == ["a", "b"]
