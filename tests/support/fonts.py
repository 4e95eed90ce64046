"""Fonts the tests render documents with, beyond the controller's DejaVu Sans."""

from __future__ import annotations

import tarfile
from pathlib import Path

from support.mirror_standin import fetch_wheel

# IPAexGothic (IPA Font License) for Japanese lines: no Debian font package is installed on the controller, and
# this PyPI source distribution carries the font file.
JAPANESE_FONT_SDIST = "japanize-matplotlib-1.1.3.tar.gz"
JAPANESE_FONT_REQUIREMENT = "japanize-matplotlib==1.1.3"
JAPANESE_FONT_MEMBER = "japanize-matplotlib-1.1.3/japanize_matplotlib/fonts/ipaexg.ttf"


def japanese_font(cache: Path) -> Path:
    """IPAexGothic's TrueType file, fetched once into the cache."""
    font = cache / "fonts" / "ipaexg.ttf"
    if not font.exists():
        sdist = fetch_wheel(cache, JAPANESE_FONT_SDIST, JAPANESE_FONT_REQUIREMENT)
        with tarfile.open(sdist) as archive:
            member = archive.extractfile(JAPANESE_FONT_MEMBER)
            assert member is not None, f"{JAPANESE_FONT_SDIST} has no {JAPANESE_FONT_MEMBER}"
            data = member.read()
        font.parent.mkdir(parents=True, exist_ok=True)
        partial = font.with_suffix(".partial")
        partial.write_bytes(data)
        partial.rename(font)
    return font
