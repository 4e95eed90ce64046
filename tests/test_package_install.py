"""The Python tooling installs with pip from the repository and runs without a checkout next to it: the model
catalog and the verification samples are package data, and the test helpers (tests/support) are not shipped."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from paddleocr_fleet.catalog import load_catalog
from support import PROJECT_ROOT

# Offline: no index, no build isolation (the venv's setuptools builds the wheel), no dependencies.
PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
OFFLINE = ["--no-deps", "--no-build-isolation", "--no-index"]


def run(argv: list[str], cwd: Path, **env: str) -> str:
    proc = subprocess.run(argv, cwd=cwd, env=dict(os.environ, **env), capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, f"{argv}: {proc.stdout}{proc.stderr}"
    return proc.stdout


def test_the_installed_package_reads_its_catalog_and_samples_outside_a_checkout(tmp_path: Path):
    # What pip builds from: the package sources (data/'s symlinks into roles/ resolved) and pyproject.toml,
    # copied so the build leaves nothing in the checkout.
    source = tmp_path / "source"
    shutil.copytree(PROJECT_ROOT / "src", source / "src", ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
    shutil.copy(PROJECT_ROOT / "pyproject.toml", source)
    run([*PIP, "wheel", "--quiet", *OFFLINE, "--wheel-dir", str(tmp_path / "dist"), str(source)], tmp_path)
    [wheel] = (tmp_path / "dist").glob("paddleocr_fleet-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for data in ("data/models.yml", "data/samples/samples.yml", "data/samples/sample.png"):
        assert f"paddleocr_fleet/{data}" in names
    assert not [name for name in names if "standin_repo" in name or name.endswith("/testing.py")]

    site, elsewhere = tmp_path / "site", tmp_path / "elsewhere"
    elsewhere.mkdir()
    run([*PIP, "install", "--quiet", *OFFLINE, "--target", str(site), str(wheel)], tmp_path)

    # The installed copy, not the checkout's editable one, answers from a directory outside the checkout.
    listed = run([str(site / "bin" / "paddleocr-mirror"), "sets"], elsewhere, PYTHONPATH=str(site))
    catalog = load_catalog()
    assert [line.split()[0] for line in listed.splitlines()] == list(catalog.sets)
    assert f"{catalog.default_set} " in next(line for line in listed.splitlines() if line.endswith("(default)"))

    probe = ("import paddleocr_fleet; from paddleocr_fleet.samples import load_samples\n"
             "print(paddleocr_fleet.__file__)\n"
             "for sample in load_samples(): print(sample.image, sample.image.stat().st_size)\n")
    module, *images = run([sys.executable, "-c", probe], elsewhere, PYTHONPATH=str(site)).splitlines()
    assert Path(module).is_relative_to(site)
    assert images and all(Path(line.rsplit(" ", 1)[0]).is_relative_to(site) for line in images)
