"""Controller-side tools of paddleocr-fleet: model catalog, local mirror, sample image, endpoint check.

The data they read ships inside the package (data/, symlinks into roles/ in the checkout, copies in a wheel),
so an installed package needs no checkout next to it.
"""

from importlib.resources import files
from pathlib import Path


def data_path(name: str) -> Path:
    """A file shipped in the package's data/ directory (the package is installed as plain files)."""
    return Path(str(files(__name__) / "data" / name))


CATALOG_PATH = data_path("models.yml")
SAMPLES_PATH = data_path("samples/samples.yml")
