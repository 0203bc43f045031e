"""A tracked POSE_KEYPOINT clip as one array per person, and back: what clip-wide filters (gap filling, zero-lag
smoothing) work on.

Each track (``person_id``; in a clip with at most one person per frame and no ids, that person) becomes
``points`` [T, K, 3] over all T frames, the parts it ever has laid end to end (``layout``: key -> slice, in
``PART_POINTS`` order) and ``present`` [T] (the person is in that frame). Absent frames and missing points are
[0, 0, 0]. Writing back replaces each present person's parts and inserts people for frames where a filter filled
points of an absent person (placed in id order). Untracked multi-person clips have no tracks: they pass unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..formats.openpose import ID_KEY, PART_POINTS, PERSON_KEYS, triples
from ..keypoints import visible


@dataclass
class TrackArrays:
    track_id: int | None  # None: the only person of an untracked clip
    points: np.ndarray  # [T, K, 3]
    present: np.ndarray  # [T] bool
    layout: dict[str, slice]


def _owner(frame: dict, track_id: int | None) -> int | None:
    """Index of the track's person in a frame, None when absent."""
    for i, person in enumerate(frame["people"]):
        ids = person.get(ID_KEY)
        if (track_id is None and not ids) or (ids and int(ids[0]) == track_id):
            return i
    return None


def track_ids(frames: list[dict]) -> list[int | None]:
    """The clip's tracks: every ``person_id`` in first-seen order; [None] for an untracked single-person clip."""
    people = [p for f in frames for p in f["people"]]
    if people and all(p.get(ID_KEY) for p in people):
        return list(dict.fromkeys(int(p[ID_KEY][0]) for p in people))
    if people and not any(p.get(ID_KEY) for p in people) and all(len(f["people"]) <= 1 for f in frames):
        return [None]
    return []


def to_arrays(frames: list[dict], track_id: int | None) -> TrackArrays:
    """One track of canonical frames as arrays (see the module docstring)."""
    owners = [_owner(f, track_id) for f in frames]
    sizes: dict[str, int] = {}
    for frame, i in zip(frames, owners):
        if i is not None:
            for key in PART_POINTS:
                flat = frame["people"][i].get(key)
                if flat:
                    sizes.setdefault(key, len(flat) // 3)
    layout, start = {}, 0
    for key in PART_POINTS:
        if key in sizes:
            layout[key], start = slice(start, start + sizes[key]), start + sizes[key]
    points = np.zeros((len(frames), start, 3))
    for t, (frame, i) in enumerate(zip(frames, owners)):
        if i is None:
            continue
        for key, where in layout.items():
            part = triples(frame["people"][i].get(key))
            if part is not None and len(part) == where.stop - where.start:
                points[t, where] = part
    return TrackArrays(track_id, points, np.array([i is not None for i in owners], dtype=bool), layout)


def _insert(frame: dict, person: dict, track_id: int | None) -> None:
    """Put a person into a frame before the first person with a larger id (tracked clips are in id order)."""
    people = frame["people"]
    place = len(people)
    if track_id is not None:
        place = next((j for j, p in enumerate(people) if int(p[ID_KEY][0]) > track_id), len(people))
    people.insert(place, person)


def write_back(frames: list[dict], track: TrackArrays, threshold: float) -> list[dict]:
    """New frames with the track's people replaced by ``track.points``; absent frames gain a person when any of
    their points is now seen (score > 0 and >= ``threshold``)."""
    out = [{**f, "people": list(f["people"])} for f in frames]
    for t, frame in enumerate(out):
        seen = visible(track.points[t], threshold)
        i = _owner(frame, track.track_id)
        if i is None and not seen.any():
            continue
        person = dict(frame["people"][i]) if i is not None else {key: None for key in PERSON_KEYS}
        if i is None and track.track_id is not None:
            person[ID_KEY] = [track.track_id]
        for key, where in track.layout.items():
            if person.get(key) is not None or seen[where].any():
                person[key] = track.points[t, where].reshape(-1).tolist()
        if i is None:
            _insert(frame, person, track.track_id)
        else:
            frame["people"][i] = person
    return out
