"""Temporal smoothing of keypoints: a One-Euro filter per keypoint coordinate, per tracked person.

The One-Euro filter (Casiez et al., CHI 2012) is an exponential low-pass whose cut-off rises with speed:
``cutoff = min_cutoff + beta * speed``. Slow movement is smoothed hard (jitter goes), fast movement lightly
(little lag). It is causal, so it streams, and its lag is bounded by the low-pass at ``min_cutoff``.

Speed is measured in person sizes per second (keypoint speed in pixels/s divided by the longer side of the
extent of the person's confident keypoints, or of their box when fewer than two are confident), so ``beta``
means the same at every resolution and for people near or far; time is frame index / fps, so ``min_cutoff`` is
in Hz whatever the frame rate. With the defaults (1 Hz, beta 10), keypoint noise of 1 % of the person's size at
30 fps loses about 80 % of its frame-to-frame jitter at rest and half of it in motion, and a person moving one
height per second is followed with a lag of about half a frame.

Only confident keypoints (score >= ``threshold``) update the filter. A keypoint that was not confident in a
frame is passed through untouched (it is not drawn anyway); after a gap longer than ``reset_after`` seconds
its filter restarts from the new position instead of gliding from the old one. Scores are never changed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InputError
from ..keypoints import DWPOSE_THRESHOLD, visible
from .limits import check_frame_rate, finite_number

DEFAULT_MIN_CUTOFF = 1.0  # Hz
DEFAULT_BETA = 10.0  # per (person height / s)
DEFAULT_D_CUTOFF = 1.0  # Hz, for the speed estimate


def _alpha(cutoff: np.ndarray | float, dt: np.ndarray | float) -> np.ndarray:
    """Smoothing factor of a first-order low-pass at ``cutoff`` Hz sampled every ``dt`` seconds."""
    tau = 1.0 / (2.0 * math.pi * np.asarray(cutoff, dtype=np.float64))
    return 1.0 / (1.0 + tau / np.asarray(dt, dtype=np.float64))


@dataclass
class OneEuroSettings:
    """The One-Euro filter's settings; their defaults are the ones every caller (CLI, nodes, clips) offers."""

    min_cutoff: float = DEFAULT_MIN_CUTOFF
    beta: float = DEFAULT_BETA
    d_cutoff: float = DEFAULT_D_CUTOFF
    threshold: float = DWPOSE_THRESHOLD
    reset_after: float = 0.5  # seconds without a confident observation before a keypoint's filter restarts

    def check(self, names: Mapping[str, str] | None = None) -> None:
        """Refuse out-of-range values with one InputError; ``names``: field -> how the user knows it (a CLI flag,
        a node input), for the message."""
        name = (names or {}).get
        if not (finite_number(self.min_cutoff) and self.min_cutoff > 0):
            raise InputError(f"{name('min_cutoff', 'min_cutoff')} must be a positive frequency in Hz, "
                             f"got {self.min_cutoff}.")
        if not (finite_number(self.d_cutoff) and self.d_cutoff > 0):
            raise InputError(f"{name('d_cutoff', 'd_cutoff')} must be a positive frequency in Hz, got {self.d_cutoff}.")
        if not (finite_number(self.beta) and self.beta >= 0):
            raise InputError(f"{name('beta', 'beta')} must be zero or positive, got {self.beta}.")
        if not (finite_number(self.threshold) and 0 <= self.threshold <= 1):
            raise InputError(f"{name('threshold', 'threshold')} must be a score in 0..1, got {self.threshold}.")
        if not self.reset_after > 0:
            raise InputError(f"{name('reset_after', 'reset_after')} must be positive, got {self.reset_after}.")


class OneEuroFilter:
    """One-Euro filter over an array of 2-D points [K, 2]; each point keeps its own state and timestamp."""

    def __init__(self, settings: OneEuroSettings):
        self.s = settings
        self.value: np.ndarray | None = None  # [K, 2] filtered position
        self.speed: np.ndarray | None = None  # [K, 2] filtered derivative, px/s
        self.time: np.ndarray | None = None  # [K] time of the last update, NaN = never

    def __call__(self, points: np.ndarray, valid: np.ndarray, t: float, scale: float) -> np.ndarray:
        """Filter ``points`` [K, 2] observed at time ``t`` (s); only ``valid`` rows update. Returns [K, 2]."""
        pts = np.asarray(points, dtype=np.float64)
        valid = np.asarray(valid, dtype=bool) & np.isfinite(pts).all(axis=1)
        k = pts.shape[0]
        if self.value is None or self.value.shape[0] != k:
            self.value = pts.copy()
            self.speed = np.zeros_like(pts)
            self.time = np.full(k, np.nan)
        dt = t - self.time
        fresh = valid & (~np.isfinite(dt) | (dt > self.s.reset_after) | (dt <= 0))
        step = valid & ~fresh
        out = pts.copy()
        if step.any():
            d = dt[step][:, None]
            raw_speed = (pts[step] - self.value[step]) / d
            speed = self.speed[step] + _alpha(self.s.d_cutoff, d) * (raw_speed - self.speed[step])
            norm = np.linalg.norm(speed, axis=1, keepdims=True) / max(float(scale), 1.0)
            cutoff = self.s.min_cutoff + self.s.beta * norm
            value = self.value[step] + _alpha(cutoff, d) * (pts[step] - self.value[step])
            self.value[step], self.speed[step] = value, speed
            out[step] = value
        if fresh.any():
            self.value[fresh] = pts[fresh]
            self.speed[fresh] = 0.0
        self.time[valid] = t
        return out


class KeypointSmoother:
    """One-Euro smoothing of tracked people, keyed by track id.

    ``smooth(ids, keypoints, boxes, frame_index)`` takes one frame: track ids [N], keypoints [N, K, 3]
    (x, y, score in pixels) and person boxes [N, 4] (x, y, w, h; a fallback scale) and returns
    new keypoints with x, y filtered. Filters of ids unseen for ``max_age`` frames are dropped.
    """

    def __init__(self, fps: float, settings: OneEuroSettings | None = None, max_age: int = 300, **options: Any):
        check_frame_rate(fps)
        self.fps = float(fps)
        self.settings = settings or OneEuroSettings(**options)
        self.settings.check()
        self.max_age = max_age
        self.filters: dict[int, tuple[OneEuroFilter, int]] = {}

    def smooth(self, ids: Any, keypoints: Any, boxes: Any, frame_index: int) -> np.ndarray:
        kp = np.array(keypoints, dtype=np.float64, copy=True)
        if len(ids) != len(kp):
            raise InputError(f"smooth: {len(ids)} track ids for {len(kp)} people.")
        bx = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        t = frame_index / self.fps
        for row, track_id in enumerate(int(i) for i in ids):
            filt = self.filters.get(track_id, (None, 0))[0] or OneEuroFilter(self.settings)
            valid = visible(kp[row], self.settings.threshold)
            if valid.sum() >= 2:
                scale = float((kp[row, valid, :2].max(axis=0) - kp[row, valid, :2].min(axis=0)).max())
            else:
                scale = float(max(bx[row, 2], bx[row, 3])) if row < len(bx) else 1.0
            kp[row, :, :2] = filt(kp[row, :, :2], valid, t, scale)
            self.filters[track_id] = (filt, frame_index)
        stale = [i for i, (_, seen) in self.filters.items() if frame_index - seen > self.max_age]
        for i in stale:
            del self.filters[i]
        return kp
