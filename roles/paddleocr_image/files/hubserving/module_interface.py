"""What the server needs of an OCR module (ocr_system/module.py's OCRSystem): HubServing's serving method, the
image decoder both APIs share, and the engine /ocr drives. warm_up and gpu_memory_reserved_bytes are optional."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np


class OCRModule(Protocol):
    max_image_bytes: int
    use_angle_cls: bool

    def serving_method(self, **inputs: Any) -> Any:
        """HubServing's call: the request's JSON object as keyword arguments; an error is the client's 101."""

    def decode_base64(self, data: str, name: str, max_bytes: int) -> bytes:
        """One base64 payload's bytes; ValueError naming it (`file`) when it is too large or not base64."""

    def decode_image_bytes(self, raw: bytes, name: str) -> np.ndarray:
        """An encoded image as a BGR array; ValueError naming it when it is none."""

    def predict(self, images: list[np.ndarray], use_angle_cls: bool | None = None) -> list[list[dict[str, Any]]]:
        """Each image's lines: text, confidence, text_region."""
