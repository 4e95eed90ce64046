"""The bench's stand-in for PaddleOCR's deploy/hubserving/ocr_system module, served by `hub serving start -m ocr_system`.

Built as the official module is (release/2.10): a PaddleHub module whose `_initialize(use_gpu=False,
enable_mkldnn=False)` takes tools/infer's argument defaults, overrides them with params.py's values and
runs TextSystem; `serving_method` decodes each base64 image and predicts. The difference: tools/ and ppocr/
come from the paddleocr 2.10 wheel the image already holds (the official image has a repository checkout),
and the model directories from the environment (OFFICIAL_DET_MODEL_DIR, OFFICIAL_CLS_MODEL_DIR,
OFFICIAL_REC_MODEL_DIR, OFFICIAL_REC_CHAR_DICT_PATH: a path or a name in the wheel's ppocr/utils), where
params.py has paths relative to the checkout.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import numpy as np
import paddlehub as hub
import paddleocr  # puts the wheel's tools/ and ppocr/ on sys.path, where a checkout has them
from paddlehub.module.module import moduleinfo, serving
from tools.infer.predict_system import TextSystem
from tools.infer.utility import base64_to_cv2, parse_args

# params.py's detector, recogniser and classifier settings (the model paths aside).
OFFICIAL_PARAMS: dict[str, Any] = {
    "det_algorithm": "DB", "det_limit_side_len": 960, "det_limit_type": "max", "det_db_thresh": 0.3,
    "det_db_box_thresh": 0.5, "det_db_unclip_ratio": 1.6, "use_dilation": False, "det_db_score_mode": "fast",
    "rec_algorithm": "SVTR_LCNet", "rec_batch_num": 6, "max_text_length": 25, "use_space_char": True,
    "use_angle_cls": True, "cls_image_shape": "3, 48, 192", "label_list": ["0", "180"], "cls_batch_num": 30,
    "cls_thresh": 0.9, "use_pdserving": False, "use_tensorrt": False, "drop_score": 0.5,
}


@moduleinfo(name="ocr_system", version="1.0.0", summary="ocr system service (bench stand-in of the official module)",
            author="paddleocr-fleet bench", author_email="", type="cv/PP-OCR_system")
class OCRSystem(hub.Module):
    def _initialize(self, use_gpu: bool = False, enable_mkldnn: bool = False) -> None:
        argv, sys.argv = sys.argv, sys.argv[:1]  # parse_args reads the command line: hub's own arguments
        try:
            cfg = parse_args()
        finally:
            sys.argv = argv
        for key, value in OFFICIAL_PARAMS.items():
            setattr(cfg, key, value)
        cfg.det_model_dir = os.environ["OFFICIAL_DET_MODEL_DIR"]
        cfg.cls_model_dir = os.environ["OFFICIAL_CLS_MODEL_DIR"]
        cfg.rec_model_dir = os.environ["OFFICIAL_REC_MODEL_DIR"]
        # A bare dictionary name is a file the paddleocr wheel ships in ppocr/utils/, as the service reads it.
        dictionary = os.environ.get("OFFICIAL_REC_CHAR_DICT_PATH") or "ppocr_keys_v1.txt"
        cfg.rec_char_dict_path = dictionary if os.path.isabs(dictionary) else os.path.join(
            os.path.dirname(paddleocr.__file__), "ppocr", "utils", dictionary)
        cfg.use_gpu = use_gpu
        cfg.ir_optim = True
        cfg.enable_mkldnn = enable_mkldnn
        self.text_sys = TextSystem(cfg)

    def predict(self, images: list[np.ndarray]) -> list[list[dict[str, Any]]]:
        results = []
        for image in images:
            if image is None:
                results.append([])
                continue
            dt_boxes, rec_res, _ = self.text_sys(image)
            results.append([{"text": text, "confidence": float(score), "text_region": box.astype(np.int32).tolist()}
                            for box, (text, score) in zip(dt_boxes, rec_res)])
        return results

    @serving
    def serving_method(self, images: list[str], **kwargs: Any) -> list[list[dict[str, Any]]]:
        return self.predict([base64_to_cv2(image) for image in images])
