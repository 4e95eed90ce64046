"""Controller-side tools of paddleocr-fleet: model catalog, local mirror, sample image, endpoint check."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CATALOG_PATH = PROJECT_ROOT / "files" / "models.yml"
SAMPLES_PATH = PROJECT_ROOT / "roles" / "paddleocr_verify" / "files" / "samples.yml"
