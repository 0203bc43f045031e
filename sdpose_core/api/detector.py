"""Image in, pose image (or POSE_KEYPOINT) out, in the shape of controlnet_aux's ``DWposeDetector``.

    detector = SDPoseDetector.from_pretrained("teemosliang/SDPose-Wholebody")
    pose_image = detector(image)  # a PIL image for StableDiffusionControlNetPipeline

The pose image is drawn exactly as the SDPose Estimator node draws it (DWPose's look); the keypoints are the
node's POSE_KEYPOINT. One object serves single images, batches and videos.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..engine.options import EstimatorOptions
from ..engine.pipeline import PoseEstimator, PoseResult, person_detector, pose_frame
from ..errors import InputError
from ..images import to_rgb_uint8
from ..pose.render import check_batch, render_frame, resize_to_resolution
from ..video.options import ClipOptions

OUTPUT_TYPES = ("pil", "np", "pt")


def load_estimator(model_or_hub_id: str | Path, *, detector: Any = "yolox", device: str | torch.device | None = None,
                   dtype: str | None = None, scheme: str | None = None, cache_dir: str | Path | None = None,
                   options: EstimatorOptions | None = None, compile: bool = False,
                   **option_fields: Any) -> PoseEstimator:
    """A :class:`PoseEstimator` on a checkpoint: a release folder, a ComfyUI single file or a hub id
    (``teemosliang/SDPose-Body``, ``teemosliang/SDPose-Wholebody``; downloaded on first use).

    ``detector``: 'yolox' (DWPose's YOLOX-L, downloaded on first use), a YOLOX .onnx path, None (the whole image is
    one person) or a callable (image [3, H, W] in 0..1 -> boxes [N, 5] x1, y1, x2, y2, score). ``device``: default
    cuda when available. ``dtype``: 'fp32' (default), 'fp16' or 'bf16'. ``options`` / ``option_fields``: the
    :class:`EstimatorOptions` (crop size, crop mode, flip test, batch size, ...). ``compile``: run the model through
    ``torch.compile`` (eager, with one log line, where it cannot).
    """
    from ..weights.checkpoint import cache_dir as resolve_cache
    from ..weights.checkpoint import load_model

    options = (options or EstimatorOptions()).replace(**option_fields)
    if dtype is not None:
        options = options.replace(dtype=dtype)
    options.check()
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    cache = resolve_cache(cache_dir)
    model = load_model(model_or_hub_id, scheme, dtype=options.dtype, device=device, cache=cache, compile=compile)
    return PoseEstimator.from_options(model, options, detector=person_detector(detector, cache / "models"))


def _images(image: Any) -> tuple[list[Any], bool]:
    """(images, one) from a PIL image, an HxWxC / CxHxW array or tensor, a [B, H, W, C] batch or a list."""
    if isinstance(image, (list, tuple)):
        return list(image), False
    if isinstance(image, (np.ndarray, torch.Tensor)) and image.ndim == 4:
        return list(image), False
    return [image], True


def _back_to(result: PoseResult, width: int, height: int) -> PoseResult:
    """A result posed on a resized image, in the pixels of the original ``width`` x ``height`` image."""
    if (result.width, result.height) == (width, height):
        return result
    sx, sy = width / result.width, height / result.height
    keypoints, boxes = result.keypoints.clone(), result.boxes.clone()
    keypoints[..., 0] *= sx
    keypoints[..., 1] *= sy
    boxes[:, 0::2] *= sx
    boxes[:, 1::2] *= sy
    return dataclasses.replace(result, width=width, height=height, keypoints=keypoints, boxes=boxes)


def _output(images: list[np.ndarray], output_type: str) -> list[Any]:
    if output_type == "pil":
        from PIL import Image

        return [Image.fromarray(a) for a in images]
    if output_type == "pt":  # ComfyUI's IMAGE layout: float32 [H, W, 3] in 0..1
        return [torch.from_numpy(a.astype(np.float32) / 255.0) for a in images]
    return images


class SDPoseDetector:
    """SDPose behind controlnet_aux's ``DWposeDetector`` interface.

    ``detector(image)`` gives the pose image; :meth:`pose_keypoint` the POSE_KEYPOINT frames (DWPose's OpenPose
    JSON, pixels of the input image). ``image``: a PIL image, an HxWx3 uint8 array, a float array or tensor in
    0..1 (HxWx3 or 3xHxW), a [B, H, W, 3] batch (a ComfyUI IMAGE) or a list of any of these: a batch gives a list.
    A video: :meth:`pose_keypoint` with ``video=ClipOptions(...)`` (tracking, smoothing) over the frames, or
    :meth:`video` on a file.
    """

    def __init__(self, estimator: PoseEstimator, threshold: float | None = None):
        self.estimator = estimator
        self.threshold = EstimatorOptions.threshold if threshold is None else threshold
        EstimatorOptions(threshold=self.threshold).check()

    @classmethod
    def from_pretrained(cls, model_or_hub_id: str | Path, *, detector: Any = "yolox",
                        device: str | torch.device | None = None, dtype: str | None = None,
                        **option_fields: Any) -> SDPoseDetector:
        """Load a checkpoint (see :func:`load_estimator` for the arguments; ``threshold``, ``flip``, ``batch_size``,
        ``input_size``, ``crop_mode``, ``scheme``, ``cache_dir`` are accepted as keywords)."""
        options = option_fields.get("options")
        threshold = option_fields.get("threshold", None if options is None else options.threshold)
        return cls(load_estimator(model_or_hub_id, detector=detector, device=device, dtype=dtype, **option_fields),
                   threshold)

    def results(self, images: Iterable[Any], detect_resolution: int | None = None,
                video: ClipOptions | None = None, fps: Any = None) -> Iterator[PoseResult]:
        """The estimator's results, in the input images' pixels; ``video``: posed as one clip with these options."""
        sizes: list[tuple[int, int]] = []

        def frames() -> Iterator[np.ndarray]:
            for i, image in enumerate(images):
                rgb = to_rgb_uint8(image, name=f"image {i}")
                sizes.append((rgb.shape[1], rgb.shape[0]))
                yield resize_to_resolution(rgb, detect_resolution)

        if video is None:
            results = self.estimator(frames())
        else:
            from ..video.clip import annotate_frames

            results = annotate_frames(self.estimator, frames(), options=video, **({"fps": fps} if fps else {}))
        for result in results:
            yield _back_to(result, *sizes[result.info.index])

    def pose_keypoint(self, image: Any, detect_resolution: int | None = None, video: ClipOptions | None = None,
                      fps: Any = None) -> dict | list[dict]:
        """POSE_KEYPOINT for ``image``: one frame dict for one image, a list for a batch or a clip (``video``)."""
        images, one = _images(image)
        frames = [pose_frame(r, threshold=self.threshold) for r in self.results(images, detect_resolution, video, fps)]
        return frames[0] if one and video is None else frames

    def __call__(self, image: Any, include_body: bool = True, include_hand: bool = True, include_face: bool = True,
                 detect_resolution: int | None = 512, image_resolution: int | None = 512, output_type: str = "pil",
                 **style: Any) -> Any:
        """The pose image(s) as the Estimator node draws them (DWPose's look, on black).

        ``detect_resolution``: the image's short side while posing, as controlnet_aux (None: its own size, which is
        what the ComfyUI node does and the most accurate). ``image_resolution``: the short side of the pose image
        (None: the input's size). ``output_type``: 'pil', 'np' (HxWx3 uint8) or 'pt' (HxWx3 float in 0..1).
        ``style``: drawing controls (``stick_width``, ``point_size``, ``face_point_size``, ``head``,
        ``scale_strokes``, ``xinsr``).
        """
        images, one = _images(image)
        drawn = self.draw(self.pose_keypoint(images, detect_resolution), include_body, include_hand, include_face,
                          image_resolution, output_type, **style)
        return drawn[0] if one else drawn

    def video(self, path: str | Path, options: ClipOptions | None = None, include_body: bool = True,
              include_hand: bool = True, include_face: bool = True, detect_resolution: int | None = 512,
              image_resolution: int | None = 512, output_type: str = "pil", **style: Any) -> list[Any]:
        """Every frame of a video file posed as one clip (``options``: tracking, smoothing; default tracked) and
        drawn: the pose images, in order (the other keywords as for ``__call__``)."""
        from ..video.io import probe_video, read_frames

        fps = probe_video(path).fps
        frames = [pose_frame(r, threshold=self.threshold)
                  for r in self.results(read_frames(path), detect_resolution, options or ClipOptions(), fps)]
        return self.draw(frames, include_body, include_hand, include_face, image_resolution, output_type, **style)

    @staticmethod
    def draw(frames: list[dict], include_body: bool = True, include_hand: bool = True, include_face: bool = True,
             image_resolution: int | None = 512, output_type: str = "pil", **style: Any) -> list[Any]:
        """POSE_KEYPOINT frames drawn as the Estimator node draws them (DWPose never draws feet)."""
        if output_type not in OUTPUT_TYPES:
            raise InputError(f"output_type '{output_type}' is not one of: {', '.join(OUTPUT_TYPES)}.")
        check_batch([(f["canvas_width"], f["canvas_height"]) for f in frames], image_resolution)
        draw = dict(resolution=image_resolution, body=include_body, hands=include_hand, face=include_face,
                    feet=False, **style)
        return _output([render_frame(f, **draw) for f in frames], output_type)
