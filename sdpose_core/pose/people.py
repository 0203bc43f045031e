"""Choose people in POSE_KEYPOINT: the N largest, most central, left to right, by track id, or one by index or id.

Pose-guided video models want one person (or a few) in the pose video; a passer-by in the driving clip becomes a
ghost limb. A person's size and place come from the extent of their drawn points (every part, score >= the
threshold). In a tracked clip (every person has ``person_id``) people are ranked per track over the whole clip
(mean size, mean distance from the centre, mean x), so the choice does not flip between frames; otherwise each
frame is ranked on its own. Selection never moves or changes a person; it only drops and reorders.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..choices import PEOPLE_ORDERS, SELECT_MODES
from ..errors import InputError
from ..formats.openpose import ID_KEY, PART_POINTS, load_pose_keypoint, triples
from ..keypoints import DWPOSE_THRESHOLD
from ..motion.track import keypoint_extent

ORDERS = PEOPLE_ORDERS
MODES = SELECT_MODES


def person_points(person: dict) -> np.ndarray:
    """Every part's points of one canonical person as one [K, 3] array."""
    parts = [triples(person[key]) for key in PART_POINTS if person.get(key)]
    return np.concatenate(parts) if parts else np.zeros((0, 3))


def person_extent(person: dict, threshold: float = DWPOSE_THRESHOLD) -> np.ndarray | None:
    """x1, y1, x2, y2 of the person's drawn points (score > 0 and >= threshold), None with fewer than two."""
    kp = person_points(person)
    kp = kp[kp[:, 2] > 0]
    return keypoint_extent(kp, threshold)


def _track_id(person: dict) -> int | None:
    ids = person.get(ID_KEY)
    return int(ids[0]) if ids else None


def _measures(person: dict, width: int, height: int, threshold: float) -> tuple[float, float, float]:
    """(area, distance of the centre from the canvas centre, centre x); nobody visible ranks last everywhere."""
    box = person_extent(person, threshold)
    if box is None:
        return 0.0, float("inf"), float("inf")
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return float((box[2] - box[0]) * (box[3] - box[1])), float(np.hypot(cx - width / 2, cy - height / 2)), float(cx)


def _sort_key(order: str) -> Callable[[tuple[float, float, float, float]], Any]:
    """Sort key over (area, distance, x, track id): ascending sort puts the chosen first."""
    return {"largest": lambda m: -m[0], "most_central": lambda m: m[1], "left_to_right": lambda m: m[2],
            "track_id": lambda m: m[3]}[order]


def _check(order: str, allowed: tuple[str, ...], what: str) -> None:
    if order not in allowed:
        raise InputError(f"{what} must be one of {', '.join(allowed)}; got {order!r}.")


def rank_people(frames: list[dict], order: str, threshold: float = DWPOSE_THRESHOLD) -> list[list[int]]:
    """For each canonical frame, the indices of its people, best first by ``order`` (see the module docstring)."""
    _check(order, ORDERS, "order")
    key = _sort_key(order)
    tracked = all(_track_id(p) is not None for f in frames for p in f["people"])
    per_frame = [[(*_measures(p, f["canvas_width"], f["canvas_height"], threshold), _track_id(p)) for p in f["people"]]
                 for f in frames]
    if tracked:
        sums: dict[int, list[float]] = {}
        for frame in per_frame:
            for area, dist, x, tid in frame:
                s = sums.setdefault(tid, [0.0, 0.0, 0.0, 0])
                s[0] += area
                s[1] += dist if np.isfinite(dist) else 0.0
                s[2] += x if np.isfinite(x) else 0.0
                s[3] += np.isfinite(dist)
        means = {tid: (a / max(n, 1), d / n if n else float("inf"), x / n if n else float("inf"), tid)
                 for tid, (a, d, x, n) in sums.items()}
        per_frame = [[means[m[3]] for m in frame] for frame in per_frame]
    else:
        per_frame = [[(*m[:3], m[3] if m[3] is not None else float("inf")) for m in frame] for frame in per_frame]
    return [sorted(range(len(frame)), key=lambda i, fr=frame: (key(fr[i]), i)) for frame in per_frame]


def limit_people(pose: Any, max_people: int | None, order: str = "largest",
                 threshold: float = DWPOSE_THRESHOLD) -> list[dict]:
    """POSE_KEYPOINT with at most ``max_people`` per frame (None: all), ordered best first by ``order``."""
    if max_people is not None and (isinstance(max_people, bool) or int(max_people) != max_people or max_people < 1):
        raise InputError(f"max_people must be a whole number >= 1 (or None for everyone), got {max_people!r}.")
    frames = load_pose_keypoint(pose)
    ranks = rank_people(frames, order, threshold)
    return [{**f, "people": [f["people"][i] for i in rank[:max_people]]} for f, rank in zip(frames, ranks)]


def select_people(pose: Any, mode: str = "largest", value: int = 0, count: int = 1,
                  threshold: float = DWPOSE_THRESHOLD) -> list[dict]:
    """Keep chosen people in every frame: ``mode`` "index" (the person at place ``value``), "track_id" (the person
    whose ``person_id`` is ``value``), or an order ("largest", "most_central", "left_to_right": the ``count`` best).
    A frame without the chosen person keeps no one (its canvas stays)."""
    _check(mode, MODES, "mode")
    frames = load_pose_keypoint(pose)
    if mode == "index":
        if value < 0:
            raise InputError(f"index must be 0 or more, got {value}.")
        return [{**f, "people": f["people"][value:value + 1]} for f in frames]
    if mode == "track_id":
        if frames and not any(_track_id(p) is not None for f in frames for p in f["people"]):
            raise InputError("track_id: these keypoints carry no person_id; pose the clip with tracking on "
                             "(SDPose Video Options, or --track), or select by index or size.")
        return [{**f, "people": [p for p in f["people"] if _track_id(p) == value]} for f in frames]
    return limit_people(frames, count, mode, threshold)
