"""The verification samples: real images with the text OCR must read from them.

roles/paddleocr_verify/files/samples.yml lists them; the verify role and `paddleocr-check` both use it (the package
ships it with its images as data/samples/). `python -m paddleocr_fleet.samples [SAMPLES_YML]` re-renders the
images of that list, by default the package's (in a checkout: the role's files), in DejaVu Sans (fonts-dejavu-core).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from paddleocr_fleet import SAMPLES_PATH

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


@dataclass(frozen=True)
class Sample:
    image: Path
    expect: tuple[str, ...]


def load_samples(path: Path = SAMPLES_PATH) -> list[Sample]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [Sample(path.parent / item["image"], tuple(item["expect"])) for item in raw["samples"]]


def normalise(text: str) -> str:
    """The text as the fleet's checks compare it: without spacing, case folded (the collection's filter
    paddleocr.fleet.missing_texts applies the same rule: tests/test_probe_text.py holds them to it)."""
    return re.sub(r"\s+", "", text).casefold()


def missing_texts(expected: tuple[str, ...] | list[str], recognised: list[str]) -> list[str]:
    """Expected lines that no recognised line contains (case and spacing ignored)."""
    lines = [normalise(line) for line in recognised]
    return [text for text in expected if not any(normalise(text) in line for line in lines)]


def render(path: Path, lines: tuple[str, ...], width: int = 900, line_height: int = 90) -> None:
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (width, 40 + line_height * len(lines)), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(str(FONT), 56)
    for index, line in enumerate(lines):
        draw.text((40, 30 + index * line_height), line, fill="black", font=font)
    image.save(path, optimize=True)


if __name__ == "__main__":
    for sample in load_samples(Path(sys.argv[1]) if len(sys.argv) > 1 else SAMPLES_PATH):
        render(sample.image, sample.expect)
        print(f"rendered {sample.image}")
