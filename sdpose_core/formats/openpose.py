"""POSE_KEYPOINT: the OpenPose-style JSON that comfyui_controlnet_aux's "DWPose Estimator" emits, made and read.

One frame is ``{"people": [person, ...], "canvas_height": H, "canvas_width": W}`` and a person is
``{"pose_keypoints_2d", "face_keypoints_2d", "hand_left_keypoints_2d", "hand_right_keypoints_2d"}``, each a flat
``[x, y, c, ...]`` list in pixels of the original image, or ``None``. What DWPose does, and so what we do by default:

* body: OpenPose-18 order (``OPENPOSE_FROM_COCO``) with a neck at the mean of the shoulders, shown only when both
  shoulders score strictly above the threshold; every other point is kept when its score is >= the threshold;
* kept points are ``[x, y, 1.0]``, dropped points ``[0.0, 0.0, 0.0]``; a disabled body is 18 dropped points;
* face: the 68 landmarks followed by the body's two eyes (OpenPose 14, 15) = 70 points;
* a face or hand with no kept point, or one that is disabled, is ``None``;
* COCO-WholeBody 91-111 (the person's left hand) goes to ``hand_left_keypoints_2d``.

Options beyond DWPose: ``raw_scores`` keeps the model's score as ``c`` for kept points (the neck gets the smaller
shoulder score, as ComfyUI-native SDPose writes); ``feet`` adds ``foot_keypoints_2d`` (COCO-WholeBody 17-22, six
points, as ComfyUI-native writes; the key is absent when off, exactly like DWPose); ``swap_hands`` follows
ComfyUI-native SDPose, which writes the left hand (91-111) to ``hand_right_keypoints_2d``; ``missing_parts="zeros"``
writes a missing face, hand or feet part as zero points instead of ``None``.

Which consumer needs which (``MISSING_PARTS``): ``null`` (default) is what DWPose writes and what ComfyUI-native's
``SDPoseFaceBBoxes`` needs (it skips a null face but frames a zeroed one at the image corner); ``zeros`` is what
ComfyUI-native's ``SDPoseDrawKeypoints`` needs (it fails on a null face or hand). Our own nodes read both.

Reading 25-point bodies (``BODY_LAYOUTS``): CMU OpenPose's BODY_25 (mid-hip at 8, feet at 19-24) and the
OpenPose-18 body followed by the left and right toe and five zero pads that ComfyUI-ProportionChanger writes (Wan-
Animate's 20-point body) have the same length. ``auto`` tells them apart from the points: non-zero points in the
last five, a mid-hip between the hips, or point 18 nearer the nose than the ankle say BODY_25; zero pads with point 18
at an ankle or point 8 away from the hips' middle say OpenPose-18 + toes; failing those (an upper-body shot), a
point 14 within a nose-to-neck length of the nose is an eye (OpenPose-18 + toes) and such a point 18 an ear
(BODY_25). A file whose 25-point bodies say nothing either way, or both, is refused with an error naming the
``body_layout`` choice. Toes become the big toes of ``foot_keypoints_2d`` (COCO-WholeBody order).
"""

from __future__ import annotations

import json
import math
import numbers
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .. import keypoints as layout
from ..atomic import write_text
from ..choices import BODY_LAYOUTS, MAX_RESOLUTION, MISSING_PARTS
from ..errors import InputError
from ..keypoints import DWPOSE_THRESHOLD, NECK_FROM_SHOULDERS, OPENPOSE_FROM_COCO
from ..sizes import MAX_IMAGE_PIXELS

BODY25_TO_OPENPOSE18 = (0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18)
BODY25_FEET = slice(19, 25)
TOES_PADS = slice(20, 25)  # OpenPose-18 + toes (ComfyUI-ProportionChanger): 18 left toe, 19 right toe, 20-24 zero
# Its toes as foot_keypoints_2d rows: the big toes (COCO-WholeBody order), the other foot points missing.
TOES_FEET = tuple({"left_big_toe": 18, "right_big_toe": 19}.get(name) for name in layout.FOOT_NAMES)
# Rows of a 133-point array (sdpose_core.keypoints' parts).
FEET, FACE, LEFT_HAND, RIGHT_HAND = (layout.FOOT.points, layout.FACE.points, layout.LEFT_HAND.points,
                                     layout.RIGHT_HAND.points)
OPENPOSE_EYES = (14, 15)
FACE_LANDMARKS = layout.FACE.size  # 68; DWPose's face part appends the body's two eyes (OPENPOSE_EYES)

BODY_KEY, FACE_KEY, FOOT_KEY = "pose_keypoints_2d", "face_keypoints_2d", "foot_keypoints_2d"
ID_KEY = "person_id"  # CMU OpenPose's track id, [id] ([-1]: untracked); set by tracked video annotation
LEFT_KEY, RIGHT_KEY = "hand_left_keypoints_2d", "hand_right_keypoints_2d"
PART_POINTS = {BODY_KEY: (18, 25), FACE_KEY: (FACE_LANDMARKS + len(OPENPOSE_EYES), FACE_LANDMARKS),
               LEFT_KEY: (layout.LEFT_HAND.size,), RIGHT_KEY: (layout.RIGHT_HAND.size,), FOOT_KEY: (layout.FOOT.size,)}
PERSON_KEYS = (BODY_KEY, FACE_KEY, LEFT_KEY, RIGHT_KEY)
ZERO_PARTS = {FACE_KEY: PART_POINTS[FACE_KEY][0], LEFT_KEY: layout.LEFT_HAND.size, RIGHT_KEY: layout.RIGHT_HAND.size,
              FOOT_KEY: layout.FOOT.size}  # the point counts of a part written as zeros
# One canvas bound for every reader, writer and drawer of POSE_KEYPOINT: the longest side DWPreprocessor's
# resolution allows, and a pixel budget that keeps one drawn frame (uint8 canvas, cubic resize) within a few GB.
MAX_CANVAS_SIDE = MAX_RESOLUTION
MAX_CANVAS_PIXELS = MAX_IMAGE_PIXELS
# Coordinates a pose can hold: lengths between points stay far from float overflow and underflow (retargeting and
# drawing compute them); a nonzero value below the minimum is no pixel position, one beyond the maximum no canvas.
MAX_POINT_COORD, MIN_POINT_COORD = float(1 << 24), 1e-100
MAX_JSON_NUMBER = int(np.finfo(np.float64).max)  # larger integers have no float value (OverflowError downstream)


def _points(xy: np.ndarray, scores: np.ndarray, keep: np.ndarray, raw_scores: bool) -> list[float]:
    """Flat [x, y, c] list: kept points carry 1.0 (or their score), dropped points are [0, 0, 0]."""
    out: list[float] = []
    for (x, y), s, k in zip(xy.tolist(), scores.tolist(), keep.tolist()):
        out += [x, y, s if raw_scores else 1.0] if k else [0.0, 0.0, 0.0]
    return out


def _part(kp: np.ndarray, threshold: float, raw_scores: bool) -> list[float] | None:
    """A face/hand/feet part; None when no point reaches the threshold (DWPose's rule)."""
    keep = _visible(kp, threshold)
    return _points(kp[:, :2], kp[:, 2], keep, raw_scores) if keep.any() else None


def _visible(kp: np.ndarray, threshold: float) -> np.ndarray:
    """The points kept (:func:`sdpose_core.keypoints.visible`; the dtype of ``kp`` decides, as in DWPose)."""
    return layout.visible(kp, threshold)


def openpose_body(kp: np.ndarray, threshold: float = DWPOSE_THRESHOLD) -> tuple[np.ndarray, np.ndarray]:
    """COCO-17 body (first 17 rows of ``kp``) -> OpenPose-18 rows [x, y, score] and their kept mask.

    The neck sits at the mean of the shoulders and is kept only when both shoulders score above the threshold;
    its score is the smaller shoulder score.
    """
    body = kp[layout.BODY.points]
    neck_xy = (body[5, :2] + body[6, :2]) / 2
    neck_ok = bool(body[5, 2] > threshold) and bool(body[6, 2] > threshold)
    neck_score = min(body[5, 2], body[6, 2]) if neck_ok else body.dtype.type(0)
    neck = np.array([neck_xy[0], neck_xy[1], neck_score], dtype=body.dtype)
    rows = np.stack([neck if i == NECK_FROM_SHOULDERS else body[i] for i in OPENPOSE_FROM_COCO])
    keep = _visible(rows, threshold)
    keep[1] = neck_ok and bool(np.isfinite(neck_xy).all())
    return rows, keep


def _person(kp: np.ndarray, threshold: float, body: bool, hands: bool, face: bool, feet: bool,
            raw_scores: bool, swap_hands: bool) -> dict[str, list[float] | None]:
    """One person's POSE_KEYPOINT dict from a (17 or 133, 3) array."""
    rows, keep = openpose_body(kp, threshold)
    wholebody = len(kp) == layout.NUM_WHOLEBODY
    person: dict[str, list[float] | None] = {
        BODY_KEY: _points(rows[:, :2], rows[:, 2], keep & body, raw_scores),
        FACE_KEY: None,
        LEFT_KEY: None,
        RIGHT_KEY: None,
    }
    if wholebody and face:
        landmarks = _part(kp[FACE], threshold, raw_scores)
        if landmarks is not None:
            eyes = list(OPENPOSE_EYES)
            person[FACE_KEY] = landmarks + _points(rows[eyes, :2], rows[eyes, 2], keep[eyes], raw_scores)
    if wholebody and hands:
        left, right = _part(kp[LEFT_HAND], threshold, raw_scores), _part(kp[RIGHT_HAND], threshold, raw_scores)
        person[LEFT_KEY], person[RIGHT_KEY] = (right, left) if swap_hands else (left, right)
    if feet:
        person[FOOT_KEY] = _part(kp[FEET], threshold, raw_scores) if wholebody else None
    return person


def _as_keypoints(keypoints: Any) -> np.ndarray:
    """Check an (N, K, 3) array, K in (17, 133); integers become float64, floats keep their dtype."""
    kp = np.asarray(keypoints)
    if kp.ndim == 2 and kp.shape[0] == 0:
        kp = kp.reshape(0, layout.NUM_BODY, 3)
    if kp.ndim != 3 or kp.shape[1] not in (layout.NUM_BODY, layout.NUM_WHOLEBODY) or kp.shape[2] != 3:
        raise InputError(f"keypoints: expected shape (people, {layout.NUM_BODY} or {layout.NUM_WHOLEBODY}, 3) of "
                         f"(x, y, score), got {kp.shape}.")
    if not np.issubdtype(kp.dtype, np.floating):
        if not np.issubdtype(kp.dtype, np.number) or np.issubdtype(kp.dtype, np.complexfloating):
            raise InputError(f"keypoints: expected numbers, got dtype {kp.dtype}.")
        kp = kp.astype(np.float64)
    return kp


def _canvas(width: Any, height: Any, where: str) -> tuple[int, int]:
    """Positive integer canvas size (integral floats are accepted) within the canvas bounds."""
    size = []
    for name, value in (("canvas_width", width), ("canvas_height", height)):
        ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
        finite = ok and (isinstance(value, (int, np.integer)) or math.isfinite(value))  # ints beyond floats too
        if not finite or value != int(value) or value < 1:
            raise InputError(f"{where}: {name} must be a positive whole number of pixels, got {value!r}.")
        if value > MAX_CANVAS_SIDE:
            raise InputError(f"{where}: {name} {value!r:.24} is larger than {MAX_CANVAS_SIDE} pixels.")
        size.append(int(value))
    check_pixels(size[0], size[1], f"{where}: the canvas")
    return size[0], size[1]


def check_pixels(width: int, height: int, what: str, limit: int = MAX_CANVAS_PIXELS) -> None:
    """Refuse an image of ``width`` x ``height`` above ``limit`` pixels before anything is allocated for it."""
    if width * height > limit:
        raise InputError(f"{what} would be {width}x{height} = {width * height / 1e6:.0f} megapixels; at most "
                         f"{limit / 1e6:.0f} megapixels (e.g. {math.isqrt(limit)}x{math.isqrt(limit)}) are drawn.")


def _json_int(text: str) -> int:
    """A JSON integer that a float can hold (every reader computes in floats); beyond that an InputError."""
    value = int(text)
    if abs(value) > MAX_JSON_NUMBER:
        raise InputError(f"the number {text[:12]}... ({len(text)} digits) is too large for a coordinate or size.")
    return value


def parse_json(text: str | bytes, what: str) -> Any:
    """JSON text -> data; malformed or absurdly nested JSON, or integers too large for a float, are an InputError
    naming ``what``, never a crash."""
    try:
        return json.loads(text, parse_int=_json_int)
    except InputError as exc:
        raise InputError(f"{what}: {exc}") from None
    except RecursionError:
        raise InputError(f"{what} is nested too deeply to be POSE_KEYPOINT JSON.") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{what} is not valid JSON ({exc}).") from None


def pose_keypoint_frames(data: Any) -> list[dict[str, Any]]:
    """Check that ``data`` (a frame or a list of frames, as a node receives it) is POSE_KEYPOINT that JSON can hold.

    Returns the frames as given (a single frame becomes a one-frame list) after :func:`load_pose_keypoint` accepted
    them and their JSON text was found finite; raises InputError otherwise. Writers call this before creating a file.
    """
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, (list, tuple)):
        raise InputError(f"POSE_KEYPOINT: expected a frame object or a list of them, got {type(data).__name__}; "
                         "connect a node that outputs POSE_KEYPOINT.")
    for i, frame in enumerate(data):
        if not isinstance(frame, dict):
            raise InputError(f"POSE_KEYPOINT frame {i}: expected an object {{'people': [...], 'canvas_width', "
                             f"'canvas_height'}}, got {type(frame).__name__} {frame!r:.40}; connect a node that "
                             "outputs POSE_KEYPOINT.")
    load_pose_keypoint(list(data))
    dumps_pose_keypoint(list(data))
    return list(data)


def dumps_pose_keypoint(data: Any, indent: int | None = None) -> str:
    """Strict JSON text of POSE_KEYPOINT: NaN, infinities and non-JSON values are an InputError, not invalid JSON."""
    try:
        return json.dumps(data, indent=indent, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise InputError(f"POSE_KEYPOINT cannot be written as JSON ({exc}).") from None


def to_pose_keypoint(keypoints: Any, width: int, height: int, *, threshold: float = DWPOSE_THRESHOLD,
                     body: bool = True, hands: bool = True, face: bool = True, feet: bool = False,
                     raw_scores: bool = False, swap_hands: bool = False, missing_parts: str = "null") -> dict[str, Any]:
    """One frame's POSE_KEYPOINT dict from (N, 17|133, 3) keypoints in pixels of a ``width`` x ``height`` image.

    Defaults reproduce DWPose's ``encode_poses_as_dict`` output; see the module docstring for the options.
    Body-17 keypoints fill the body only (face and hands None, feet None when asked for; zeros with
    ``missing_parts="zeros"``).
    """
    _check_missing(missing_parts)
    kp = _as_keypoints(keypoints)
    w, h = _canvas(width, height, "to_pose_keypoint")
    people = [_person(p, float(threshold), body, hands, face, feet, raw_scores, swap_hands) for p in kp]
    frame = {"people": people, "canvas_height": h, "canvas_width": w}
    return zero_missing_parts(frame) if missing_parts == "zeros" else frame


def _check_missing(missing_parts: str) -> None:
    if missing_parts not in MISSING_PARTS:
        raise InputError(f"missing_parts must be one of {', '.join(MISSING_PARTS)}, got {missing_parts!r}.")


def zero_missing_parts(pose: Any) -> Any:
    """POSE_KEYPOINT (a frame or a list, as given) with every null or empty face and hand, and feet where the key is
    present, written as zero points (ComfyUI-native ``SDPoseDrawKeypoints`` fails on null); a new object. Anything
    that is not POSE_KEYPOINT is an InputError (:func:`pose_keypoint_frames`)."""
    frames = [_zero_frame(frame) for frame in pose_keypoint_frames(pose)]
    return frames[0] if isinstance(pose, dict) else frames


def _zero_frame(frame: dict) -> dict:
    people = []
    for person in frame.get("people") or []:
        person = dict(person)
        for key, points in ZERO_PARTS.items():
            if (key in person or key != FOOT_KEY) and not person.get(key):
                person[key] = [0.0] * (3 * points)
        people.append(person)
    return {**frame, "people": people}


def to_pose_keypoints(frames: Iterable[tuple[Any, int, int]], **options: Any) -> list[dict[str, Any]]:
    """POSE_KEYPOINT (a list with one dict per frame) from ``(keypoints, width, height)`` per frame."""
    return [to_pose_keypoint(kp, w, h, **options) for kp, w, h in frames]



def triples(flat: Sequence[float] | None) -> np.ndarray | None:
    """A flat [x, y, c, ...] list of a canonical frame -> an (n, 3) float64 array; None when the part is absent."""
    return np.asarray(flat, dtype=np.float64).reshape(-1, 3) if flat else None


def _numbers(values: Any, where: str) -> np.ndarray:
    """A flat list of finite numbers -> (n, 3) float64 array."""
    if not isinstance(values, (list, tuple)):
        raise InputError(f"{where}: expected a flat list [x, y, c, ...], got {type(values).__name__}.")
    if not set(map(type, values)) <= {float, int}:
        for v in values:
            if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
                raise InputError(f"{where}: every value must be a number, found {v!r}.")
    if len(values) % 3:
        raise InputError(f"{where}: has {len(values)} numbers, not a multiple of 3 (x, y, c per point).")
    try:
        arr = np.asarray(values, dtype=np.float64).reshape(-1, 3)
    except OverflowError:
        raise InputError(f"{where}: holds a number too large for a coordinate.") from None
    if not np.isfinite(arr).all():
        raise InputError(f"{where}: contains NaN or infinite values.")
    xy = np.abs(arr[:, :2])
    odd = (xy > MAX_POINT_COORD) | ((xy > 0) & (xy < MIN_POINT_COORD))
    if odd.any():
        raise InputError(f"{where}: the coordinate {float(arr[:, :2][odd][0]):g} is not a pixel position (nonzero "
                         f"coordinates lie between {MIN_POINT_COORD:g} and {MAX_POINT_COORD:g} in size); write pixel "
                         "coordinates, 0 for a missing point.")
    return arr


def _to_pixels(arr: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale a part given in 0-1 coordinates to pixels (DWPose's per-part test: every present point within 1)."""
    present = arr[:, 2] > 0
    if not present.any() or np.abs(arr[present, :2]).max() > 1:
        return arr
    out = arr.copy()
    out[present, 0] *= width
    out[present, 1] *= height
    return out


def _load_part(person: dict, key: str, width: int, height: int, where: str) -> np.ndarray | None:
    """One part as an (n, 3) pixel array, None when absent or empty; the point count is checked."""
    values = person.get(key)
    if values is None or (isinstance(values, (list, tuple)) and len(values) == 0):
        return None
    arr = _numbers(values, f"{where}: '{key}'")
    if len(arr) not in PART_POINTS[key]:
        counts = " or ".join(str(n) for n in PART_POINTS[key])
        raise InputError(f"{where}: '{key}' has {len(arr)} points; expected {counts} ({counts} x 3 numbers).")
    return _to_pixels(arr, width, height)


def _flat(arr: np.ndarray | None) -> list[float] | None:
    return None if arr is None else arr.reshape(-1).tolist()


def _body25_layout(raw: np.ndarray) -> str | None:
    """What one 25-point body (pixels or 0-1) says about its layout: ``body_25``, ``openpose_18_toes`` or None."""
    shown = raw[:, 2] > 0
    if np.any(raw[TOES_PADS] != 0):
        return "body_25"  # ProportionChanger's pads are exact zeros
    if shown[[8, 9, 12]].all():  # BODY_25: 8 mid-hip between the hips 9, 12; else right hip and the two knees
        span = np.linalg.norm(raw[9, :2] - raw[12, :2])
        off = np.linalg.norm(raw[8, :2] - (raw[9, :2] + raw[12, :2]) / 2)
        if span > 0:
            return "body_25" if off <= 0.25 * span else "openpose_18_toes"
    if shown[[0, 13, 18]].all():  # BODY_25: 18 left ear, 13 left knee; else left toe, 13 left ankle
        near_nose = np.linalg.norm(raw[18, :2] - raw[0, :2]) < np.linalg.norm(raw[18, :2] - raw[13, :2])
        return "body_25" if near_nose else "openpose_18_toes"
    if shown[[0, 1]].all():  # the head alone (an upper-body shot): 14 is an eye or a left ankle, 18 an ear or a toe
        head = np.linalg.norm(raw[1, :2] - raw[0, :2])  # nose to neck, the same points in both layouts
        at_head = [bool(shown[i]) and np.linalg.norm(raw[i, :2] - raw[0, :2]) < head for i in (14, 18)]
        if at_head == [True, False]:
            return "openpose_18_toes"
        if at_head == [False, True]:
            return "body_25"
    return None


def body25_layout(frames: Sequence[Any], body_layout: str = "auto") -> str | None:
    """The layout of the 25-point bodies in raw POSE_KEYPOINT ``frames`` (None when there are none); with ``auto``
    told from their points, and an InputError naming the ``body_layout`` choice when they are ambiguous."""
    if body_layout not in BODY_LAYOUTS:
        raise InputError(f"body_layout must be one of {', '.join(BODY_LAYOUTS)}, got {body_layout!r}.")
    bodies = {f"POSE_KEYPOINT frame {i}, person {j}: '{BODY_KEY}'": p.get(BODY_KEY)
              for i, f in enumerate(frames) if isinstance(f, dict) and isinstance(f.get("people"), (list, tuple))
              for j, p in enumerate(f["people"]) if isinstance(p, dict)}
    bodies = {where: b for where, b in bodies.items() if isinstance(b, (list, tuple)) and len(b) == 75}
    if not bodies or body_layout != "auto":
        return body_layout if bodies else None
    votes = {_body25_layout(_numbers(b, where)) for where, b in bodies.items()} - {None}
    if len(votes) == 1:
        return votes.pop()
    why = "some look like one and some like the other" if votes else "their points do not tell which"
    raise InputError(f"POSE_KEYPOINT has 25-point bodies that could be CMU OpenPose BODY_25 or OpenPose-18 + two toes "
                     f"+ five zero pads (ComfyUI-ProportionChanger); {why}. Choose body_layout 'body_25' or "
                     "'openpose_18_toes' where the file is read (SDPose Load Pose Keypoints or Draw Pose: input "
                     "body_layout; the draw command: --body-layout).")


def _load_person(person: Any, width: int, height: int, where: str,
                 layout25: str | None = None) -> dict[str, list[float] | None]:
    """A person in canonical form: OpenPose-18 body, pixel coordinates, the four DWPose keys (+ feet if given)."""
    if not isinstance(person, dict):
        raise InputError(f"{where}: expected an object with 'pose_keypoints_2d' etc., got {type(person).__name__}.")
    parts = {key: _load_part(person, key, width, height, where) for key in PART_POINTS}
    body, has_feet = parts[BODY_KEY], FOOT_KEY in person
    if body is not None and len(body) == 25:
        toes = layout25 == "openpose_18_toes"
        parts[BODY_KEY] = body[:18] if toes else body[list(BODY25_TO_OPENPOSE18)]
        if parts[FOOT_KEY] is None:
            feet = (np.stack([body[i] if i is not None else np.zeros(3) for i in TOES_FEET]) if toes
                    else body[BODY25_FEET])
            parts[FOOT_KEY], has_feet = feet, True
    out = {key: _flat(parts[key]) for key in PERSON_KEYS}
    if has_feet:
        out[FOOT_KEY] = _flat(parts[FOOT_KEY])
    if person.get(ID_KEY) is not None:
        out[ID_KEY] = _person_id(person[ID_KEY], where)
    return out


def _person_id(value: Any, where: str) -> list[int]:
    """OpenPose's ``person_id``: ``[id]`` (a bare whole number is accepted too)."""
    ids = value if isinstance(value, (list, tuple)) else [value]
    if not ids or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) or
                          isinstance(v, float) and v.is_integer() for v in ids):
        raise InputError(f"{where}: '{ID_KEY}' must be a whole number or a list of them, got {value!r}.")
    return [int(v) for v in ids]


def _frame_canvas(frame: dict, canvas_size: tuple[int, int] | None, where: str) -> tuple[int, int]:
    if "canvas_width" in frame or "canvas_height" in frame:
        if "canvas_width" not in frame or "canvas_height" not in frame:
            raise InputError(f"{where}: has only one of 'canvas_width' / 'canvas_height'; both are needed.")
        return _canvas(frame["canvas_width"], frame["canvas_height"], where)
    if canvas_size is None:
        raise InputError(f"{where}: has no 'canvas_width'/'canvas_height' (plain OpenPose JSON); "
                         "pass canvas_size=(width, height) of the image the keypoints belong to.")
    return _canvas(canvas_size[0], canvas_size[1], where)


def _load_frame(frame: Any, canvas_size: tuple[int, int] | None, where: str,
                layout25: str | None = None) -> dict[str, Any]:
    if not isinstance(frame, dict):
        raise InputError(f"{where}: expected an object with 'people', got {type(frame).__name__}.")
    if "people" not in frame:
        raise InputError(f"{where}: has no 'people' list (keys found: {', '.join(map(repr, frame)) or 'none'}).")
    people = frame["people"]
    if people is None:
        people = []
    if not isinstance(people, (list, tuple)):
        raise InputError(f"{where}: 'people' must be a list, got {type(people).__name__}.")
    width, height = _frame_canvas(frame, canvas_size, where)
    loaded = [_load_person(p, width, height, f"{where}, person {i}", layout25) for i, p in enumerate(people)]
    return {"people": loaded, "canvas_height": height, "canvas_width": width}


def read_pose_json(source: Any) -> Any:
    """Parsed JSON from a path, a JSON string, or an already parsed object (returned as is)."""
    if isinstance(source, (dict, list, tuple)):
        return source
    if isinstance(source, str) and source.lstrip()[:1] in ("{", "["):
        return parse_json(source, "POSE_KEYPOINT text")
    if not isinstance(source, (str, os.PathLike)):
        raise InputError(f"POSE_KEYPOINT: expected a dict, a list of dicts, JSON text or a file path, "
                         f"got {type(source).__name__}.")
    path = Path(source)
    if not path.is_file():
        raise InputError(f"POSE_KEYPOINT file not found: '{path}'.")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"Cannot read '{path}' as POSE_KEYPOINT JSON ({exc}).") from exc
    return parse_json(text, f"'{path.name}'")


def load_pose_keypoint(source: Any, canvas_size: tuple[int, int] | None = None,
                       body_layout: str = "auto") -> list[dict[str, Any]]:
    """Any accepted POSE_KEYPOINT -> a checked list of frames in canonical DWPose form (pixels, OpenPose-18).

    ``source``: a frame dict, a list of frames, JSON text or a file path. Accepted: DWPose (comfyui_controlnet_aux),
    ComfyUI-native SDPose (``foot_keypoints_2d``, raw scores), OpenPose editor files and CMU OpenPose JSON
    (BODY_25 bodies become OpenPose-18 plus feet; no canvas in the file -> ``canvas_size`` is required) and
    ComfyUI-ProportionChanger's 25-point bodies (``body_layout``: see the module docstring).
    Parts whose present points all lie within 0..1 are taken as normalized and scaled by the canvas.
    Malformed input raises :class:`InputError` naming the frame, person and key at fault.
    """
    data = read_pose_json(source)
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, (list, tuple)):
        raise InputError(f"POSE_KEYPOINT: expected a frame object or a list of them, got {type(data).__name__}.")
    layout25 = body25_layout(data, body_layout)
    return [_load_frame(frame, canvas_size, f"POSE_KEYPOINT frame {i}", layout25) for i, frame in enumerate(data)]


def save_pose_keypoint(pose: dict | Sequence[dict], path: str | Path, *, indent: int | None = None,
                       replace: bool = True) -> Path:
    """Write POSE_KEYPOINT (one frame dict or a list) as JSON, atomically; returns the path written. Without
    ``replace`` an existing file is kept (:class:`~sdpose_core.atomic.AlreadyExists`)."""
    path = Path(path)
    text = dumps_pose_keypoint(pose if isinstance(pose, dict) else list(pose), indent=indent)  # before any write
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_text(path, text, replace=replace)
