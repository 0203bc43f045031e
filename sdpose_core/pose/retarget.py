"""Retarget a driving pose clip to a reference body: the driving motion with the reference person's proportions.

What AnimateAnyone-style pipelines need: the pose video must show the *reference* character's body (limb lengths,
head and hand size) moving as the driving person does, or the generated character stretches to the driver's build.

Semantics (all in pixels of the reference canvas, which is the output canvas):

* Clip measurements, per driving person (``person_id``, else their place in the frame): every bone's *full* length,
  the ``FULL_PERCENTILE`` percentile of its length over the frames where both its joints are seen (after a running
  median over ``FULL_WINDOW`` of them, so detector jitter does not inflate it), a left/right pair further apart
  than ``PAIR_TOLERANCE`` taking the longer of the two; the same for the palm (wrist to the finger bases) and the
  face (spread of the landmarks). No single frame calibrates the clip: a first frame with a limb pointing at the
  camera changes nothing.
* Reference lengths: each bone as the reference shows it; a left/right pair whose sides differ by more than
  ``PAIR_TOLERANCE`` takes the longer side for both (the shorter one is foreshortened), a side the reference lacks
  takes the other side; a bone missing on both sides takes the driving full length times the body ratio.
* Body: the OpenPose-18 limbs (``keypoints.LIMBS``, parent first, outward from the neck) are rebuilt in that order.
  Each bone keeps the driving frame's direction and its foreshortening: reference length x (driving length in the
  frame / the bone's full driving length), never above the reference length. A joint missing in the driving frame
  stays missing. A joint whose parent is missing hangs from its nearest placed ancestor, the driving vector scaled
  by the chain's reference over driving full length. A missing neck (a shoulder dropped out) is stood in for by
  the person's neck interpolated over time (within ``NECK_GAP`` frames), drawn nowhere; without one the joints are
  placed by the clip's root transform ``anchor_out + ratio * (p - anchor_in)``.
* Root: the neck of the primary driving person (the first person with a neck, frame by frame; followed by its
  ``person_id`` when tracked, its place otherwise) on its first frame with a neck is the anchor; it lands on the
  reference neck (``anchor="neck"``). Every neck then moves by the driving displacement times the body ratio, and
  vertically by the frame's *ground correction*: the primary person's lowest ankle (its chain from the neck seen)
  moves by the driving ankle's displacement times the body ratio, so the feet stay on the ground when the legs
  fold (a squat) even where the reference's legs are proportionally longer (frames without such an ankle take the
  correction interpolated from their neighbours). ``anchor="feet"`` then shifts the clip vertically so that the
  anchor frame's lowest ankle or foot point lies on the reference's ground line (its lowest ankle or foot point;
  foot points count only when both sides have them, so a heel never lands on an ankle's height); without ankles
  or feet on either side it falls back to the neck.
* Body ratio (one for the whole clip): reference size over driving size, where size is the summed full length of
  the shoulder, torso and leg bones (``SIZE_LIMBS``) both have (the primary driving person's).
* Hands and face keep the driving shape, scaled by reference size over the driving person's full size (hands: the
  palm, which finger curl does not shrink, the larger of the reference's two hands; face: the landmarks' spread);
  a hand without a palm on either side takes the forearm ratio, a face the body ratio. They move rigidly: each
  hand's wrist point onto the retargeted body wrist, the face's nose tip onto the retargeted nose; the face's two
  eye points are the retargeted body eyes. Feet (``foot_keypoints_2d``) move rigidly with their ankles, scaled by
  the body ratio.
* People, ``person_id`` and scores are the driving ones; each frame has the reference's canvas size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..choices import RETARGET_ANCHORS
from ..errors import InputError
from ..formats.openpose import (
    BODY_KEY,
    FACE_KEY,
    FACE_LANDMARKS,
    FOOT_KEY,
    ID_KEY,
    LEFT_KEY,
    OPENPOSE_EYES,
    RIGHT_KEY,
    load_pose_keypoint,
    triples,
)
from ..keypoints import DWPOSE_THRESHOLD, FOOT, LEFT_HAND, LIMBS, OPENPOSE_NECK, visible

ANCHORS = RETARGET_ANCHORS
NECK = OPENPOSE_NECK
NOSE, R_WRIST, L_WRIST, R_ANKLE, L_ANKLE = 0, 4, 7, 10, 13
BODY_EYES = OPENPOSE_EYES  # OpenPose-18 eyes: the face part's points after its landmarks
FACE_NOSE_TIP = 30  # 68-point face landmarks: tip of the nose
SIZE_LIMBS = ((1, 2), (1, 5), (1, 8), (8, 9), (9, 10), (1, 11), (11, 12), (12, 13))
HAND_WRIST = {LEFT_KEY: L_WRIST, RIGHT_KEY: R_WRIST}
HAND_FOREARM = {LEFT_KEY: (6, 7), RIGHT_KEY: (3, 4)}
PALM_BASES = (5, 9, 13, 17)  # 21-point hand: the bases of the four fingers (the wrist is point 0)
# The foot part's left foot (COCO-WholeBody 17-19) then right foot (20-22), with the ankle each hangs from.
FOOT_ANKLES = ((slice(0, FOOT.size // 2), L_ANKLE), (slice(FOOT.size // 2, FOOT.size), R_ANKLE))
PARENT = {b: a for a, b in LIMBS}
_LIMB_A, _LIMB_B = (np.array(ends) for ends in zip(*LIMBS))
# Each bone and its left/right mirror (both directions).
_PAIRS = (((1, 2), (1, 5)), ((2, 3), (5, 6)), ((3, 4), (6, 7)), ((1, 8), (1, 11)), ((8, 9), (11, 12)),
          ((9, 10), (12, 13)), ((0, 14), (0, 15)), ((14, 16), (15, 17)))
MIRROR = {**dict(_PAIRS), **{b: a for a, b in _PAIRS}}
FULL_PERCENTILE = 90.0  # a part's full (facing the camera) size over the clip: this percentile of its sizes
FULL_WINDOW = 7  # ... after a running median over this many measurements
PAIR_TOLERANCE = 0.05  # left/right bones further apart than this: the shorter one is foreshortened
FACE_SEEN = 0.75  # share of the 68 landmarks a face needs for its size to be measured
MIN_PART_SIZE = 1.0  # pixels: a palm or face measured smaller is a collapsed detection, not a size to scale by
NECK_GAP = 15  # frames over which a missing neck is interpolated from the frames around it


def _seen(part: np.ndarray | None, threshold: float) -> np.ndarray:
    """Mask of the points drawn (score > 0 and >= threshold), as render draws them."""
    if part is None:
        return np.zeros(0, dtype=bool)
    return visible(part, threshold)


def _lengths(body: np.ndarray | None, threshold: float) -> dict[tuple[int, int], float]:
    """Length of every limb whose two joints are seen."""
    if body is None or len(body) < 18:
        return {}
    seen = _seen(body, threshold)
    both = seen[_LIMB_A] & seen[_LIMB_B]
    lengths = np.hypot(*(body[_LIMB_B, :2] - body[_LIMB_A, :2]).T)
    return {LIMBS[i]: float(lengths[i]) for i in np.flatnonzero(both)}


def _spread(part: np.ndarray, mask: np.ndarray) -> float:
    """RMS distance of the masked points from their centroid: a size that does not depend on the position."""
    xy = part[mask, :2]
    return float(np.sqrt(((xy - xy.mean(axis=0)) ** 2).sum(axis=1).mean()))


def palm_size(hand: np.ndarray | None, threshold: float) -> float | None:
    """Mean distance from the wrist to the seen finger bases (at least two): a hand size that finger curl keeps;
    None below ``MIN_PART_SIZE``."""
    if hand is None or len(hand) != LEFT_HAND.size:
        return None
    seen = _seen(hand, threshold)
    bases = [k for k in PALM_BASES if seen[k]]
    if not seen[0] or len(bases) < 2:
        return None
    size = float(np.linalg.norm(hand[bases, :2] - hand[0, :2], axis=1).mean())
    return size if size >= MIN_PART_SIZE else None


def face_size(face: np.ndarray | None, threshold: float) -> float | None:
    """Spread of the face's landmarks, when at least ``FACE_SEEN`` of them are seen and it is ``MIN_PART_SIZE`` or
    more."""
    if face is None or len(face) < FACE_LANDMARKS:
        return None
    seen = _seen(face, threshold)[:FACE_LANDMARKS]
    if seen.sum() < FACE_SEEN * FACE_LANDMARKS:
        return None
    size = _spread(face[:FACE_LANDMARKS], seen)
    return size if size >= MIN_PART_SIZE else None


def _full(values: list[float]) -> float | None:
    """A size's full value over the clip: the ``FULL_PERCENTILE`` percentile of the sizes after a running median
    over ``FULL_WINDOW`` measurements (detector jitter would otherwise push a high percentile up), None without
    measurements."""
    if not values:
        return None
    series = np.asarray(values, dtype=np.float64)
    if len(series) >= FULL_WINDOW:
        half = FULL_WINDOW // 2
        padded = np.pad(series, half, mode="edge")
        series = np.median(np.lib.stride_tricks.sliding_window_view(padded, FULL_WINDOW), axis=1)
    return float(np.percentile(series, FULL_PERCENTILE))


def _share_pairs(lengths: dict[tuple[int, int], float], tolerance: float) -> dict[tuple[int, int], float]:
    """Left/right bones: a missing side takes the other; sides further apart than ``tolerance`` (a share of the
    longer) both take the longer one."""
    out = dict(lengths)
    for bone, mirror in MIRROR.items():
        own, other = lengths.get(bone), lengths.get(mirror)
        if other is None:
            continue
        if own is None or own < (1 - tolerance) * other:
            out[bone] = other
    return out


def reference_lengths(body: np.ndarray | None, threshold: float) -> dict[tuple[int, int], float]:
    """The reference's bone lengths, left/right pairs repaired (module docstring)."""
    return _share_pairs(_lengths(body, threshold), PAIR_TOLERANCE)


def _key(person: dict, index: int) -> Any:
    """A person's identity across frames: their track id, else their place in the frame."""
    ids = person.get(ID_KEY)
    return ("id", int(ids[0])) if ids else ("index", index)


def _ground(person: dict, threshold: float, ankles: bool = True, feet: bool = True) -> float | None:
    """Lowest (largest y) seen ankle or foot point (of the kinds asked for), None when there is none."""
    ys = []
    body, foot = triples(person.get(BODY_KEY)), triples(person.get(FOOT_KEY))
    if body is not None and ankles:
        seen = _seen(body, threshold)
        ys += [body[j, 1] for j in (R_ANKLE, L_ANKLE) if seen[j]]
    if foot is not None and feet:
        ys += foot[_seen(foot, threshold), 1].tolist()
    return max(ys) if ys else None


def _chain(joint: int) -> list[int]:
    """The joints from the neck down to ``joint``, the neck first."""
    path = [joint]
    while path[-1] in PARENT:
        path.append(PARENT[path[-1]])
    return path[::-1]


@dataclass
class Track:
    """One driving person's clip measurements: full bone lengths, palm and face size, and the frames with a neck."""

    bones: dict[tuple[int, int], float]
    palm: float | None
    face: float | None
    neck_frames: np.ndarray
    necks: np.ndarray

    def neck(self, t: int) -> np.ndarray | None:
        """The neck at frame ``t`` interpolated from the frames around it (each within ``NECK_GAP``)."""
        after = int(np.searchsorted(self.neck_frames, t))
        if after == 0 or after == len(self.neck_frames):
            return None
        t0, t1 = self.neck_frames[after - 1], self.neck_frames[after]
        if t - t0 > NECK_GAP or t1 - t > NECK_GAP:
            return None
        w = (t - t0) / (t1 - t0)
        return (1 - w) * self.necks[after - 1] + w * self.necks[after]


def measure_track(people: list[tuple[int, dict]], threshold: float) -> Track:
    """A driving person's :class:`Track` from their (frame index, person) appearances."""
    bones: dict[tuple[int, int], list[float]] = {}
    palms, faces, neck_frames, necks = [], [], [], []
    for t, person in people:
        body = triples(person.get(BODY_KEY))
        for bone, length in _lengths(body, threshold).items():
            bones.setdefault(bone, []).append(length)
        if body is not None and len(body) > NECK and _seen(body, threshold)[NECK]:
            neck_frames.append(t)
            necks.append(body[NECK, :2])
        for key in HAND_WRIST:
            size = palm_size(triples(person.get(key)), threshold)
            if size is not None:
                palms.append(size)
        size = face_size(triples(person.get(FACE_KEY)), threshold)
        if size is not None:
            faces.append(size)
    full = _share_pairs({bone: _full(values) for bone, values in bones.items()}, PAIR_TOLERANCE)
    return Track(full, _full(palms), _full(faces), np.array(neck_frames, dtype=np.int64),
                 np.array(necks, dtype=np.float64).reshape(-1, 2))


@dataclass
class RetargetPlan:
    """The clip-level quantities: body ratio, the root transform ``out = anchor_out + ratio * (p - anchor_in)``,
    the per-frame ground correction (added to y) and each driving person's measurements."""

    ratio: float
    anchor_in: np.ndarray
    anchor_out: np.ndarray
    tracks: dict[Any, Track] = field(default_factory=dict)
    lift: np.ndarray | None = None

    def lift_at(self, t: int) -> float:
        return float(self.lift[t]) if self.lift is not None and 0 <= t < len(self.lift) else 0.0


class Retargeter:
    """Retargets one clip: the reference person and its repaired bone lengths, palm and face size."""

    def __init__(self, reference: dict, threshold: float = DWPOSE_THRESHOLD):
        self.reference = reference
        self.threshold = threshold
        self.ref_body = triples(reference.get(BODY_KEY))
        self.ref_lengths = reference_lengths(self.ref_body, threshold)
        palms = [palm_size(triples(reference.get(key)), threshold) for key in HAND_WRIST]
        self.ref_palm = max((p for p in palms if p is not None), default=None)
        self.ref_face = face_size(triples(reference.get(FACE_KEY)), threshold)

    # ------------------------------------------------------------------------------------------------ clip plan
    def has_neck(self, person: dict) -> bool:
        """The person's OpenPose neck is drawn (both shoulders were seen)."""
        body = triples(person.get(BODY_KEY))
        return body is not None and len(body) > NECK and bool(_seen(body, self.threshold)[NECK])

    def body_ratio(self, track: Track) -> float:
        """Reference size over the primary driving person's full size (module docstring); 1.0 if unmeasurable."""
        shared = [b for b in SIZE_LIMBS if b in self.ref_lengths and b in track.bones]
        if not shared:
            shared = [b for b in self.ref_lengths if b in track.bones]
        drv_size = sum(track.bones[b] for b in shared)
        return sum(self.ref_lengths[b] for b in shared) / drv_size if shared and drv_size > 0 else 1.0

    def plan(self, frames: list[dict], primary: list[dict | None], anchor: str) -> RetargetPlan:
        """Measurements, body ratio, root transform and ground correction from the clip and its primary person
        (one entry per frame, None where absent)."""
        if not self.has_neck(self.reference):
            raise InputError("retarget: the reference person has no neck (both shoulders must be visible); use a "
                             "reference image showing the upper body, or choose another reference person.")
        first_t = next((t for t, p in enumerate(primary) if p is not None and self.has_neck(p)), None)
        if first_t is None:
            raise InputError("retarget: no driving person has a neck (both shoulders visible) in any frame, so the "
                             "clip cannot be placed on the reference; use a driving clip showing the upper body.")
        appearances: dict[Any, list[tuple[int, dict]]] = {}
        for t, frame in enumerate(frames):
            for i, person in enumerate(frame["people"]):
                appearances.setdefault(_key(person, i), []).append((t, person))
        tracks = {key: measure_track(people, self.threshold) for key, people in appearances.items()}
        first = primary[first_t]
        ratio = self.body_ratio(tracks[_key(first, self.primary_index(frames[first_t], first))])
        plan = RetargetPlan(ratio, triples(first[BODY_KEY])[NECK, :2].copy(), self.ref_body[NECK, :2].copy(), tracks)
        plan.lift = self.ground_correction(frames, primary, plan, first_t)
        if anchor == "feet":  # like for like: foot points only when both sides have them, else the ankles
            feet = all(_ground(p, self.threshold, ankles=False) is not None for p in (first, self.reference))
            ground_out = _ground(self.person(first, self.primary_index(frames[first_t], first), plan, first_t),
                                 self.threshold, feet=feet)
            ground_ref = _ground(self.reference, self.threshold, feet=feet)
            if ground_out is not None and ground_ref is not None:
                plan.anchor_out = plan.anchor_out + np.array([0.0, ground_ref - ground_out])
        return plan

    @staticmethod
    def primary_index(frame: dict, person: dict) -> int:
        """The place of ``person`` (one of the frame's own dicts) in the frame."""
        return next(i for i, p in enumerate(frame["people"]) if p is person)

    def ground_correction(self, frames: list[dict], primary: list[dict | None], plan: RetargetPlan,
                          anchor_t: int) -> np.ndarray:
        """Per frame, the vertical shift that moves the primary person's lowest ankle by the driving displacement
        times the body ratio (zero at the anchor frame; interpolated where no such ankle is seen)."""
        times, values = [], []
        for t, person in enumerate(primary):
            if person is None:
                continue
            body = triples(person.get(BODY_KEY))
            if body is None or len(body) <= L_ANKLE:
                continue
            seen = _seen(body, self.threshold)
            ankles = [j for j in (R_ANKLE, L_ANKLE) if all(seen[k] for k in _chain(j))]
            if not ankles:
                continue
            low = max(ankles, key=lambda j: body[j, 1])
            key = _key(person, self.primary_index(frames[t], person))
            built = self.body(body, plan.tracks[key], plan, t, lift=0.0)
            values.append(self._root(body[low, :2], plan)[1] - built[low, 1])
            times.append(t)
        if not times:
            return np.zeros(len(frames))
        correction = np.interp(np.arange(len(frames)), times, values)
        return correction - correction[anchor_t]

    # ------------------------------------------------------------------------------------------------ one person
    def _root(self, xy: np.ndarray, plan: RetargetPlan) -> np.ndarray:
        return plan.anchor_out + plan.ratio * (xy - plan.anchor_in)

    def _ref_length(self, bone: tuple[int, int], track: Track, plan: RetargetPlan) -> float | None:
        """The reference's full length of a bone, else the driving full length times the body ratio."""
        if bone in self.ref_lengths:
            return self.ref_lengths[bone]
        return track.bones[bone] * plan.ratio if bone in track.bones else None

    def _chain_scale(self, top: int, joint: int, track: Track, plan: RetargetPlan) -> float:
        """Reference over driving full length of the chain of bones from ``top`` down to ``joint``."""
        path = _chain(joint)
        bones = list(zip(path[path.index(top):-1], path[path.index(top) + 1:]))
        ref = [self._ref_length(b, track, plan) for b in bones]
        drv = [track.bones.get(b) for b in bones]
        if any(v is None for v in ref + drv) or sum(drv) <= 0:
            return plan.ratio
        return sum(ref) / sum(drv)

    def body(self, body: np.ndarray, track: Track, plan: RetargetPlan, t: int,
             lift: float | None = None) -> np.ndarray:
        """OpenPose-18 body rebuilt outward from the neck (module docstring) at frame ``t``."""
        out = body.copy()
        seen = _seen(body, self.threshold)
        shift = np.array([0.0, plan.lift_at(t) if lift is None else lift])
        src, pos = body[:, :2].copy(), np.zeros((len(body), 2))
        placed = np.zeros(len(body), dtype=bool)
        neck = body[NECK, :2] if seen[NECK] else track.neck(t)
        if neck is not None:
            src[NECK], pos[NECK], placed[NECK] = neck, self._root(neck, plan) + shift, True
        for a, b in LIMBS:
            if not seen[b]:
                continue
            if placed[a]:
                vec = src[b] - src[a]
                norm = math.hypot(vec[0], vec[1])
                full, ref = track.bones.get((a, b)), self._ref_length((a, b), track, plan)
                length = ref * min(1.0, norm / full) if full and ref is not None else norm * plan.ratio
                pos[b] = pos[a] + (length / norm * vec if norm > 0 else 0.0)
            else:
                top = next((j for j in _chain(a)[::-1] if placed[j]), None)
                if top is None:
                    pos[b] = self._root(src[b], plan) + shift
                else:
                    pos[b] = pos[top] + self._chain_scale(top, b, track, plan) * (src[b] - src[top])
            placed[b] = True
        out[seen, :2] = pos[seen]
        return out

    def _hand_scale(self, key: str, track: Track, plan: RetargetPlan) -> float:
        """Reference palm over the driving full palm, else the forearm's reference over driving full length."""
        if self.ref_palm is not None and track.palm:
            return self.ref_palm / track.palm
        bone = HAND_FOREARM[key]
        ref = self._ref_length(bone, track, plan)
        return ref / track.bones[bone] if ref is not None and track.bones.get(bone) else plan.ratio

    def _face_scale(self, track: Track, plan: RetargetPlan) -> float:
        return self.ref_face / track.face if self.ref_face is not None and track.face else plan.ratio

    def _rigid(self, part: np.ndarray, scale: float, pivot_in: np.ndarray, pivot_out: np.ndarray) -> np.ndarray:
        """Scale ``part`` about ``pivot_in`` and move that pivot to ``pivot_out``; missing points stay as they are."""
        out = part.copy()
        seen = _seen(part, self.threshold)
        out[seen, :2] = pivot_out + scale * (part[seen, :2] - pivot_in)
        return out

    def _attach(self, part: np.ndarray, own: int | None, body_in: np.ndarray | None, body_out: np.ndarray | None,
                joint: int, scale: float, plan: RetargetPlan, t: int) -> np.ndarray:
        """Move a part rigidly so its point ``own`` (None: the body joint) lands on the retargeted body ``joint``."""
        seen = _seen(part, self.threshold)
        if not seen.any():
            return part.copy()
        body_seen = _seen(body_in, self.threshold) if body_in is not None else np.zeros(18, dtype=bool)
        if own is not None and seen[own]:
            pivot_in = part[own, :2]
        elif body_seen[joint]:
            pivot_in = body_in[joint, :2]
        else:
            pivot_in = part[seen, :2].mean(axis=0)
        if body_seen[joint]:
            pivot_out = body_out[joint, :2]
        else:
            pivot_out = self._root(pivot_in, plan) + np.array([0.0, plan.lift_at(t)])
        return self._rigid(part, scale, pivot_in, pivot_out)

    def person(self, person: dict, index: int, plan: RetargetPlan, t: int = 0) -> dict:
        """One driving person at frame ``t`` retargeted (a new dict; the keys present in the driving person kept)."""
        out = dict(person)
        track = plan.tracks.get(_key(person, index)) or measure_track([(t, person)], self.threshold)
        body_in = triples(person.get(BODY_KEY))
        body_out = self.body(body_in, track, plan, t) if body_in is not None else None
        if body_out is not None:
            out[BODY_KEY] = body_out.reshape(-1).tolist()
        for name, wrist in HAND_WRIST.items():
            hand = triples(person.get(name))
            if hand is not None:
                scale = self._hand_scale(name, track, plan)
                out[name] = self._attach(hand, 0, body_in, body_out, wrist, scale, plan, t).reshape(-1).tolist()
        face = triples(person.get(FACE_KEY))
        if face is not None:
            moved = self._attach(face, FACE_NOSE_TIP, body_in, body_out, NOSE, self._face_scale(track, plan), plan, t)
            if body_out is not None and len(moved) == FACE_LANDMARKS + len(BODY_EYES):
                for i, eye in enumerate(BODY_EYES):
                    if _seen(moved, self.threshold)[FACE_LANDMARKS + i] and _seen(body_in, self.threshold)[eye]:
                        moved[FACE_LANDMARKS + i, :2] = body_out[eye, :2]
            out[FACE_KEY] = moved.reshape(-1).tolist()
        feet = triples(person.get(FOOT_KEY))
        if feet is not None:
            moved = feet.copy()
            for points, ankle in FOOT_ANKLES:
                moved[points] = self._attach(feet[points], None, body_in, body_out, ankle, plan.ratio, plan, t)
            out[FOOT_KEY] = moved.reshape(-1).tolist()
        return out


def reference_person(reference: Any, person: int = 0) -> tuple[dict, int, int]:
    """The reference person (canonical dict) and canvas (width, height) from a POSE_KEYPOINT dict or list."""
    frames = load_pose_keypoint(reference)
    if not frames:
        raise InputError("retarget: the reference POSE_KEYPOINT is an empty list; give one frame with a person.")
    people = frames[0]["people"]
    whole = isinstance(person, (int, np.integer)) and not isinstance(person, bool)
    if not (whole and 0 <= person < len(people)):
        raise InputError(f"retarget: reference person {person!r} asked for, but the reference frame has "
                         f"{len(people)} people; choose an index from 0 to {len(people) - 1}."
                         if people else "retarget: nobody was found in the reference; use an image showing the "
                         "person whole, or a reference POSE_KEYPOINT with a person in it.")
    return people[person], frames[0]["canvas_width"], frames[0]["canvas_height"]


def _primary(frames: list[dict], has_neck) -> list[dict | None]:
    """The primary driving person per frame: the first person with a neck (frame by frame, in each frame's order),
    followed by its track id, or by its place when untracked; None where absent (everywhere if nobody has one)."""
    found = next(((i, p) for f in frames for i, p in enumerate(f["people"]) if has_neck(p)), None)
    if found is None:
        return [None] * len(frames)
    index, first = found
    ids = first.get(ID_KEY)
    if not ids:
        return [f["people"][index] if len(f["people"]) > index else None for f in frames]
    return [next((p for p in f["people"] if p.get(ID_KEY) == ids), None) for f in frames]


def retarget(driving: Any, reference: Any, *, anchor: str = "neck", reference_person_index: int = 0,
             threshold: float = DWPOSE_THRESHOLD) -> list[dict]:
    """Driving POSE_KEYPOINT (list of frames, or one dict) retargeted to the reference body (module docstring).

    ``reference``: a POSE_KEYPOINT dict or list (its first frame is used), person ``reference_person_index``.
    Returns one canonical POSE_KEYPOINT dict per driving frame, on the reference's canvas.
    """
    if anchor not in ANCHORS:
        raise InputError(f"retarget: anchor must be one of {', '.join(ANCHORS)}, got {anchor!r}.")
    ref, width, height = reference_person(reference, reference_person_index)
    frames = load_pose_keypoint(driving)
    if not any(f["people"] for f in frames):
        return [{"people": [], "canvas_height": height, "canvas_width": width} for _ in frames]
    worker = Retargeter(ref, threshold)
    plan = worker.plan(frames, _primary(frames, worker.has_neck), anchor)
    return [{"people": [worker.person(p, i, plan, t) for i, p in enumerate(f["people"])],
             "canvas_height": height, "canvas_width": width} for t, f in enumerate(frames)]
