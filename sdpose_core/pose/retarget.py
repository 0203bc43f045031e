"""Retarget a driving pose clip to a reference body: the driving motion with the reference person's proportions.

What AnimateAnyone-style pipelines need: the pose video must show the *reference* character's body (limb lengths,
head and hand size) moving as the driving person does, or the generated character stretches to the driver's build.

Semantics (all in pixels of the reference canvas, which is the output canvas):

* Body: the OpenPose-18 limbs (``render.LIMBS``, each listed parent first, outward from the neck) are rebuilt in
  that order. Each bone keeps the driving frame's direction and takes the reference person's length; a bone the
  reference lacks takes the driving length times the body ratio. A joint missing in the driving frame stays
  missing. A joint whose parent is missing (the neck itself, or a joint under a missing one) is placed by the
  clip's root transform: ``anchor_out + ratio * (p - anchor_in)``.
* Root: the neck of the primary driving person (the first person with a neck, frame by frame; followed by its
  ``person_id`` when tracked, its place otherwise) on its first frame with a neck is the anchor; it lands on the
  reference neck (``anchor="neck"``). Every root then moves by the driving displacement times the body ratio.
  ``anchor="feet"`` instead shifts the clip vertically so that the anchor frame's lowest ankle or foot point lies on
  the reference's ground line (its lowest ankle or foot point); without feet on either side it falls back to the neck.
* Body ratio (one for the whole clip): reference size over driving size, where size is the summed length of the
  shoulder, torso and leg bones (``SIZE_LIMBS``) the reference has, measured on the first frame where the primary
  driving person has all of them (else the frame with the most of them, over those present in both).
* Hands and face keep the driving shape, scaled by reference size over driving size (RMS distance of the points
  present in both from their centroid, measured once per person and part on the first frame where both exist; the
  body ratio when the reference lacks the part), and move rigidly: each hand's wrist point onto the retargeted body
  wrist, the face's nose tip onto the retargeted nose; the face's two eye points are the retargeted body eyes.
  Feet (``foot_keypoints_2d``) move rigidly with their ankles, scaled by the body ratio.
* People, ``person_id`` and scores are the driving ones; each frame has the reference's canvas size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ..choices import RETARGET_ANCHORS
from ..errors import InputError
from ..formats.openpose import (BODY_KEY, FACE_KEY, FACE_LANDMARKS, FOOT_KEY, ID_KEY, LEFT_KEY, OPENPOSE_EYES,
                                RIGHT_KEY, load_pose_keypoint, triples)
from ..keypoints import DWPOSE_THRESHOLD, FOOT, OPENPOSE_NECK, visible
from .render import LIMBS

ANCHORS = RETARGET_ANCHORS
NECK = OPENPOSE_NECK
NOSE, R_WRIST, L_WRIST, R_ANKLE, L_ANKLE = 0, 4, 7, 10, 13
BODY_EYES = OPENPOSE_EYES  # OpenPose-18 eyes: the face part's points after its landmarks
FACE_NOSE_TIP = 30  # 68-point face landmarks: tip of the nose
SIZE_LIMBS = ((1, 2), (1, 5), (1, 8), (8, 9), (9, 10), (1, 11), (11, 12), (12, 13))
HAND_WRIST = {LEFT_KEY: L_WRIST, RIGHT_KEY: R_WRIST}
# The foot part's left foot (COCO-WholeBody 17-19) then right foot (20-22), with the ankle each hangs from.
FOOT_ANKLES = ((slice(0, FOOT.size // 2), L_ANKLE), (slice(FOOT.size // 2, FOOT.size), R_ANKLE))


def _array(flat: Sequence[float] | None) -> np.ndarray | None:
    return triples(flat)


def _seen(part: np.ndarray | None, threshold: float) -> np.ndarray:
    """Mask of the points drawn (score > 0 and >= threshold), as render draws them."""
    if part is None:
        return np.zeros(0, dtype=bool)
    return visible(part, threshold)


def _lengths(body: np.ndarray | None, threshold: float) -> dict[tuple[int, int], float]:
    """Length of every limb whose two joints are seen."""
    if body is None:
        return {}
    seen = _seen(body, threshold)
    return {(a, b): float(np.linalg.norm(body[b, :2] - body[a, :2])) for a, b in LIMBS if seen[a] and seen[b]}


def _spread(part: np.ndarray, mask: np.ndarray) -> float:
    """RMS distance of the masked points from their centroid: a size that does not depend on the position."""
    xy = part[mask, :2]
    return float(np.sqrt(((xy - xy.mean(axis=0)) ** 2).sum(axis=1).mean()))


def _key(person: dict, index: int) -> Any:
    """A person's identity across frames: their track id, else their place in the frame."""
    ids = person.get(ID_KEY)
    return ("id", int(ids[0])) if ids else ("index", index)


def _ground(person: dict, threshold: float) -> float | None:
    """Lowest (largest y) seen ankle or foot point, None when there is none."""
    ys = []
    body, feet = _array(person.get(BODY_KEY)), _array(person.get(FOOT_KEY))
    if body is not None:
        seen = _seen(body, threshold)
        ys += [body[j, 1] for j in (R_ANKLE, L_ANKLE) if seen[j]]
    if feet is not None:
        ys += feet[_seen(feet, threshold), 1].tolist()
    return max(ys) if ys else None


@dataclass
class RetargetPlan:
    """The clip-level quantities: body ratio and the root transform ``out = anchor_out + ratio * (p - anchor_in)``."""

    ratio: float
    anchor_in: np.ndarray
    anchor_out: np.ndarray


class Retargeter:
    """Retargets one clip; holds the reference person and the per-person hand and face scale measured so far."""

    def __init__(self, reference: dict, threshold: float = DWPOSE_THRESHOLD):
        self.reference = reference
        self.threshold = threshold
        self.ref_body = _array(reference.get(BODY_KEY))
        self.ref_lengths = _lengths(self.ref_body, threshold)
        self.part_scale: dict[tuple[Any, str], float] = {}

    # ------------------------------------------------------------------------------------------------ clip plan
    def has_neck(self, person: dict) -> bool:
        """The person's OpenPose neck is drawn (both shoulders were seen)."""
        body = _array(person.get(BODY_KEY))
        return body is not None and len(body) > NECK and bool(_seen(body, self.threshold)[NECK])

    def body_ratio(self, primary: list[dict | None]) -> float:
        """Reference size over the primary driving person's size (see the module docstring); 1.0 if unmeasurable."""
        wanted = [b for b in SIZE_LIMBS if b in self.ref_lengths] or list(self.ref_lengths)
        best: tuple[int, float] | None = None
        for person in primary:
            if person is None:
                continue
            drv = _lengths(_array(person.get(BODY_KEY)), self.threshold)
            shared = [b for b in wanted if b in drv]
            drv_size = sum(drv[b] for b in shared)
            if not shared or drv_size <= 0:
                continue
            ratio = sum(self.ref_lengths[b] for b in shared) / drv_size
            if len(shared) == len(wanted):
                return ratio
            if best is None or len(shared) > best[0]:
                best = (len(shared), ratio)
        return best[1] if best else 1.0

    def plan(self, primary: list[dict | None], anchor: str) -> RetargetPlan:
        """Body ratio and root transform from the primary driving person's frames (None where absent)."""
        ratio = self.body_ratio(primary)
        first = next((p for p in primary if p is not None and self.has_neck(p)), None)
        anchor_in = _array(first[BODY_KEY])[NECK, :2].copy() if first is not None else None
        if not self.has_neck(self.reference):
            raise InputError("retarget: the reference person has no neck (both shoulders must be visible); use a "
                             "reference image showing the upper body, or choose another reference person.")
        if anchor_in is None:
            raise InputError("retarget: no driving person has a neck (both shoulders visible) in any frame, so the "
                             "clip cannot be placed on the reference; use a driving clip showing the upper body.")
        plan = RetargetPlan(ratio, anchor_in, self.ref_body[NECK, :2].copy())
        if anchor == "feet":
            ground_out = _ground(self.person(first, 0, plan), self.threshold)
            ground_ref = _ground(self.reference, self.threshold)
            if ground_out is not None and ground_ref is not None:
                plan.anchor_out = plan.anchor_out + np.array([0.0, ground_ref - ground_out])
        return plan

    # ------------------------------------------------------------------------------------------------ one person
    def _root(self, xy: np.ndarray, plan: RetargetPlan) -> np.ndarray:
        return plan.anchor_out + plan.ratio * (xy - plan.anchor_in)

    def body(self, body: np.ndarray, plan: RetargetPlan) -> np.ndarray:
        """OpenPose-18 body rebuilt outward from the neck: reference lengths, driving directions."""
        out = body.copy()
        seen = _seen(body, self.threshold)
        placed = np.zeros(len(body), dtype=bool)
        if seen[NECK]:
            out[NECK, :2], placed[NECK] = self._root(body[NECK, :2], plan), True
        for a, b in LIMBS:
            if not seen[b]:
                continue
            if not placed[a]:
                out[b, :2], placed[b] = self._root(body[b, :2], plan), True
                continue
            vec = body[b, :2] - body[a, :2]
            norm = float(np.linalg.norm(vec))
            length = self.ref_lengths.get((a, b), norm * plan.ratio)
            direction = vec / norm if norm > 0 else np.zeros(2)
            out[b, :2], placed[b] = out[a, :2] + length * direction, True
        return out

    def _scale(self, key: Any, name: str, part: np.ndarray, plan: RetargetPlan) -> float:
        """Reference over driving size of a hand or face, fixed per person at its first measurable frame."""
        if (key, name) in self.part_scale:
            return self.part_scale[(key, name)]
        ref = _array(self.reference.get(name))
        if ref is None or len(ref) != len(part):
            return plan.ratio
        common = _seen(ref, self.threshold) & _seen(part, self.threshold)
        if name == FACE_KEY:
            common[FACE_LANDMARKS:] = False
        if common.sum() < 2 or _spread(part, common) <= 0:
            return plan.ratio
        scale = _spread(ref, common) / _spread(part, common)
        self.part_scale[(key, name)] = scale
        return scale

    def _rigid(self, part: np.ndarray, scale: float, pivot_in: np.ndarray, pivot_out: np.ndarray) -> np.ndarray:
        """Scale ``part`` about ``pivot_in`` and move that pivot to ``pivot_out``; missing points stay as they are."""
        out = part.copy()
        seen = _seen(part, self.threshold)
        out[seen, :2] = pivot_out + scale * (part[seen, :2] - pivot_in)
        return out

    def _attach(self, part: np.ndarray, own: int | None, body_in: np.ndarray | None, body_out: np.ndarray | None,
                joint: int, scale: float, plan: RetargetPlan) -> np.ndarray:
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
        pivot_out = body_out[joint, :2] if body_seen[joint] else self._root(pivot_in, plan)
        return self._rigid(part, scale, pivot_in, pivot_out)

    def person(self, person: dict, index: int, plan: RetargetPlan) -> dict:
        """One driving person retargeted (a new dict; the keys present in the driving person are kept)."""
        out = dict(person)
        key = _key(person, index)
        body_in = _array(person.get(BODY_KEY))
        body_out = self.body(body_in, plan) if body_in is not None else None
        if body_out is not None:
            out[BODY_KEY] = body_out.reshape(-1).tolist()
        for name, wrist in HAND_WRIST.items():
            hand = _array(person.get(name))
            if hand is not None:
                scale = self._scale(key, name, hand, plan)
                out[name] = self._attach(hand, 0, body_in, body_out, wrist, scale, plan).reshape(-1).tolist()
        face = _array(person.get(FACE_KEY))
        if face is not None:
            scale = self._scale(key, FACE_KEY, face, plan)
            moved = self._attach(face, FACE_NOSE_TIP, body_in, body_out, NOSE, scale, plan)
            if body_out is not None and len(moved) == FACE_LANDMARKS + len(BODY_EYES):
                for i, eye in enumerate(BODY_EYES):
                    if _seen(moved, self.threshold)[FACE_LANDMARKS + i] and _seen(body_in, self.threshold)[eye]:
                        moved[FACE_LANDMARKS + i, :2] = body_out[eye, :2]
            out[FACE_KEY] = moved.reshape(-1).tolist()
        feet = _array(person.get(FOOT_KEY))
        if feet is not None:
            moved = feet.copy()
            for points, ankle in FOOT_ANKLES:
                moved[points] = self._attach(feet[points], None, body_in, body_out, ankle, plan.ratio, plan)
            out[FOOT_KEY] = moved.reshape(-1).tolist()
        return out


def reference_person(reference: Any, person: int = 0) -> tuple[dict, int, int]:
    """The reference person (canonical dict) and canvas (width, height) from a POSE_KEYPOINT dict or list."""
    frames = load_pose_keypoint(reference)
    if not frames:
        raise InputError("retarget: the reference POSE_KEYPOINT is an empty list; give one frame with a person.")
    people = frames[0]["people"]
    if not 0 <= person < len(people):
        raise InputError(f"retarget: reference person {person} asked for, but the reference frame has "
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
    plan = worker.plan(_primary(frames, worker.has_neck), anchor)
    return [{"people": [worker.person(p, i, plan) for i, p in enumerate(f["people"])],
             "canvas_height": height, "canvas_width": width} for f in frames]
