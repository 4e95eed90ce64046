from __future__ import annotations

import copy

import pytest
import yaml

from paddleocr_fleet import CATALOG_PATH
from paddleocr_fleet.catalog import CatalogError, load_catalog, parse_catalog

REFERENCE_SETS = {
    "ppocr-2.0-mobile", "ppocr-2.0-slim", "ppocr-2.0-server", "ppocrv2-mobile", "ppocrv2-slim",
    "ppocrv3-mobile", "ppocrv3-slim", "ppocrv3-en", "ppocrv4-mobile", "ppocrv4-server",
    "ppocrv4-mobile-3x", "ppocrv5-mobile", "ppocrv5-server", "ppocrv6-tiny", "ppocrv6-small", "ppocrv6-medium",
}


@pytest.fixture
def raw() -> dict:
    return yaml.safe_load(CATALOG_PATH.read_text())


def test_catalog_lists_every_reference_set_and_defaults_to_v6_small():
    catalog = load_catalog()
    assert set(catalog.sets) == REFERENCE_SETS
    assert catalog.default_set == "ppocrv6-small" and catalog.sets["ppocrv6-small"].runtime == "onnxruntime"
    assert catalog.sets["ppocrv5-mobile"].runtime == "paddleocr3"
    # The v4 mobile weights in PaddleX's 3.x layout: what the 3.x runtime is tested with here.
    assert catalog.sets["ppocrv4-mobile-3x"].runtime == "paddleocr3"
    assert catalog.sets["ppocrv4-mobile-3x"].dictionary is None
    assert catalog.sets["ppocrv3-en"].dictionary == "en_dict.txt"
    # PP-OCRv6 as PaddleX's ONNX exports, on the onnxruntime runtime (no Paddle).
    for tier in ("tiny", "small", "medium"):
        v6 = catalog.sets[f"ppocrv6-{tier}"]
        assert (v6.runtime, v6.ocr_version) == ("onnxruntime", "PP-OCRv6")
        assert v6.models["det"].path == f"PP-OCRv6_{tier}_det_onnx_infer.tar"


def test_shared_cls_archive_is_listed_once():
    catalog = load_catalog()
    archives = catalog.archives(["ppocrv3-mobile", "ppocrv4-mobile"])
    assert "ppocr/dygraph_v2.0/ch/ch_ppocr_mobile_v2.0_cls_infer.tar" in archives
    assert len(archives) == 5


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda c: c["sets"]["ppocrv4-mobile"]["models"].pop("rec"), "set 'ppocrv4-mobile': field 'models' lacks rec"),
        (lambda c: c["sets"]["ppocrv3-en"].update(runtime="onnx"), "set 'ppocrv3-en': field 'runtime' must be one of"),
        (lambda c: c["sets"]["ppocrv2-slim"].update(size_mb="big"), "set 'ppocrv2-slim': field 'size_mb' must be"),
        (lambda c: c["sets"]["ppocrv4-server"].update(ocr_version="PP-OCRv9"), "set 'ppocrv4-server': field 'ocr_version'"),
        (lambda c: c["sets"]["ppocrv3-slim"].pop("dict"), "set 'ppocrv3-slim': field 'dict' must name"),
        (lambda c: c["sets"]["ppocrv4-mobile"]["models"]["det"].update(source="cdn"),
         "set 'ppocrv4-mobile' models.det: field 'source' names unknown source 'cdn'"),
        (lambda c: c["sets"]["ppocrv4-mobile"]["models"]["det"].update(path="../det.tar"),
         "set 'ppocrv4-mobile' models.det: field 'path' must be a relative path"),
        (lambda c: c["sets"]["ppocrv4-mobile"]["models"]["cls"].update(dir="other"),
         "set 'ppocrv4-mobile' models.cls: field 'dir' must be the archive's name"),
        (lambda c: c.update(default_set="nope"), "field 'default_set' names unknown set 'nope'"),
        (lambda c: c["sources"].update(ppocr="ftp://x/"), "source 'ppocr' must be an http(s) URL"),
    ],
)
def test_malformed_catalog_is_rejected_naming_set_and_field(raw, mutate, message):
    broken = copy.deepcopy(raw)
    mutate(broken)
    with pytest.raises(CatalogError) as error:
        parse_catalog(broken)
    assert message in str(error.value)
