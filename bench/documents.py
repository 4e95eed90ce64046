"""Rendered document images of several sizes for the benchmark (DejaVu Sans, deterministic text)."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
WORDS = ["invoice", "total", "amount", "paid", "customer", "order", "shipping", "address", "date", "number", "account", "reference", "payment", "due", "balance", "tax", "item", "quantity", "price", "description"]
# name -> (width, height, font size, lines)
DOCUMENTS = {
    "receipt-600x200": (600, 200, 36, 2),
    "letter-1240x1754": (1240, 1754, 32, 24),
    "page-2480x3508": (2480, 3508, 48, 40),
}


def line_text(index: int) -> str:
    words = [WORDS[(index * 7 + k * 3) % len(WORDS)] for k in range(5)]
    return f"{index + 1:02d} " + " ".join(words) + f" {1000 + index * 37}"


def render_documents(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, (width, height, size, lines) in DOCUMENTS.items():
        path = directory / f"{name}.png"
        if not path.exists():
            image = Image.new("RGB", (width, height), "white")
            draw = ImageDraw.Draw(image)
            font = ImageFont.truetype(FONT, size)
            step = (height - 2 * size) // max(lines, 1)
            for index in range(lines):
                draw.text((size, size + index * step), line_text(index), fill="black", font=font)
            image.save(path)
        paths.append(path)
    return paths
