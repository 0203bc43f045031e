"""Pose annotation of a clip: frames in order -> one :class:`PoseResult` per frame, people tracked, optionally smoothed.

:func:`annotate_frames` takes any iterable of frames (a decoded video, a ComfyUI IMAGE batch) and streams them
through :class:`~sdpose_core.engine.pipeline.PoseEstimator` (which batches crops of consecutive frames and keeps
about one batch of frames in flight). With tracking, people come in stable track order (``info.track_ids``);
options add One-Euro smoothing and detection every N frames with boxes carried between.
"""

from __future__ import annotations

import copy
import dataclasses
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any

import torch

from ..engine.pipeline import FrameInfo, PoseEstimator, PoseResult
from ..errors import InputError
from ..motion.smooth import KeypointSmoother, OneEuroSettings
from ..motion.track import BoxCarrier, PoseTracker, order_by_id
from .io import DEFAULT_FPS, as_rate
from .options import ClipOptions


def annotate_frames(estimator: PoseEstimator, frames: Iterable[Any], *, fps: Any = DEFAULT_FPS,
                    options: ClipOptions | None = None, boxes: Iterable[Any] | None = None,
                    keep_images: bool = False, **option_values: Any) -> Iterator[PoseResult]:
    """Pose a clip: one :class:`PoseResult` per frame, in order, streamed (about one batch of frames in flight).

    ``frames``: any iterable of images the estimator accepts (a :func:`~sdpose_core.video.io.read_frames`
    generator, a ComfyUI IMAGE tensor [B, H, W, 3] in 0..1, a list of arrays). ``fps`` times the smoothing.
    ``options`` (or the same fields as keywords, e.g. ``smooth=True, detect_every=5``): see :class:`ClipOptions`.
    ``boxes``: per-frame boxes as for the estimator (then no detection and no carrying). The estimator's own
    ``detector`` finds people; it is not modified. Each result's ``info`` (:class:`FrameInfo`) has ``index`` (the
    frame number); with tracking, people are sorted by track id and ``info.track_ids`` lists them; with
    ``keep_images``, ``info.image`` is the input frame (for overlays).
    """
    opts = dataclasses.replace(options or ClipOptions(), **option_values)
    opts.check()
    rate = as_rate(fps)
    if rate is None:
        raise InputError(f"fps must be positive, got {fps!r}.")
    est, carrier = estimator, None
    if boxes is None and opts.detect_every > 1 and estimator.detector is not None:
        carrier = BoxCarrier(estimator.detector, int(opts.detect_every), threshold=opts.threshold)
        est = copy.copy(estimator)
        est.detector = carrier.detector
        boxes = carrier.boxes()
    tracker = None
    if opts.track or opts.smooth:
        max_age = opts.max_age if opts.max_age is not None else max(1, int(round(float(rate))))
        tracker = PoseTracker(max_age=max_age, threshold=opts.threshold)
    smoother = None
    if opts.smooth:
        settings = OneEuroSettings(opts.min_cutoff, opts.beta, threshold=opts.threshold)
        smoother = KeypointSmoother(float(rate), settings, max_age=tracker.max_age)

    kept: deque[Any] = deque()  # frames handed to the estimator whose results have not come out yet

    def feed() -> Iterator[Any]:
        for image in frames:
            if keep_images:
                kept.append(image)
            yield image

    for result in est(feed(), boxes):
        index = result.info.index
        image = kept.popleft() if keep_images else None
        if carrier is not None:
            carrier.observe(index, result)
        keypoints, order, ids = result.keypoints, None, None
        if tracker is not None:
            found = tracker.update(result.keypoints, result.boxes, index)
            order = torch.as_tensor(order_by_id(found))
            keypoints = result.keypoints[order]
            ids = found[order.numpy()]
            if smoother is not None:
                keypoints = torch.as_tensor(smoother.smooth(ids, keypoints.numpy(), result.boxes[order].numpy(),
                                                            index), dtype=result.keypoints.dtype)
        info = FrameInfo(index, None if ids is None else [int(i) for i in ids], image)
        if order is None:
            result = dataclasses.replace(result, info=info)
        else:
            result = PoseResult(result.width, result.height, keypoints, result.boxes[order], result.box_scores[order],
                                info)
        del image
        yield result


__all__ = ["ClipOptions", "annotate_frames"]
