"""The `ocr_system` module: PP-OCR text detection, angle classification and recognition, on the image's
runtime: PaddleOCR 2.x (paddleocr2), PaddleOCR 3.x on Paddle (paddleocr3) or on ONNX Runtime (onnxruntime), chosen
by the init_arg `runtime`.

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


# The image decoder of both APIs: HubServing's images (here) and the `file` of /ocr (serve.py, through the
# module's decode_base64 and decode_image_bytes), so both name what is wrong in the same words.
def decode_base64(data: str, name: str, max_bytes: int) -> bytes:
    """The bytes of one base64 payload; raise ValueError naming it (images[0], file) when it is over max_bytes or
    not base64."""
    if len(data) * 3 // 4 > max_bytes:
        raise ValueError(f"{name} is larger than the {max_bytes} byte limit")
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{name} is not valid base64") from None


def decode_image_bytes(raw: bytes, name: str) -> np.ndarray:
    """An encoded image (PNG, JPEG, ...) as OpenCV's BGR array; raise ValueError naming it when it is none."""
    image = cv2.imdecode(np.frombuffer(raw, dtype=np.uint8), cv2.IMREAD_COLOR) if raw else None
    if image is None or image.size == 0:
        raise ValueError(f"{name} is not a decodable image (PNG, JPEG, BMP, TIFF or WebP)")
    return image


def decode_image(data: Any, index: int, max_bytes: int) -> np.ndarray:
    """One base64 image of a HubServing request (a data: URI too); raise ValueError naming it (images[index])."""
    name = f"images[{index}]"
    if not isinstance(data, str) or not data.strip():
        raise ValueError(f"{name} is empty or not a base64 string")
    if data.startswith("data:") and "," in data:
        data = data.split(",", 1)[1]
    return decode_image_bytes(decode_base64(data, name, max_bytes), name)


class PaddleOCR2Engine:
    """PaddleOCR 2.x (the paddleocr2 runtime): model directories of inference.pdmodel and inference.pdiparams."""

    def __init__(self, det_model_dir: str, rec_model_dir: str, cls_model_dir: str, use_angle_cls: bool,
                 rec_char_dict_path: str | None, ocr_version: str, lang: str, use_gpu: bool, gpu_id: int,
                 gpu_mem: int, enable_mkldnn: bool, cpu_threads: int, det_limit_side_len: int, rec_batch_num: int,
                 use_tensorrt: bool, **_: Any) -> None:
        from paddleocr import PaddleOCR

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

    def lines(self, image: np.ndarray, cls: bool) -> list[tuple[Any, str, float]]:
        pages = self.engine.ocr(image, cls=cls)
        return [(box, text, confidence) for box, (text, confidence) in (pages[0] if pages and pages[0] else [])]


class PaddleOCR3Engine:
    """PaddleOCR 3.x (the paddleocr3 runtime): model directories in PaddleX's layout, whose inference.yml names
    the model and its pre- and post-processing. Set like the 2.x engine: detection side limit of the longer
    side, lines scored under drop_score left out, no document preprocessing."""

    def __init__(self, det_model_dir: str, rec_model_dir: str, cls_model_dir: str, use_angle_cls: bool,
                 det_limit_side_len: int, rec_batch_num: int, drop_score: float = 0.5, **settings: Any) -> None:
        # No model hoster is reached: every model is a local directory.
        os.environ.setdefault("PADDLE_PDX_DISABLE_MODEL_SOURCE_CHECK", "True")
        from paddleocr import PaddleOCR

        self.engine = PaddleOCR(
            text_detection_model_name=model_name(det_model_dir),
            text_detection_model_dir=det_model_dir,
            text_recognition_model_name=model_name(rec_model_dir),
            text_recognition_model_dir=rec_model_dir,
            textline_orientation_model_name=model_name(cls_model_dir) if use_angle_cls else None,
            textline_orientation_model_dir=cls_model_dir if use_angle_cls else None,
            use_doc_orientation_classify=False,
            use_doc_unwarping=False,
            use_textline_orientation=use_angle_cls,
            text_det_limit_side_len=det_limit_side_len,
            text_det_limit_type="max",
            text_rec_score_thresh=drop_score,
            text_recognition_batch_size=rec_batch_num,
            **self.inference_settings(**settings),
        )

    @staticmethod
    def inference_settings(use_gpu: bool, gpu_id: int, enable_mkldnn: bool, cpu_threads: int,
                           **_: Any) -> dict[str, Any]:
        """Paddle's device, oneDNN and CPU threads."""
        return {"device": f"gpu:{gpu_id}" if use_gpu else "cpu", "enable_mkldnn": enable_mkldnn,
                "cpu_threads": cpu_threads}

    def lines(self, image: np.ndarray, cls: bool) -> list[tuple[Any, str, float]]:
        [page] = self.engine.predict(image, use_textline_orientation=cls)
        return list(zip(page["rec_polys"], page["rec_texts"], page["rec_scores"]))


class OnnxRuntimeEngine(PaddleOCR3Engine):
    """The same PaddleOCR 3.x pipeline on ONNX Runtime (the onnxruntime runtime): model directories of
    inference.onnx and inference.yml, no Paddle in the image. Its execution provider: CUDA on a GPU, else
    execution_provider (openvino: the OpenVINO build's provider; cpu: the CPU provider)."""

    def __init__(self, det_model_dir: str, use_gpu: bool, gpu_id: int, cpu_threads: int,
                 execution_provider: str = "cpu", **settings: Any) -> None:
        provider, options = provider_of(use_gpu, gpu_id, cpu_threads, execution_provider)
        if provider != CPU_PROVIDER:
            require_provider(os.path.join(det_model_dir, "inference.onnx"), provider, options)
        super().__init__(det_model_dir=det_model_dir, use_gpu=use_gpu, gpu_id=gpu_id, cpu_threads=cpu_threads,
                         execution_provider=execution_provider, **settings)

    @staticmethod
    def inference_settings(use_gpu: bool, gpu_id: int, cpu_threads: int, execution_provider: str = "cpu",
                           **_: Any) -> dict[str, Any]:
        """ONNX Runtime takes its threads from engine_config (PaddleOCR's cpu_threads does not reach it), one
        operator at a time, and its provider with the CPU provider after it for what the provider does not run.
        The device is always named: left out, PaddleX picks the GPU wherever ONNX Runtime has a CUDA provider."""
        provider, options = provider_of(use_gpu, gpu_id, cpu_threads, execution_provider)
        engine_config: dict[str, Any] = {"intra_op_num_threads": cpu_threads, "inter_op_num_threads": 1}
        if provider != CPU_PROVIDER:
            engine_config.update(providers=[provider, CPU_PROVIDER], provider_options=[options, {}])
        if use_gpu:
            engine_config.update(device_type="gpu", device_id=gpu_id)
        return {"device": f"gpu:{gpu_id}" if use_gpu else "cpu", "engine": "onnxruntime", "engine_config": engine_config}


CPU_PROVIDER = "CPUExecutionProvider"


def provider_of(use_gpu: bool, gpu_id: int, cpu_threads: int, execution_provider: str) -> tuple[str, dict[str, Any]]:
    """ONNX Runtime's provider for an instance and its options: CUDA on its GPU; on a CPU, OpenVINO with the
    instance's threads at full precision (OpenVINO would pick bf16 on CPUs that have it, which reads differently)
    or the CPU provider."""
    if use_gpu:
        return "CUDAExecutionProvider", {"device_id": gpu_id}
    if execution_provider == "openvino":
        return "OpenVINOExecutionProvider", {"device_type": "CPU", "precision": "FP32", "num_of_threads": cpu_threads}
    if execution_provider == "cpu":
        return CPU_PROVIDER, {}
    raise ValueError(f"execution_provider {execution_provider!r}: this image knows openvino and cpu")


def require_provider(model_path: str, provider: str, options: dict[str, Any]) -> None:
    """Raise RuntimeError unless ONNX Runtime runs model_path on provider. Where a provider cannot start (a CUDA
    library missing, no driver, no such GPU, an image without OpenVINO), ONNX Runtime logs why and runs on the CPU
    provider: an instance that serves from another provider than the one it was given is a fault to see at start,
    not a slow service to find later."""
    import onnxruntime

    session = onnxruntime.InferenceSession(model_path, providers=[(provider, options), CPU_PROVIDER])
    if session.get_providers()[0] != provider:
        raise RuntimeError(f"ONNX Runtime could not start its provider {provider} with {options} (its log above says "
                           f"why; providers this image has: {', '.join(onnxruntime.get_available_providers())}): this "
                           "instance would run on the CPU provider")


def model_name(model_dir: str) -> str:
    """The model a directory in PaddleX's layout holds, as its inference.yml names it."""
    import yaml

    with open(os.path.join(model_dir, "inference.yml"), encoding="utf-8") as handle:
        return yaml.safe_load(handle)["Global"]["model_name"]


ENGINES = {"paddleocr2": PaddleOCR2Engine, "paddleocr3": PaddleOCR3Engine, "onnxruntime": OnnxRuntimeEngine}
# What a model directory must hold for each runtime: PaddleOCR 3.x refuses 2.x directories (no inference.yml).
MODEL_FILES = {"paddleocr2": ("inference.pdiparams",), "paddleocr3": ("inference.pdiparams", "inference.yml"),
               "onnxruntime": ("inference.onnx", "inference.yml")}


class OCRSystem:
    # What serve.py's /ocr decodes its `file` with.
    decode_base64 = staticmethod(decode_base64)
    decode_image_bytes = staticmethod(decode_image_bytes)

    def __init__(
        self,
        det_model_dir: str = "/models/det",
        rec_model_dir: str = "/models/rec",
        cls_model_dir: str = "/models/cls",
        use_angle_cls: bool = True,
        use_gpu: bool = False,
        gpu_id: int = 0,
        max_image_bytes: int = DEFAULT_MAX_IMAGE_BYTES,
        runtime: str = "paddleocr2",
        **settings: Any,
    ) -> None:
        if runtime not in ENGINES:
            raise ValueError(f"runtime {runtime!r}: this image knows {sorted(ENGINES)}")
        for path in (det_model_dir, rec_model_dir, cls_model_dir if use_angle_cls else det_model_dir):
            for name in MODEL_FILES[runtime]:
                if not os.path.isfile(os.path.join(path, name)):
                    raise FileNotFoundError(f"model directory {path} has no {name} (runtime {runtime})")
        self.use_angle_cls = use_angle_cls
        self.use_gpu = use_gpu
        self.gpu_id = gpu_id
        self.max_image_bytes = max_image_bytes
        defaults = {"rec_char_dict_path": "ppocr_keys_v1.txt", "ocr_version": "PP-OCRv4", "lang": "ch", "gpu_mem": 500,
                    "enable_mkldnn": False, "cpu_threads": 4, "det_limit_side_len": 960, "rec_batch_num": 6,
                    "use_tensorrt": False}
        self.engine = ENGINES[runtime](det_model_dir=det_model_dir, rec_model_dir=rec_model_dir,
                                       cls_model_dir=cls_model_dir, use_angle_cls=use_angle_cls, use_gpu=use_gpu,
                                       gpu_id=gpu_id, **{**defaults, **settings})

    def predict(self, images: list[np.ndarray], use_angle_cls: bool | None = None) -> list[list[dict[str, Any]]]:
        """Each image's lines; use_angle_cls turns the angle classifier off for a call (None: as configured)."""
        cls = self.use_angle_cls if use_angle_cls is None else use_angle_cls and self.use_angle_cls
        return [
            [
                {
                    "text": text,
                    "confidence": float(confidence),
                    "text_region": np.asarray(box).astype(np.int32).tolist(),
                }
                for box, text, confidence in self.engine.lines(image, cls)
            ]
            for image in images
        ]

    def warm_up(self) -> None:
        """One tiny inference on a drawn word: Paddle initialises lazily, and /ready means this ran."""
        image = np.full((48, 200, 3), 255, dtype=np.uint8)
        cv2.putText(image, "Ready 42", (8, 34), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (0, 0, 0), 2)
        self.predict([image])

    def gpu_memory_reserved_bytes(self) -> int | None:
        """GPU memory Paddle's allocator holds in this process, for /metrics; None on CPU and without Paddle."""
        if not self.use_gpu:
            return None
        try:
            import paddle

            return int(paddle.device.cuda.memory_reserved(self.gpu_id))
        except (ImportError, AttributeError, RuntimeError, ValueError):
            return None

    def serving_method(self, images: Any = None, **_: Any) -> list[list[dict[str, Any]]]:
        if not isinstance(images, list) or not images:
            raise ValueError('request needs "images": a non-empty list of base64-encoded images')
        decoded = [decode_image(data, index, self.max_image_bytes) for index, data in enumerate(images)]
        return self.predict(decoded)


def create(**init_args: Any) -> OCRSystem:
    """What serve.py calls with the init_args of config.json."""
    return OCRSystem(**init_args)
