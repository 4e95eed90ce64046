"""The `ocr_system` module: PP-OCR text detection, angle classification and recognition.

serve.py loads it from this directory (create) and serves it as HubServing did:
POST /predict/ocr_system {"images": ["<base64>"]} ->
{"msg": "", "results": [[{"text", "confidence", "text_region"}]], "status": "000"}.
Every setting arrives as an init_arg from the HubServing config (config.json).
"""

from __future__ import annotations

import base64
import binascii
import os
from typing import Any

import cv2
import numpy as np

DEFAULT_MAX_IMAGE_BYTES = 16 * 1024 * 1024


def resolve_dict(dict_name: str | None) -> str | None:
    """A bare dictionary name refers to the file the paddleocr wheel ships in ppocr/utils/."""
    if not dict_name or os.path.isabs(dict_name):
        return dict_name
    import paddleocr

    return os.path.join(os.path.dirname(paddleocr.__file__), "ppocr", "utils", dict_name)


def decode_image(data: Any, index: int, max_bytes: int) -> np.ndarray:
    """Decode one base64 image; raise ValueError naming the image and what is wrong with it."""
    if not isinstance(data, str) or not data.strip():
        raise ValueError(f"images[{index}] is empty or not a base64 string")
    if data.startswith("data:") and "," in data:
        data = data.split(",", 1)[1]
    if len(data) * 3 // 4 > max_bytes:
        raise ValueError(f"images[{index}] is larger than the {max_bytes} byte limit")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"images[{index}] is not valid base64") from None
    image = cv2.imdecode(np.frombuffer(raw, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None or image.size == 0:
        raise ValueError(f"images[{index}] is not a decodable image (PNG, JPEG, BMP, TIFF or WebP)")
    return image


class OCRSystem:
    def __init__(
        self,
        det_model_dir: str = "/models/det",
        rec_model_dir: str = "/models/rec",
        cls_model_dir: str = "/models/cls",
        rec_char_dict_path: str | None = "ppocr_keys_v1.txt",
        ocr_version: str = "PP-OCRv4",
        lang: str = "ch",
        use_angle_cls: bool = True,
        use_gpu: bool = False,
        gpu_id: int = 0,
        gpu_mem: int = 500,
        enable_mkldnn: bool = False,
        cpu_threads: int = 4,
        det_limit_side_len: int = 960,
        rec_batch_num: int = 6,
        use_tensorrt: bool = False,
        max_image_bytes: int = DEFAULT_MAX_IMAGE_BYTES,
        **_: Any,
    ) -> None:
        from paddleocr import PaddleOCR

        for path in (det_model_dir, rec_model_dir, cls_model_dir if use_angle_cls else det_model_dir):
            if not os.path.isfile(os.path.join(path, "inference.pdiparams")):
                raise FileNotFoundError(f"model directory {path} has no inference.pdiparams")
        self.use_angle_cls = use_angle_cls
        self.use_gpu = use_gpu
        self.gpu_id = gpu_id
        self.max_image_bytes = max_image_bytes
        self.engine = PaddleOCR(
            det_model_dir=det_model_dir,
            rec_model_dir=rec_model_dir,
            cls_model_dir=cls_model_dir,
            rec_char_dict_path=resolve_dict(rec_char_dict_path),
            ocr_version=ocr_version,
            lang=lang,
            use_angle_cls=use_angle_cls,
            use_gpu=use_gpu,
            gpu_id=gpu_id,
            gpu_mem=gpu_mem,
            enable_mkldnn=enable_mkldnn,
            cpu_threads=cpu_threads,
            det_limit_side_len=det_limit_side_len,
            rec_batch_num=rec_batch_num,
            use_tensorrt=use_tensorrt,
            show_log=False,
        )

    def predict(self, images: list[np.ndarray], use_angle_cls: bool | None = None) -> list[list[dict[str, Any]]]:
        """Each image's lines; use_angle_cls turns the angle classifier off for a call (None: as configured)."""
        cls = self.use_angle_cls if use_angle_cls is None else use_angle_cls and self.use_angle_cls
        results = []
        for image in images:
            pages = self.engine.ocr(image, cls=cls)
            lines = pages[0] if pages and pages[0] else []
            results.append(
                [
                    {
                        "text": text,
                        "confidence": float(confidence),
                        "text_region": np.asarray(box).astype(np.int32).tolist(),
                    }
                    for box, (text, confidence) in lines
                ]
            )
        return results

    def warm_up(self) -> None:
        """One tiny inference on a drawn word: Paddle initialises lazily, and /ready means this ran."""
        image = np.full((48, 200, 3), 255, dtype=np.uint8)
        cv2.putText(image, "Ready 42", (8, 34), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (0, 0, 0), 2)
        self.predict([image])

    def gpu_memory_reserved_bytes(self) -> int | None:
        """GPU memory Paddle's allocator holds in this process, for /metrics; None on CPU."""
        if not self.use_gpu:
            return None
        import paddle

        try:
            return int(paddle.device.cuda.memory_reserved(self.gpu_id))
        except (AttributeError, RuntimeError, ValueError):
            return None

    def serving_method(self, images: Any = None, **_: Any) -> list[list[dict[str, Any]]]:
        if not isinstance(images, list) or not images:
            raise ValueError('request needs "images": a non-empty list of base64-encoded images')
        decoded = [decode_image(data, index, self.max_image_bytes) for index, data in enumerate(images)]
        return self.predict(decoded)


def create(**init_args: Any) -> OCRSystem:
    """What serve.py calls with the init_args of config.json."""
    return OCRSystem(**init_args)
