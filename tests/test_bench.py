"""The benchmark's arithmetic and its official peer's inputs (bench/run.py, bench/official_serving.py): ratios are
taken within a round and summarised as median and spread; the peer installs what the service image lacks."""

from __future__ import annotations

import sys

from support import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "bench"))
import official_serving
import run


def level(concurrency: int, throughput: float, errors: int = 0) -> dict:
    return {"concurrency": concurrency, "throughput_img_s": throughput, "p50_ms": 100.0, "p95_ms": 200.0,
            "max_ms": 300.0, "errors": errors}


def engine(throughput: float, decode_ms: float = 0.0) -> dict:
    return {"throughput_img_s": throughput, "decode_mean_ms": decode_ms,
            "with_decode_img_s": round(1000 / (1000 / throughput + decode_ms), 2)}


def test_ratios_are_taken_within_each_round_then_summarised_as_median_and_spread():
    # The machine slows down in round 2: every path drops, the per-round ratios stay put.
    rounds = [
        {"engine": engine(1.0, 40.0), "service": [level(1, 0.96), level(2, 0.90)],
         "official": [level(1, 0.5), level(2, 0.5)]},
        {"engine": engine(0.5, 80.0), "service": [level(1, 0.47), level(2, 0.48, errors=1)],
         "official": [level(1, 0.25), level(2, 0.24)]},
        {"engine": engine(1.0, 40.0), "service": [level(1, 0.97), level(2, 0.95)],
         "official": [level(1, 0.5), level(2, 0.5)]},
    ]
    result = run.summarise(rounds, [1, 2])
    assert result["service_best_over_engine"]["rounds"] == [0.96, 0.96, 0.97]
    # Beside it, the engine with the PNG decode the service does per request (1040 ms per image in round 1).
    assert result["service_best_over_engine_with_decode"]["rounds"] == [1.0, 1.0, 1.01]
    assert result["engine_decode_ms"]["median"] == 40.0
    assert result["service_best_over_engine"]["median"] == 0.96
    assert (result["service_best_over_engine"]["min"], result["service_best_over_engine"]["max"]) == (0.96, 0.97)
    assert result["service_over_official"]["1"]["rounds"] == [1.92, 1.88, 1.94]
    assert result["service_over_official"]["2"]["median"] == 1.9
    assert result["service"][1] == {"concurrency": 2, "throughput_img_s": 0.9, "p50_ms": 100.0, "p95_ms": 200.0,
                                    "max_ms": 300.0, "errors": 1}


def test_sets_are_compared_within_each_round_so_the_machines_drift_cancels():
    # Round 2 runs on a machine twice as slow for every set: the per-round ratios to the first set stay put.
    def sets(scale: float) -> dict:
        return {"v4": {"engine": engine(0.8 * scale), "service": [level(1, 0.7 * scale), level(4, 0.8 * scale)]},
                "v6-tiny": {"engine": engine(3.2 * scale), "service": [level(1, 2.8 * scale), level(4, 3.2 * scale)]}}

    ratios = run.against_first([sets(1.0), sets(0.5), sets(1.0)], ["v4", "v6-tiny"])
    assert list(ratios) == ["v6-tiny"]
    assert ratios["v6-tiny"]["engine"]["rounds"] == [4.0, 4.0, 4.0]
    assert ratios["v6-tiny"]["service"]["1"]["median"] == 4.0
    assert ratios["v6-tiny"]["service"]["4"]["rounds"] == [4.0, 4.0, 4.0]


def test_without_the_peer_there_is_no_official_row():
    rounds = [{"engine": engine(1.0), "service": [level(1, 0.9)]}] * 3
    assert "official" not in run.summarise(rounds, [1]) and "service_over_official" not in run.summarise(rounds, [1])


def test_the_peer_installs_paddlehub_and_only_what_the_service_image_lacks():
    image = official_serving.pins(official_serving.IMAGE_LOCK)
    missing = official_serving.missing_from_image()
    assert "paddlehub==2.4.0" in missing
    assert not [pin for pin in missing if image.get(pin.split("==")[0]) == pin.split("==")[1]]
    # paddleocr 2.10 is in both: the peer serves the same engine library the service has.
    assert image["paddleocr"] == official_serving.pins(official_serving.OFFICIAL / "requirements.lock")["paddleocr"]
