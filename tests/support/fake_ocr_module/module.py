"""A fake OCR module for the server's unit tests (tests/test_serve.py), loaded as serve.py loads ocr_system: it
reads no text, it names each image's size, so the tests see which pages reached the engine."""

from __future__ import annotations

import base64
import binascii
import io
from typing import Any

import numpy as np
from PIL import Image


class FakeOCR:
    def __init__(self, max_image_bytes: int = 1 << 20, use_angle_cls: bool = True, fail_warm_up: bool = False) -> None:
        self.max_image_bytes = max_image_bytes
        self.use_angle_cls = use_angle_cls
        self.fail_warm_up = fail_warm_up

    def decode_base64(self, data: str, name: str, max_bytes: int) -> bytes:
        if len(data) * 3 // 4 > max_bytes:
            raise ValueError(f"{name} is larger than the {max_bytes} byte limit")
        try:
            return base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"{name} is not valid base64") from None

    def decode_image_bytes(self, raw: bytes, name: str) -> np.ndarray:
        try:
            return np.asarray(Image.open(io.BytesIO(raw)).convert("RGB"))[:, :, ::-1]
        except OSError:
            raise ValueError(f"{name} is not a decodable image (PNG, JPEG, BMP, TIFF or WebP)") from None

    def predict(self, images: list[np.ndarray], use_angle_cls: bool | None = None) -> list[list[dict[str, Any]]]:
        return [[{"text": f"{image.shape[1]}x{image.shape[0]} cls={use_angle_cls}", "confidence": 0.9,
                  "text_region": [[0, 0], [image.shape[1], 0], [image.shape[1], image.shape[0]], [0, image.shape[0]]]}]
                for image in images]

    def serving_method(self, images: Any = None, **_: Any) -> list[list[dict[str, Any]]]:
        if not isinstance(images, list) or not images:
            raise ValueError('request needs "images": a non-empty list of base64-encoded images')
        return self.predict([self.decode_image_bytes(self.decode_base64(data, f"images[{index}]",
                                                                        self.max_image_bytes), f"images[{index}]")
                             for index, data in enumerate(images)])

    def warm_up(self) -> None:
        if self.fail_warm_up:
            raise RuntimeError("no model")

    def gpu_memory_reserved_bytes(self) -> int | None:
        return None


def create(**init_args: Any) -> FakeOCR:
    return FakeOCR(**init_args)
