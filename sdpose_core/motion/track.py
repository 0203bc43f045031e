"""Person tracking across video frames, and person boxes carried between detections.

``PoseTracker`` gives every person a stable integer id. Each track remembers its last keypoints and box and a
velocity for each (pixels per frame, running averages: keypoints over those seen in consecutive updates, the box
by its centre); a new frame's people are matched to the tracks' *predicted* keypoints and boxes (last position +
velocity x frames elapsed) by OKS and box IoU, half each, greedily: tracks seen last frame first, best pair
first. The motion model is what keeps ids through crossings: when two people overlap, their predicted positions
still part the way each was moving. The box keeps its own velocity because while people overlap each crop holds
both, so their keypoints drift towards each other while the detector's boxes do not. Unmatched people start new
tracks (numbered left to right); tracks unseen for ``max_age`` frames are dropped.

``BoxCarrier`` implements "detect every N frames": the detector runs on frame 0, N, 2N, ... (and on any frame
while nobody is carried); in between, each detected person's box follows that person's keypoints, as far as the
streaming pipeline has returned them, extrapolated with the person's velocity to the frame asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..errors import InputError
from ..keypoints import DWPOSE_THRESHOLD, visible
from .limits import check_detect_every, check_max_age

DEFAULT_THRESHOLD = DWPOSE_THRESHOLD  # this name up to 0.2.0, kept for users' imports
OKS_KAPPA = 0.15  # per-keypoint falloff, as a fraction of the person's size; generous: tracking, not scoring
MIN_SIMILARITY = 0.15
VELOCITY_IOU = 0.3  # box overlap above which a new slot inherits a detected person's velocity
BOX_WEIGHT = 0.5  # keypoints and box count the same


def _numpy(values: Any, shape_tail: tuple[int, ...]) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0:
        return arr.reshape((0, *shape_tail))
    return arr


def keypoint_extent(kp: np.ndarray, threshold: float = DWPOSE_THRESHOLD, min_points: int = 2) -> np.ndarray | None:
    """x1, y1, x2, y2 of the keypoints scoring >= ``threshold`` ([K, 3]), or None when fewer than ``min_points``."""
    seen = visible(kp, threshold)
    if seen.sum() < min_points:
        return None
    xy = kp[seen, :2]
    return np.concatenate([xy.min(axis=0), xy.max(axis=0)])


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of x, y, w, h boxes [A, 4] x [B, 4] -> [A, B]."""
    a1, a2 = a[:, None, :2], a[:, None, :2] + a[:, None, 2:4]
    b1, b2 = b[None, :, :2], b[None, :, :2] + b[None, :, 2:4]
    inter = np.clip(np.minimum(a2, b2) - np.maximum(a1, b1), 0, None).prod(axis=-1)
    union = a[:, None, 2:4].prod(axis=-1) + b[None, :, 2:4].prod(axis=-1) - inter
    return inter / np.maximum(union, 1e-9)


def mean_shift(old: np.ndarray, new: np.ndarray, threshold: float) -> np.ndarray | None:
    """Mean displacement [2] of the keypoints seen in both ``old`` and ``new`` ([K, 3]); None if none is."""
    both = visible(old, threshold) & visible(new, threshold)
    if not both.any():
        return None
    return (new[both, :2] - old[both, :2]).mean(axis=0)


@dataclass
class Track:
    id: int
    keypoints: np.ndarray  # [K, 3] last seen
    box: np.ndarray  # [4] x, y, w, h last seen
    frame: int  # frame index last seen
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))  # keypoints, px per frame
    box_velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))  # box centre, px per frame
    hits: int = 1

    def predict(self, frame: int) -> tuple[np.ndarray, np.ndarray]:
        """Keypoints [K, 3] and box [4] extrapolated to ``frame``."""
        kp = self.keypoints.copy()
        kp[:, :2] += self.velocity * (frame - self.frame)
        box = self.box.copy()
        box[:2] += self.box_velocity * (frame - self.frame)
        return kp, box


class PoseTracker:
    """Stable ids for the people of consecutive frames. ``update`` once per frame, in order."""

    def __init__(self, *, max_age: int = 30, min_similarity: float = MIN_SIMILARITY,
                 threshold: float = DWPOSE_THRESHOLD, kappa: float = OKS_KAPPA, momentum: float = 0.5):
        check_max_age(max_age)
        self.max_age = max_age
        self.min_similarity = min_similarity
        self.threshold = threshold
        self.kappa = kappa
        self.momentum = momentum  # weight of the previous velocity in its running average
        self.tracks: list[Track] = []
        self.next_id = 0
        self.frame = -1

    def similarity(self, track: Track, kp: np.ndarray, box: np.ndarray, frame: int) -> float:
        """``(1 - BOX_WEIGHT) x OKS + BOX_WEIGHT x IoU``: OKS between the track's predicted keypoints and ``kp``
        over points seen in both, IoU between its predicted box and ``box``. Erratic keypoints in a steady box still
        match (by the box), and where two people's keypoints agree (overlapping people: each crop holds both) their
        boxes tell them apart. IoU alone when fewer than two keypoints are seen in both."""
        pred_kp, pred_box = track.predict(frame)
        iou = float(box_iou(pred_box[None], box[None])[0, 0])
        both = visible(pred_kp, self.threshold) & visible(kp, self.threshold)
        if both.sum() >= 2:
            area = max(float(track.box[2] * track.box[3]), 1.0)
            d2 = ((pred_kp[both, :2] - kp[both, :2]) ** 2).sum(axis=1)
            oks = float(np.exp(-d2 / (2.0 * area * self.kappa ** 2)).mean())
            return (1.0 - BOX_WEIGHT) * oks + BOX_WEIGHT * iou
        return iou

    def update(self, keypoints: Any, boxes: Any = None, frame: int | None = None) -> np.ndarray:
        """Ids [N] (int64) for this frame's people: keypoints [N, K, 3], boxes [N, 4] x, y, w, h (optional)."""
        kp = _numpy(keypoints, (0, 3))
        n = kp.shape[0]
        frame = self.frame + 1 if frame is None else int(frame)
        if frame <= self.frame:
            raise InputError(f"PoseTracker.update: frame {frame} after frame {self.frame}; frames must increase.")
        self.frame = frame
        if boxes is None:
            bx = np.stack([self._box_of(p) for p in kp]) if n else np.zeros((0, 4))
        else:
            bx = _numpy(boxes, (4,)).reshape(-1, 4)
            if len(bx) != n:
                raise InputError(f"PoseTracker.update: {len(bx)} boxes for {n} people.")
        self.tracks = [t for t in self.tracks if frame - t.frame <= self.max_age]
        # matching cascade: tracks seen most recently choose first (best pair first within each), since a lost
        # track's extrapolated position is the least certain
        pairs = sorted((frame - t.frame, -self.similarity(t, kp[j], bx[j], frame), i, j)
                       for i, t in enumerate(self.tracks) for j in range(n))
        ids = np.full(n, -1, dtype=np.int64)
        used: set[int] = set()
        for _, neg_sim, i, j in pairs:
            if -neg_sim < self.min_similarity or i in used or ids[j] >= 0:
                continue
            used.add(i)
            ids[j] = self._advance(self.tracks[i], kp[j], bx[j], frame)
        new = [j for j in range(n) if ids[j] < 0]
        for j in sorted(new, key=lambda j: (bx[j, 0] + bx[j, 2] / 2, j)):  # new people numbered left to right
            self.tracks.append(Track(self.next_id, kp[j].copy(), bx[j].copy(), frame))
            ids[j] = self.next_id
            self.next_id += 1
        return ids

    def _advance(self, track: Track, kp: np.ndarray, box: np.ndarray, frame: int) -> int:
        box_shift = (box[:2] + box[2:] / 2) - (track.box[:2] + track.box[2:] / 2)
        shift = mean_shift(track.keypoints, kp, self.threshold)
        if shift is None:
            shift = box_shift
        elapsed = frame - track.frame
        m = self.momentum if track.hits > 1 else 0.0
        track.velocity = m * track.velocity + (1.0 - m) * shift / elapsed
        track.box_velocity = m * track.box_velocity + (1.0 - m) * box_shift / elapsed
        track.keypoints, track.box, track.frame = kp.copy(), box.copy(), frame
        track.hits += 1
        return track.id

    def _box_of(self, kp: np.ndarray) -> np.ndarray:
        ext = keypoint_extent(kp, self.threshold, 1)
        if ext is None:
            ext = np.concatenate([np.nanmin(kp[:, :2], axis=0), np.nanmax(kp[:, :2], axis=0)])
        return np.array([ext[0], ext[1], max(ext[2] - ext[0], 1.0), max(ext[3] - ext[1], 1.0)])


def order_by_id(ids: np.ndarray) -> np.ndarray:
    """Row order that sorts a frame's people by track id (stable person order across frames)."""
    return np.argsort(ids, kind="stable")


@dataclass
class _Slot:
    """One person found at the last detection, followed until the next."""

    box: np.ndarray  # [4] x1, y1, x2, y2 from the detector
    score: float
    relation: np.ndarray | None = None  # detector box relative to the keypoint extent (per side, in extent sizes)
    keypoints: np.ndarray | None = None  # [K, 3] latest returned
    frame: int = -1  # frame of ``keypoints``
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))
    moving: bool = False  # velocity measured (or inherited) yet


class BoxCarrier:
    """Person boxes for "detect every N frames", to feed ``PoseEstimator`` as its per-frame boxes.

    Use: ``est = PoseEstimator(..., detector=carrier.detector)``, ``est(frames, carrier.boxes())``, and call
    ``carrier.observe(frame_index, result)`` on each result as it is yielded. ``boxes()`` yields None (detect) on
    key frames and while nobody is carried, else carried [[x, y, w, h, score], ...] in detection order.
    """

    def __init__(self, detector: Callable[[torch.Tensor], Any], every: int, *, threshold: float = DWPOSE_THRESHOLD,
                 momentum: float = 0.5):
        check_detect_every(every)
        self.base = detector
        self.every = every
        self.threshold = threshold
        self.momentum = momentum
        self.slots: list[_Slot] = []
        self.key_frame = -1  # frame of the last detection
        self.key_frame_before = -1
        self.generation = 0  # bumped at every detection
        self.issued: dict[int, int] = {}  # frame -> generation whose slots it was given (or detected with)
        self.frame = -1  # frame whose boxes were asked for last
        self.detections = 0

    def detector(self, image: torch.Tensor) -> torch.Tensor:
        """The wrapped detector: runs the real one and starts a new set of carried people."""
        found = torch.as_tensor(self.base(image), dtype=torch.float64).reshape(-1, 5)
        self.detections += 1
        self.generation += 1
        self.key_frame_before, self.key_frame = self.key_frame, self.frame
        self.issued[self.frame] = self.generation
        arr = found.cpu().numpy()
        old = self.slots
        self.slots = [_Slot(row[:4].copy(), float(row[4])) for row in arr if row[2] > row[0] and row[3] > row[1]]
        self._inherit(old)
        return found

    def _inherit(self, old: list[_Slot]) -> None:
        """Give each new slot the velocity of the previous detection's person it overlaps most (IoU > VELOCITY_IOU),
        so that its box moves from the first carried frame on, before any of its own results are back."""
        if not old or not self.slots:
            return
        t = self.frame
        prev = np.array([self._carried(slot, t, self.key_frame_before)[:4] for slot in old])
        new = np.array([[*s.box[:2], *(s.box[2:] - s.box[:2])] for s in self.slots])
        iou = box_iou(new, prev)
        taken: set[int] = set()
        for i in np.argsort(-iou.max(axis=1)):
            j = int(np.argmax(np.where(np.isin(np.arange(len(old)), list(taken)), -1.0, iou[i])))
            if iou[i, j] > VELOCITY_IOU and j not in taken:
                taken.add(j)
                self.slots[i].velocity, self.slots[i].moving = old[j].velocity.copy(), old[j].moving

    def boxes(self) -> Iterator[list[list[float]] | None]:
        """Per-frame boxes, endless; pulled by the pipeline right after each frame."""
        while True:
            self.frame += 1
            t = self.frame
            if not self.slots or t - self.key_frame >= self.every:
                yield None  # the pipeline calls ``detector`` on this frame now
                continue
            self.issued[t] = self.generation
            yield [self._carried(slot, t) for slot in self.slots]

    def _carried(self, slot: _Slot, t: int, key_frame: int | None = None) -> list[float]:
        box = slot.box  # the detector's box, moved with the person's velocity
        since = self.key_frame if key_frame is None else key_frame
        if slot.keypoints is not None and slot.relation is not None:
            ext = keypoint_extent(slot.keypoints, self.threshold)
            if ext is not None:  # the box the detector would give around the latest keypoints
                size = np.maximum(ext[2:] - ext[:2], 1.0)
                box, since = ext + slot.relation * np.concatenate([size, size]), slot.frame
        shift = slot.velocity * (t - since)
        x1, y1, x2, y2 = box + np.concatenate([shift, shift])
        return [float(x1), float(y1), float(max(x2 - x1, 1.0)), float(max(y2 - y1, 1.0)), slot.score]

    def observe(self, frame: int, result: Any) -> None:
        """Learn from a returned PoseResult (results of frames carried with the current detection)."""
        gen = self.issued.pop(frame, None)
        if gen != self.generation:
            return
        kps = _numpy(result.keypoints, (0, 3))
        for slot, kp in zip(self.slots, kps):
            if frame == self.key_frame:
                ext = keypoint_extent(kp, self.threshold)
                if ext is not None:
                    size = np.maximum(ext[2:] - ext[:2], 1.0)
                    slot.relation = (slot.box - ext) / np.concatenate([size, size])
            if keypoint_extent(kp, self.threshold) is None:
                continue
            if slot.keypoints is not None and frame > slot.frame:
                shift = mean_shift(slot.keypoints, kp, self.threshold)
                if shift is not None:
                    step = shift / (frame - slot.frame)
                    m = self.momentum if slot.moving else 0.0
                    slot.velocity, slot.moving = m * slot.velocity + (1 - m) * step, True
            slot.keypoints, slot.frame = kp.copy(), frame
