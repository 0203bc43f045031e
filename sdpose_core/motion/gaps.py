"""Fill short dropouts in a tracked clip: a keypoint (or a whole person) missing for up to N frames between two
frames where it is seen is interpolated linearly between them.

Dropped limbs flicker in a pose video and the generated character loses an arm for a frame. Only gaps with a
detection on both sides are filled: nothing is extrapolated past the clip's ends or past a person's first or last
appearance, and longer gaps stay missing (a person who left the picture does not glide). The score is interpolated
too, so DWPose's 1.0 stays 1.0 and raw scores stay between their neighbours'. Tracks come from ``person_id``
(:mod:`clip_tracks`); an untracked clip with more than one person per frame is returned unchanged.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InputError
from ..formats.openpose import load_pose_keypoint
from ..keypoints import DWPOSE_THRESHOLD, visible
from .clip_tracks import to_arrays, track_ids, write_back

DEFAULT_MAX_GAP = 5


def fill_series(values: np.ndarray, seen: np.ndarray, max_gap: int) -> tuple[np.ndarray, np.ndarray]:
    """Linear interpolation over runs of ``~seen`` of at most ``max_gap`` frames between two seen frames.

    ``values`` [T, D]; returns the filled values and the filled mask [T] (True for frames filled here).
    """
    out, filled = values.copy(), np.zeros(len(values), dtype=bool)
    idx = np.flatnonzero(seen)
    for a, b in zip(idx[:-1], idx[1:]):
        if 1 < b - a <= max_gap + 1:
            w = (np.arange(a + 1, b) - a) / (b - a)
            out[a + 1:b] = values[a] + w[:, None] * (values[b] - values[a])
            filled[a + 1:b] = True
    return out, filled


def fill_gaps(pose: Any, max_gap: int = DEFAULT_MAX_GAP, threshold: float = DWPOSE_THRESHOLD) -> list[dict]:
    """POSE_KEYPOINT clip with every keypoint's and person's gaps of up to ``max_gap`` frames filled."""
    if isinstance(max_gap, bool) or int(max_gap) != max_gap or max_gap < 0:
        raise InputError(f"max_gap must be a whole number of frames >= 0, got {max_gap!r}.")
    frames = load_pose_keypoint(pose)
    for track_id in track_ids(frames):
        track = to_arrays(frames, track_id)
        seen = visible(track.points, threshold)
        changed = False
        for k in range(track.points.shape[1]):
            values, filled = fill_series(track.points[:, k], seen[:, k], int(max_gap))
            if filled.any():
                track.points[:, k], changed = values, True
        if changed:
            frames = write_back(frames, track, threshold)
    return frames
