"""Person boxes from the YOLOX-L ONNX model DWPose users already have (``yolox_l.onnx``), via onnxruntime.

Pre/post-processing follows comfyui_controlnet_aux's DWPose (``dwpose/dw_onnx/cv_ox_det.py``) so the same image
gives the same boxes:

- the image goes in as given (ComfyUI images are RGB; DWPose does not swap channels), as float 0..255, no
  mean/std; it is resized keeping its aspect ratio (``cv2.INTER_LINEAR``, sizes truncated to int) into the model
  input and padded with 114 at the bottom/right;
- raw YOLOX rows ``[dx, dy, log w, log h, objectness, 80 class probabilities]`` are decoded on the stride 8/16/32
  grids;
- a box's score is objectness x class probability in float32; person (COCO class 0) boxes scoring above 0.1
  (compared in float32) go through greedy NMS at IoU 0.45 (pixel ``+1`` areas; candidates in the order of
  ``argsort(scores)[::-1]``, so among equal scores the later box is kept), then those scoring above 0.3 compared
  in float64 (a score of exactly float32(0.3) passes) are kept, mapped back by the resize ratio. DWPose runs
  class-aware NMS over all classes, so another class never suppresses a person: running the person class alone
  gives the same boxes;
- boxes are not clipped to the image, as in DWPose (a person at the frame edge may get a box reaching past it;
  the top-down crop handles that). ``clip_boxes=True`` clips them, which moves such a person's crop centre and
  shrinks its scale.

The image must already be 8-bit: :func:`sdpose_core.images.to_rgb_uint8` converts float and RGBA images with the
DWPose node's rules (``x * 255`` truncated, ``HWC3``).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CheckpointError, InputError

DETECTOR_REPO = "yzd-v/DWPose"
DETECTOR_FILE = "yolox_l.onnx"
DEFAULT_INPUT_HW = (640, 640)
STRIDES = (8, 16, 32)
PAD_VALUE = 114
PERSON_CLASS = 0
SCORE_THRESHOLD = 0.3
CANDIDATE_THRESHOLD = 0.1  # DWPose's multiclass_nms score_thr: the boxes NMS sees
NMS_THRESHOLD = 0.45
PREFERRED_PROVIDERS = ("CUDAExecutionProvider", "DirectMLExecutionProvider", "OpenVINOExecutionProvider",
                       "ROCMExecutionProvider", "CoreMLExecutionProvider", "CPUExecutionProvider")
_INPUT_DTYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16}


def letterbox(image: np.ndarray, input_hw: tuple[int, int], pad_value: int = PAD_VALUE) -> tuple[np.ndarray, float]:
    """Resize ``image`` (HxWx3 uint8) by one ratio to fit ``input_hw``, pad bottom/right; return (padded, ratio)."""
    import cv2

    in_h, in_w = input_hw
    h, w = image.shape[:2]
    ratio = min(in_h / h, in_w / w)
    new_h, new_w = max(1, int(h * ratio)), max(1, int(w * ratio))
    padded = np.full((in_h, in_w, 3), pad_value, dtype=np.uint8)
    padded[:new_h, :new_w] = cv2.resize(np.ascontiguousarray(image), (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    return padded, ratio


def anchor_count(input_hw: tuple[int, int], strides: Sequence[int] = STRIDES) -> int:
    """Number of YOLOX predictions for an input size: one per grid cell of every stride."""
    return sum((input_hw[0] // s) * (input_hw[1] // s) for s in strides)


def decode_outputs(raw: np.ndarray, input_hw: tuple[int, int], strides: Sequence[int] = STRIDES) -> np.ndarray:
    """Raw YOLOX rows [A, 5+C] -> rows whose first 4 columns are (cx, cy, w, h) in model-input pixels.

    Anchors run stride by stride, row-major over each grid (x fastest): cx = (dx + gx) * s, w = exp(log w) * s.
    """
    grids, scales = [], []
    for s in strides:
        gy, gx = np.mgrid[: input_hw[0] // s, : input_hw[1] // s]
        grids.append(np.stack([gx.ravel(), gy.ravel()], axis=1))
        scales.append(np.full((gx.size, 1), s))
    grid, stride = np.concatenate(grids), np.concatenate(scales)
    out = np.array(raw, dtype=np.float32, copy=True)
    out[:, :2] = (out[:, :2] + grid) * stride
    out[:, 2:4] = np.exp(out[:, 2:4]) * stride
    return out


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> np.ndarray:
    """Greedy NMS on xyxy boxes; indices kept, best first. A box goes when its IoU with a kept one > threshold.

    Areas use DWPose's pixel convention (w = x2 - x1 + 1); candidates are visited in DWPose's order,
    ``argsort(scores)[::-1]`` (equal scores: the later box first).
    """
    x1, y1, x2, y2 = boxes.T
    areas = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = np.argsort(scores)[::-1]
    keep = []
    while order.size:
        best, rest = order[0], order[1:]
        keep.append(best)
        w = np.maximum(0.0, np.minimum(x2[best], x2[rest]) - np.maximum(x1[best], x1[rest]) + 1)
        h = np.maximum(0.0, np.minimum(y2[best], y2[rest]) - np.maximum(y1[best], y1[rest]) + 1)
        inter = w * h
        order = rest[inter / (areas[best] + areas[rest] - inter) <= threshold]
    return np.asarray(keep, dtype=np.int64)


def person_boxes(predictions: np.ndarray, ratio: float, image_hw: tuple[int, int] | None, score_threshold: float,
                 nms_threshold: float, class_id: int = PERSON_CLASS) -> np.ndarray:
    """Decoded rows [A, 5+C] -> float32 [N, 5] (x1, y1, x2, y2, score) in image pixels, best first.

    ``image_hw``: clip the boxes to this image (DWPose does not: pass None).
    """
    predictions = np.asarray(predictions, dtype=np.float32)
    scores = predictions[:, 4] * predictions[:, 5 + class_id]
    mask = scores > np.float32(CANDIDATE_THRESHOLD)
    centers, sizes, scores = predictions[mask, :2], predictions[mask, 2:4], scores[mask]
    boxes = np.concatenate([centers - sizes / 2, centers + sizes / 2], axis=1) / ratio
    keep = nms(boxes, scores, nms_threshold)
    keep = keep[scores[keep].astype(np.float64) > float(score_threshold)]
    boxes, scores = boxes[keep], scores[keep]
    if image_hw is not None:
        h, w = image_hw
        boxes = np.clip(boxes, 0.0, [w, h, w, h])
    return np.concatenate([boxes, scores[:, None]], axis=1).astype(np.float32).reshape(-1, 5)


def check_image(image: Any) -> np.ndarray:
    """The image as an HxWx3 uint8 array, or an InputError that says what is wrong with it."""
    if not isinstance(image, np.ndarray):
        raise InputError(f"detector image: expected a numpy array (HxWx3 uint8 RGB), got {type(image).__name__}.")
    if image.ndim != 3 or image.shape[2] != 3:
        raise InputError(f"detector image: expected shape HxWx3 (RGB), got {image.shape}.")
    if image.dtype != np.uint8:
        raise InputError(f"detector image: expected dtype uint8 (0..255), got {image.dtype}.")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise InputError(f"detector image: is empty ({image.shape[1]}x{image.shape[0]} pixels).")
    return image


def _dim(value: Any) -> int | None:
    return value if isinstance(value, int) and value > 0 else None


class YoloxDetector:
    """YOLOX ONNX person detector: ``detector(rgb_uint8_image)`` -> float32 [N, 5] (x1, y1, x2, y2, score).

    ``clip_boxes``: clip boxes to the image (off: DWPose's boxes, which may reach past the edge).

    ``raw_output=False`` is for exports that decode boxes inside the graph (``--decode_in_inference``);
    DWPose's ``yolox_l.onnx`` outputs raw predictions.
    """

    def __init__(self, model_path: str | Path, *, score_threshold: float = SCORE_THRESHOLD,
                 nms_threshold: float = NMS_THRESHOLD, providers: list[str] | None = None,
                 raw_output: bool = True, clip_boxes: bool = False):
        self.model_path = Path(model_path)
        self.clip_boxes = clip_boxes
        self.score_threshold = float(score_threshold)
        self.nms_threshold = float(nms_threshold)
        self.raw_output = raw_output
        if not self.model_path.is_file():
            raise CheckpointError(f"Detector model not found: '{self.model_path}' is not a file.")
        self.session = self._open(providers)
        self.input_name, self.input_hw, self.input_dtype = self._check_input()
        self._check_output_shape(self.session.get_outputs()[0].shape if self.session.get_outputs() else None)

    def _open(self, providers: list[str] | None) -> Any:
        if importlib.util.find_spec("cv2") is None:  # letterbox resizes with OpenCV, as DWPose does
            raise CheckpointError("The person detector needs OpenCV: pip install opencv-python-headless.")
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise CheckpointError(
                f"The person detector needs onnxruntime to run '{self.model_path.name}': "
                "pip install onnxruntime (or onnxruntime-gpu for CUDA)."
            ) from exc
        if providers is None:
            available = set(ort.get_available_providers())
            providers = [p for p in PREFERRED_PROVIDERS if p in available] or ["CPUExecutionProvider"]
        try:
            return ort.InferenceSession(str(self.model_path), providers=list(providers))
        except Exception as exc:
            if providers != ["CPUExecutionProvider"]:
                try:
                    return ort.InferenceSession(str(self.model_path), providers=["CPUExecutionProvider"])
                except Exception:
                    pass
            raise CheckpointError(
                f"'{self.model_path}' is not a usable ONNX model ({type(exc).__name__}: {exc}). "
                f"Is the file complete? Re-download '{DETECTOR_FILE}' from the Hugging Face repository "
                f"'{DETECTOR_REPO}'."
            ) from exc

    def _check_input(self) -> tuple[str, tuple[int, int], type]:
        inputs = self.session.get_inputs()
        if len(inputs) != 1:
            raise CheckpointError(f"'{self.model_path}': a YOLOX detector has one input, this model has {len(inputs)}.")
        shape, kind = inputs[0].shape, inputs[0].type
        if len(shape) != 4 or _dim(shape[1]) not in (None, 3):
            raise CheckpointError(f"'{self.model_path}': expected a [1, 3, H, W] image input, got {shape}.")
        if kind not in _INPUT_DTYPES:
            raise CheckpointError(f"'{self.model_path}': expected a float or float16 input, got {kind}.")
        hw = (_dim(shape[2]) or DEFAULT_INPUT_HW[0], _dim(shape[3]) or DEFAULT_INPUT_HW[1])
        if self.raw_output and (hw[0] % max(STRIDES) or hw[1] % max(STRIDES)):
            raise CheckpointError(f"'{self.model_path}': input size {hw[1]}x{hw[0]} is not a multiple of "
                                  f"{max(STRIDES)}, so it cannot be a YOLOX model with strides {STRIDES}.")
        return inputs[0].name, hw, _INPUT_DTYPES[kind]

    def _check_output_shape(self, shape: Sequence[Any] | None) -> None:
        if shape is None or len(shape) != 3 or _dim(shape[0]) not in (None, 1) or (_dim(shape[2]) or 6) < 6:
            raise CheckpointError(f"'{self.model_path}': expected a YOLOX output [1, anchors, 5 + classes], "
                                  f"got {None if shape is None else list(shape)}.")
        expected = anchor_count(self.input_hw)
        if self.raw_output and _dim(shape[1]) not in (None, expected):
            raise CheckpointError(f"'{self.model_path}': output has {shape[1]} predictions; a YOLOX model with a "
                                  f"{self.input_hw[1]}x{self.input_hw[0]} input and strides {STRIDES} has {expected}.")

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """Person boxes in ``image`` (HxWx3 uint8 RGB): float32 [N, 5] x1, y1, x2, y2, score; best first."""
        image = check_image(image)
        padded, ratio = letterbox(image, self.input_hw)
        batch = padded.transpose(2, 0, 1)[None].astype(self.input_dtype)
        output = np.asarray(self.session.run(None, {self.input_name: batch})[0], dtype=np.float32)
        self._check_output_shape(output.shape)
        predictions = decode_outputs(output[0], self.input_hw) if self.raw_output else output[0]
        return person_boxes(predictions, ratio, image.shape[:2] if self.clip_boxes else None, self.score_threshold,
                            self.nms_threshold)


def resolve_detector_path(path: str | Path | None, models_dir: str | Path) -> Path:
    """An existing detector file as given; else DWPose's ``yolox_l.onnx`` from ``models_dir``, downloaded on first use.

    A missing path named anything but ``yolox_l.onnx`` is an error rather than a silent download of another model.
    """
    from ..hub import download_file

    if path is not None:
        path = Path(path)
        if path.is_file():
            return path
        if path.name != DETECTOR_FILE:
            raise CheckpointError(f"Detector model not found: '{path}'. Pass an existing YOLOX .onnx file, "
                                  f"or none to use '{DETECTOR_FILE}' from '{models_dir}' (downloaded on first use).")
    return download_file(DETECTOR_REPO, DETECTOR_FILE, models_dir)
