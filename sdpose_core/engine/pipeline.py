"""The top-down pipeline: images and person boxes in, keypoints in image pixels out, streamed in batches."""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import InputError
from ..formats.openpose import ID_KEY, to_pose_keypoint
from ..images import to_rgb_uint8
from .accel import DeviceEvent, HostToDevice, bucket_for, eager_forward, full_precision, is_compiled, pad_to, to_host
from .codec import UDPHeatmap, flip_heatmaps
from .crop import apply_affine, crop_center_scale, invert_affine, warp_crops, warp_matrix
from .model import SDPoseModel
from .options import EstimatorOptions

Detector = Callable[[torch.Tensor], torch.Tensor]  # image [3, H, W] in 0..1 -> boxes [N, 5] (x1, y1, x2, y2, score)
_Item = tuple["_Pending", int, torch.Tensor, torch.Tensor]  # (image, person, uint8 crop [3, h, w], crop->image)
LOG = logging.getLogger("sdpose")


@dataclass(frozen=True)
class FrameInfo:
    """What is known about the image a :class:`PoseResult` comes from, besides its pixels and people.

    Every field is checked on construction; an unknown field is refused (``TypeError``), and a record is never
    changed in place (``dataclasses.replace`` makes a new one).

    * ``index``: the image's position, from 0, in the images given to one :class:`PoseEstimator` call (for a clip,
      its frame number). Filled by the estimator for every result; None only in a result built by hand.
    * ``track_ids``: in a tracked clip (``sdpose_core.video.clip.annotate_frames``), each person's track id, in the
      order of the result's people (which are sorted by it); None when nothing tracked the people (single images).
    * ``image``: the input image exactly as given (array or tensor), kept only when ``annotate_frames`` is asked to
      (``keep_images=True``, for drawing over the video); None otherwise, so no frame outlives its result by default.
    """

    index: int | None = None
    track_ids: list[int] | None = None
    image: Any = None

    def __post_init__(self) -> None:
        if self.index is not None and not (isinstance(self.index, int) and self.index >= 0):
            raise TypeError(f"FrameInfo.index must be a whole number >= 0 or None, got {self.index!r}.")
        if self.track_ids is not None and not (isinstance(self.track_ids, list)
                                               and all(isinstance(i, int) for i in self.track_ids)):
            raise TypeError(f"FrameInfo.track_ids must be a list of ints or None, got {self.track_ids!r}.")


@dataclass
class PoseResult:
    """Everyone found in one image. Tensors are on the CPU; coordinates are image pixels."""

    width: int
    height: int
    keypoints: torch.Tensor  # [N, K, 3]: x, y, score (raw heatmap peak)
    boxes: torch.Tensor  # [N, 4]: x, y, w, h of the person box used for the crop
    box_scores: torch.Tensor  # [N]: detector score, 1.0 for caller-given or whole-image boxes
    info: FrameInfo = field(default_factory=FrameInfo)

    def __post_init__(self) -> None:
        if not isinstance(self.info, FrameInfo):
            raise TypeError(f"PoseResult.info must be a FrameInfo, got {type(self.info).__name__}.")
        ids = self.info.track_ids
        if ids is not None and len(ids) != self.num_people:
            raise ValueError(f"PoseResult: {len(ids)} track ids for {self.num_people} people.")

    @property
    def num_people(self) -> int:
        return int(self.keypoints.shape[0])


@dataclass
class _Pending:
    """An image whose crops are in flight."""

    width: int
    height: int
    boxes: torch.Tensor
    box_scores: torch.Tensor
    index: int
    keypoints: torch.Tensor
    remaining: int


@dataclass
class _Batch:
    """A batch whose model call is queued on the device; its results are read once the device is past ``done``."""

    items: Sequence[_Item]
    crops: torch.Tensor  # on the device, kept for an fp32 rerun
    coords: torch.Tensor  # host copies in flight: [n, K, 2] crop pixels, [n, K] scores
    scores: torch.Tensor
    finite: torch.Tensor | None  # host copy of the fp16 overflow check; None when not checked
    done: DeviceEvent


def check_boxes(boxes: Any, name: str = "boxes") -> tuple[torch.Tensor, torch.Tensor]:
    """Caller boxes -> ([N, 4] x, y, w, h, [N] scores). Accepts [N, 4] xywh or [N, 5] xywh + score."""
    t = torch.as_tensor(boxes, dtype=torch.float64) if not isinstance(boxes, torch.Tensor) else boxes.double()
    if t.numel() == 0:
        return torch.zeros(0, 4, dtype=torch.float64), torch.zeros(0, dtype=torch.float64)
    if t.ndim == 1:
        t = t[None]
    if t.ndim != 2 or t.shape[1] not in (4, 5):
        raise InputError(f"{name}: expected a list of [x, y, w, h] (optionally + score), got shape {tuple(t.shape)}.")
    if not torch.isfinite(t).all():
        raise InputError(f"{name}: contains NaN or infinite coordinates.")
    if (t[:, 2:4] <= 0).any():
        bad = t[(t[:, 2:4] <= 0).any(dim=1)][0].tolist()
        raise InputError(f"{name}: box {bad[:4]} has zero or negative width/height; boxes are [x, y, w, h].")
    scores = t[:, 4] if t.shape[1] == 5 else torch.ones(t.shape[0], dtype=torch.float64)
    return t[:, :4], scores


def xyxy_to_xywh(boxes: torch.Tensor) -> torch.Tensor:
    """[N, 4] corners -> [N, 4] x, y, w, h."""
    return torch.cat([boxes[:, :2], boxes[:, 2:4] - boxes[:, :2]], dim=1)


class PoseEstimator:
    """Runs an SDPoseModel top-down over any number of images, ``batch_size`` crops at a time.

    Crops from consecutive images share batches; each image's result is yielded as soon as all its
    crops are decoded, so memory is bounded by one batch, whatever the number of images.

    Each image travels to the model's device once, as 8 bits; the crops are cut there, byte for byte as the
    official evaluation cuts them (OpenCV's fixed-point warp of the 8-bit image), and scaled there. On CUDA the
    copy comes from pinned memory on a second stream, and a batch's results are read only after the next batch is
    queued, so the per-batch loop never waits for the device.

    ``static_batches`` (default: when the model is compiled, ``accel.compile_model``) pads a partial batch to a
    fixed bucket size (``accel.bucket_sizes``) so the model only ever sees a few shapes; the padded outputs are
    dropped. In fp16, a batch with an inf or NaN in its latents, features or heatmaps is run again in fp32.
    """

    def __init__(self, model: SDPoseModel, *, input_size: tuple[int, int] = EstimatorOptions.input_size,
                 flip: bool = EstimatorOptions.flip, crop_mode: str = EstimatorOptions.crop_mode,
                 batch_size: int = EstimatorOptions.batch_size, sample_latent: bool = EstimatorOptions.sample_latent,
                 seed: int | None = EstimatorOptions.seed, detector: Detector | None = None,
                 on_batch: Callable[[int], None] | None = None, on_frame: Callable[[int], None] | None = None,
                 static_batches: bool | None = None):
        EstimatorOptions(input_size=input_size, crop_mode=crop_mode, batch_size=batch_size, seed=seed).check(
            {"crop_mode": "crop mode"})
        self.model = model
        self.input_size = tuple(input_size)
        self.flip = flip
        self.crop_mode = crop_mode
        self.batch_size = batch_size
        self.sample_latent = sample_latent
        self.generator = None
        if sample_latent and seed is not None:
            self.generator = torch.Generator(device=model.device).manual_seed(seed)
        self.detector = detector
        self.on_batch = on_batch  # called with the crop count after every model call; may raise to cancel
        self.on_frame = on_frame  # called with each image's index before it is detected and cut; may raise to cancel
        self.codec = UDPHeatmap.for_input(self.input_size)
        self.static_batches = is_compiled(model) if static_batches is None else static_batches
        self._to_device = HostToDevice(model.device)
        self._inflight: _Batch | None = None

    @classmethod
    def from_options(cls, model: SDPoseModel, options: EstimatorOptions | None = None, *,
                     detector: Detector | None = None, on_batch: Callable[[int], None] | None = None,
                     on_frame: Callable[[int], None] | None = None) -> PoseEstimator:
        """The constructor every front end uses (command line, nodes, evaluation, :class:`SDPoseDetector
        <sdpose_core.api.SDPoseDetector>`): ``options`` (default :class:`EstimatorOptions`) checked, then the
        estimator on ``model``. ``options.threshold`` and ``options.dtype`` apply to the output and to loading."""
        options = (options or EstimatorOptions()).check()
        return cls(model, **options.estimator_fields(), detector=detector, on_batch=on_batch, on_frame=on_frame)

    @torch.no_grad()
    def heatmaps(self, crops: torch.Tensor) -> torch.Tensor:
        """Crops [B, 3, H, W], uint8 or float in 0..1 -> heatmaps [B, K, H/4, W/4], flip-averaged if ``flip``.

        uint8 crops are scaled on the model's device as the official evaluation does: x / 255 * 2 - 1.
        """
        heat, finite = self._heatmaps(crops)
        if finite is not None and not bool(finite):
            heat = self._fp32_heatmaps(crops)
        return heat

    @torch.no_grad()
    def _heatmaps(self, crops: torch.Tensor, forward: Callable[..., Any] | None = None
                  ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Heatmaps (fp32) and, in fp16, the device-side flag that nothing overflowed (None otherwise)."""
        model = self.model
        crops = crops.to(model.device)
        pixels = (crops.float() / 255.0 if crops.dtype == torch.uint8 else crops) * 2.0 - 1.0
        pixels = pixels.to(model.dtype)
        if self.flip:
            pixels = torch.cat([pixels, pixels.flip(-1)], dim=0)
        check = model.dtype == torch.float16
        checking = {"check_finite": True} if check else {}
        out = (forward or model)(pixels, sample=self.sample_latent, generator=self.generator, **checking)
        heat, finite = out if check else (out, None)
        heat = heat.float()  # decoding (argmax, DARK's log and Hessian) runs in fp32, as the official code does
        if self.flip:
            plain, mirrored = heat.chunk(2, dim=0)
            heat = 0.5 * (plain + flip_heatmaps(mirrored, model.scheme.flip_indices))
        return heat, finite

    def _fp32_heatmaps(self, crops: torch.Tensor) -> torch.Tensor:
        """The heatmaps of a batch that overflowed in fp16, computed again in fp32 (eager, same weights)."""
        LOG.warning("SDPose: fp16 overflowed (inf/NaN in the latents, features or heatmaps) in a batch of %d crops; "
                    "running that batch again in fp32. Use bf16 or fp32 if this happens often.", crops.shape[0])
        with full_precision(self.model):
            heat, _ = self._heatmaps(crops, eager_forward(self.model))
        return heat

    def person_boxes(self, image: np.ndarray, boxes: Any | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Caller boxes if given; else the detector's; else (or when it finds nobody) the whole image."""
        if boxes is not None:
            return check_boxes(boxes)
        if self.detector is not None:
            pixels = torch.from_numpy(image).permute(2, 0, 1).float() / 255.0
            found = torch.as_tensor(self.detector(pixels), dtype=torch.float64).reshape(-1, 5)
            if found.shape[0]:
                return xyxy_to_xywh(found[:, :4]), found[:, 4]
        h, w, _ = image.shape
        return torch.tensor([[0.0, 0.0, float(w), float(h)]], dtype=torch.float64), torch.ones(1, dtype=torch.float64)

    def __call__(self, images: Iterable[Any], boxes: Iterable[Any | None] | None = None) -> Iterator[PoseResult]:
        """Yield one PoseResult per image, in order (``info.index`` is its position). ``boxes``: per image, None or
        [[x, y, w, h], ...]."""
        self._inflight = None  # a batch left over by an earlier, interrupted call is dropped
        pending: deque[_Pending] = deque()
        queue: list[_Item] = []
        box_iter = iter(boxes) if boxes is not None else None
        count = 0
        for count, image in enumerate(images, start=1):
            if self.on_frame is not None:
                self.on_frame(count - 1)
            rgb = to_rgb_uint8(image, name=f"image {count - 1}")
            item_boxes = next(box_iter, None) if box_iter is not None else None
            xywh, scores = self.person_boxes(rgb, item_boxes)
            n, k = xywh.shape[0], self.model.scheme.num_keypoints
            record = _Pending(rgb.shape[1], rgb.shape[0], xywh.float(), scores.float(), count - 1,
                              torch.zeros(n, k, 3), n)
            pending.append(record)
            if n:  # geometry in float64 on the CPU (a few numbers); pixels cut on the device, as uint8
                center, scale = crop_center_scale(xywh, self.input_size, self.crop_mode)
                mats = warp_matrix(center, scale, self.input_size)
                crops = warp_crops(self._to_device(torch.from_numpy(rgb)), mats, self.input_size).permute(0, 3, 1, 2)
                inverse = invert_affine(mats)
                queue += [(record, i, crops[i], inverse[i]) for i in range(n)]
            del rgb
            while len(queue) >= self.batch_size:
                self._run(queue[: self.batch_size])
                queue = queue[self.batch_size:]
            yield from self._finished(pending)
        if count == 0:
            raise InputError("No images were given; pass at least one image.")
        while queue:
            self._run(queue[: self.batch_size])
            queue = queue[self.batch_size:]
        self._flush()
        yield from self._finished(pending)

    def _run(self, items: Sequence[_Item]) -> None:
        """Queue one batch of crops on the device, then finish the batch queued before it (on the CPU, this one).

        Reading a batch's results waits for the device; reading the previous batch's while this one is queued
        keeps the device busy meanwhile.
        """
        count = len(items)
        crops = torch.stack([c for _, _, c, _ in items])
        if self.static_batches:
            crops = pad_to(crops, bucket_for(count, self.batch_size))
        heat, finite = self._heatmaps(crops)
        coords, scores = self.codec.decode(heat)
        batch = _Batch(items, crops, to_host(coords[:count]), to_host(scores[:count]),
                       None if finite is None else to_host(finite), DeviceEvent(crops.device))
        previous, self._inflight = self._inflight, batch
        if previous is not None:
            self._finish(previous)
        if batch.done.event is None:
            self._flush()

    def _flush(self) -> None:
        """Finish the batch still in flight, if any."""
        batch, self._inflight = self._inflight, None
        if batch is not None:
            self._finish(batch)

    def _finish(self, batch: _Batch) -> None:
        """Write a batch's decoded keypoints into their images' records (an fp16 overflow reruns it in fp32)."""
        batch.done.wait()
        coords, scores, count = batch.coords, batch.scores, len(batch.items)
        if batch.finite is not None and not bool(batch.finite):
            coords, scores = (t[:count].cpu() for t in self.codec.decode(self._fp32_heatmaps(batch.crops)))
        inverse = torch.stack([m for _, _, _, m in batch.items])
        points = apply_affine(inverse, coords.double()).float()
        result = torch.cat([points, scores[..., None]], dim=-1)
        for (record, person, _, _), kp in zip(batch.items, result):
            record.keypoints[person] = kp
            record.remaining -= 1
        if self.on_batch is not None:
            self.on_batch(count)

    @staticmethod
    def _finished(pending: deque[_Pending]) -> Iterator[PoseResult]:
        while pending and pending[0].remaining == 0:
            r = pending.popleft()
            yield PoseResult(r.width, r.height, r.keypoints, r.boxes, r.box_scores, FrameInfo(r.index))


def estimate(model: SDPoseModel, images: Iterable[Any], boxes: Iterable[Any | None] | None = None,
             **options: Any) -> list[PoseResult]:
    """Convenience: all results of ``PoseEstimator(model, **options)`` as a list."""
    return list(PoseEstimator(model, **options)(images, boxes))


def numpy_detector(detect: Callable[[Any], Any]) -> Detector:
    """Adapt a detector taking HxWx3 uint8 RGB arrays (e.g. YoloxDetector) to the pipeline's tensors."""

    def run(image: torch.Tensor) -> torch.Tensor:
        array = (image.permute(1, 2, 0) * 255.0).round().to(torch.uint8).cpu().numpy()
        return torch.as_tensor(detect(array), dtype=torch.float64).reshape(-1, 5)

    return run


_PERSON_DETECTORS: dict[str, Detector] = {}
_PERSON_DETECTORS_LOCK = threading.Lock()


def person_detector(spec: str | Path | Detector | None, models_dir: str | Path) -> Detector | None:
    """The person detector a user names: None or 'none' (whole image), 'yolox' (DWPose's ``yolox_l.onnx`` from
    ``models_dir``, downloaded on first use), a YOLOX .onnx path, or a callable used as it is.

    The last ONNX session is kept, so callers that build an estimator per run (the nodes) do not reload it.
    """
    if spec is None or callable(spec):
        return spec
    if str(spec).lower() == "none":
        return None
    from .detect import YoloxDetector, resolve_detector_path

    path = resolve_detector_path(None if str(spec).lower() == "yolox" else Path(spec), models_dir)
    key = str(path)
    with _PERSON_DETECTORS_LOCK:
        if key not in _PERSON_DETECTORS:
            _PERSON_DETECTORS.clear()
            _PERSON_DETECTORS[key] = numpy_detector(YoloxDetector(path))
        return _PERSON_DETECTORS[key]


def pose_frame(result: PoseResult, **pose_options: Any) -> dict[str, Any]:
    """One POSE_KEYPOINT frame dict from a pose result (``to_pose_keypoint`` options), with ``person_id`` when the
    people were tracked (``result.info.track_ids``).

    ``person_id`` follows CMU OpenPose's JSON (``"person_id": [id]``); readers that do not know it ignore it.
    """
    frame = to_pose_keypoint(result.keypoints.numpy(), result.width, result.height, **pose_options)
    ids = result.info.track_ids
    if ids is not None:
        for person, track_id in zip(frame["people"], ids):
            person[ID_KEY] = [int(track_id)]
    return frame
