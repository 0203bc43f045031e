"""Offline zero-lag smoothing of a whole clip: the One-Euro filter of :mod:`smooth` run forward and backward in
time, the two results averaged.

The causal One-Euro filter trails a moving point by about ``v * tau`` (``tau`` its time constant); run backward it
leads by the same amount, so the average has no lag on steady motion while keeping the jitter cut of both passes.
This needs the whole clip (POSE_KEYPOINT files, a ComfyUI batch), not a live stream. Settings mean what they mean
in :mod:`smooth` (cut-off in Hz, beta per person size per second, only confident points update and are changed,
scores untouched); tracks come from ``person_id`` (:mod:`clip_tracks`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..formats.openpose import load_pose_keypoint
from ..keypoints import visible
from .clip_tracks import to_arrays, track_ids, write_back
from .limits import check_frame_rate
from .smooth import OneEuroFilter, OneEuroSettings


def _scale(points: np.ndarray, valid: np.ndarray) -> float:
    """Person size: the longer side of the extent of the valid points (1 with fewer than two)."""
    if valid.sum() < 2:
        return 1.0
    xy = points[valid, :2]
    return float((xy.max(axis=0) - xy.min(axis=0)).max())


def _one_pass(points: np.ndarray, valid: np.ndarray, fps: float, settings: OneEuroSettings) -> np.ndarray:
    """Causal One-Euro over [T, K, 2] in the given frame order."""
    filt = OneEuroFilter(settings)
    return np.stack([filt(points[t, :, :2], valid[t], t / fps, _scale(points[t], valid[t]))
                     for t in range(len(points))])


def smooth_series(points: np.ndarray, fps: float, settings: OneEuroSettings | None = None) -> np.ndarray:
    """Forward-backward One-Euro over one person's [T, K, 3] keypoints; returns [T, K, 3] (scores unchanged)."""
    settings = settings or OneEuroSettings()
    settings.check()
    check_frame_rate(fps)
    valid = visible(points, settings.threshold)
    forward = _one_pass(points, valid, fps, settings)
    backward = _one_pass(points[::-1], valid[::-1], fps, settings)[::-1]
    out = points.copy()
    out[..., :2] = np.where(valid[..., None], (forward + backward) / 2, points[..., :2])
    return out


def smooth_clip(pose: Any, fps: float, settings: OneEuroSettings | None = None, **options: Any) -> list[dict]:
    """A POSE_KEYPOINT clip smoothed without lag, track by track (``options``: :class:`OneEuroSettings` fields)."""
    settings = settings or OneEuroSettings(**options)
    frames = load_pose_keypoint(pose)
    for track_id in track_ids(frames):
        track = to_arrays(frames, track_id)
        track.points = smooth_series(track.points, float(fps), settings)
        frames = write_back(frames, track, settings.threshold)
    return frames
