"""Face boxes and face crops from POSE_KEYPOINT: the face video Wan-Animate takes next to the pose video.

A frame's face box starts from the extent of the person's face landmarks (the 68 points of ``face_keypoints_2d``;
for body-only keypoints, the nose, eyes and ears) and is framed one of two ways (``FACE_FRAMINGS``):

* ``centered``: each side x ``scale`` (linear) about the centre, and the box stays centred on the face;
* ``wan_animate``: as Wan2.2 frames Wan-Animate's face video (``get_face_bboxes`` of its preprocessing): the box's
  area x ``scale`` (Wan2.2: 1.3) with its aspect kept, the added width split evenly, three quarters of the added
  height above the face and one quarter below (so the face centre sits at 0.53 of the crop height), clipped
  at the image edge; Wan2.2 resizes that box to 512x512 (``keep_aspect="stretch"``).

Then ``padding`` pixels are added on every side (clipped again for ``wan_animate``) and, with ``square``, the box is
made square on its longer side. Over a clip the boxes' corners are smoothed without lag (forward-backward One-Euro,
:mod:`sdpose_core.motion.zero_lag`) so the face video does not shake; a frame where the face is not visible takes
the box of the nearest frame where it is (the earlier one on a tie). Crops are cut with one affine warp per frame,
so a box reaching past the image is padded with black instead of shrunk, and resized to the crop size: stretched,
or with ``keep_aspect="pad"`` scaled to fit with black bars. :func:`all_face_boxes` gives every person's boxes
(one crop stream per person). Writing the face video of a video file (decode, crop, encode) is
:func:`sdpose_core.video.face_video.write_face_video`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from ..choices import FACE_FRAMINGS, KEEP_ASPECT
from ..errors import InputError
from ..formats.openpose import BODY_KEY, FACE_KEY, FACE_LANDMARKS, ID_KEY, load_pose_keypoint, triples
from ..keypoints import DWPOSE_THRESHOLD, visible
from ..motion.limits import finite_number
from ..motion.smooth import OneEuroSettings
from ..motion.zero_lag import smooth_series
from .render import HEAD_JOINTS

DEFAULT_SCALE = 1.5
WAN_ANIMATE_SCALE = 1.3  # Wan2.2's area factor (process_pipepline.py: get_face_bboxes(..., scale=1.3))
WAN_ABOVE = 0.75  # the share of the added height that Wan2.2 puts above the face
DEFAULT_CROP = (512, 512)
HEAD_POINTS = tuple(sorted(HEAD_JOINTS))  # OpenPose-18 nose, eyes, ears
FACE_LABEL = "face"


def face_points(person: dict, threshold: float = DWPOSE_THRESHOLD) -> np.ndarray:
    """The visible face landmarks [n, 2] of a canonical person (head points of the body without a face part)."""
    face = person.get(FACE_KEY)
    if face:
        pts = triples(face)[:FACE_LANDMARKS]
    else:
        body = person.get(BODY_KEY)
        pts = triples(body)[list(HEAD_POINTS)] if body else np.zeros((0, 3))
    return pts[visible(pts, threshold), :2]


def face_box(person: dict, scale: float = DEFAULT_SCALE, square: bool = True,
             threshold: float = DWPOSE_THRESHOLD, *, framing: str = FACE_FRAMINGS[0], padding: float = 0.0,
             canvas: tuple[int, int] | None = None) -> np.ndarray | None:
    """x, y, w, h of the face (see the module docstring), None with fewer than two visible points.

    ``canvas`` (width, height) is where ``wan_animate`` boxes are clipped (None: not clipped)."""
    pts = face_points(person, threshold)
    if len(pts) < 2:
        return None
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    extent = np.maximum(hi - lo, 1.0)
    if framing == "wan_animate":
        grow = extent * (np.sqrt(scale) - 1.0)  # the area x scale, the aspect kept
        lo = lo - grow * np.array([0.5, WAN_ABOVE])
        hi = hi + grow * np.array([0.5, 1.0 - WAN_ABOVE])
        lo, hi = _clipped(lo - padding, hi + padding, canvas)
        center, size = (lo + hi) / 2, hi - lo
    else:
        center, size = (lo + hi) / 2, extent * scale + 2 * padding
    if square:
        size = np.full(2, size.max())
    return np.concatenate([center - size / 2, size])


def _clipped(lo: np.ndarray, hi: np.ndarray, canvas: tuple[int, int] | None) -> tuple[np.ndarray, np.ndarray]:
    """Box corners clipped to a ``canvas`` (width, height); unchanged without one."""
    if canvas is None:
        return lo, hi
    limit = np.asarray(canvas, dtype=np.float64)
    return np.clip(lo, 0.0, limit), np.clip(hi, 0.0, limit)


def _check_framing(framing: str, scale: float, padding: float) -> None:
    if not isinstance(framing, str) or framing not in FACE_FRAMINGS:
        raise InputError(f"face framing must be one of {', '.join(FACE_FRAMINGS)}, got {framing!r}.")
    if not (finite_number(scale) and scale > 0):
        raise InputError(f"face box scale must be a positive number, got {scale!r}.")
    if not (finite_number(padding) and padding >= 0):
        raise InputError(f"face box padding must be 0 or more pixels, got {padding!r}.")


def _chosen(frame: dict, person: int, by_id: bool) -> dict | None:
    people = frame["people"]
    if by_id:
        return next((p for p in people if p.get(ID_KEY) and int(p[ID_KEY][0]) == person), None)
    return people[person] if 0 <= person < len(people) else None


def face_boxes(pose: Any, *, person: int = 0, by_track_id: bool = False, scale: float = DEFAULT_SCALE,
               square: bool = True, smooth: bool = True, fps: float = 30.0,
               threshold: float = DWPOSE_THRESHOLD, framing: str = FACE_FRAMINGS[0],
               padding: float = 0.0) -> np.ndarray:
    """[T, 4] x, y, w, h face boxes of one person (place ``person`` in each frame, or the track ``person``) over
    a clip, smoothed and with gaps taking the nearest visible box."""
    _check_framing(framing, scale, padding)
    frames = load_pose_keypoint(pose)
    boxes = _person_boxes(frames, person, by_track_id, scale, square, smooth, fps, threshold, framing, padding)
    if boxes is None:
        who = f"track {person}" if by_track_id else f"person {person}"
        raise InputError(f"No face of {who} is visible in any of the {len(frames)} frame(s); pose with a wholebody "
                         "model (or one that sees the head), or choose another person.")
    return boxes


def all_face_boxes(pose: Any, *, by_track_id: bool = False, scale: float = DEFAULT_SCALE, square: bool = True,
                   smooth: bool = True, fps: float = 30.0, threshold: float = DWPOSE_THRESHOLD,
                   framing: str = FACE_FRAMINGS[0], padding: float = 0.0) -> dict[int, np.ndarray]:
    """Every person's [T, 4] face boxes (as :func:`face_boxes`), keyed by place in the frame or by track id, in
    that order; people whose face is never visible are left out, and no face at all is an InputError."""
    _check_framing(framing, scale, padding)
    frames = load_pose_keypoint(pose)
    if by_track_id:
        people = sorted({int(p[ID_KEY][0]) for f in frames for p in f["people"] if p.get(ID_KEY)})
    else:
        people = list(range(max((len(f["people"]) for f in frames), default=0)))
    found = {}
    for person in people:
        boxes = _person_boxes(frames, person, by_track_id, scale, square, smooth, fps, threshold, framing, padding)
        if boxes is not None:
            found[person] = boxes
    if not found:
        raise InputError(f"No face is visible in any of the {len(frames)} frame(s); pose with a wholebody model "
                         "(or one that sees the head).")
    return found


def _person_boxes(frames: list[dict], person: int, by_id: bool, scale: float, square: bool, smooth: bool,
                  fps: float, threshold: float, framing: str, padding: float) -> np.ndarray | None:
    """One person's smoothed, gap-filled boxes over canonical ``frames``; None when the face is never seen."""
    raw = []
    for frame in frames:
        chosen = _chosen(frame, person, by_id)
        canvas = (frame["canvas_width"], frame["canvas_height"])
        raw.append(face_box(chosen, scale, square, threshold, framing=framing, padding=padding, canvas=canvas)
                   if chosen is not None else None)
    seen = np.array([b is not None for b in raw])
    if not seen.any():
        return None
    boxes = np.stack([b if b is not None else np.zeros(4) for b in raw])
    if smooth and seen.sum() > 1:
        corners = np.zeros((len(boxes), 2, 3))
        corners[:, 0, :2], corners[:, 1, :2] = boxes[:, :2], boxes[:, :2] + boxes[:, 2:]
        corners[:, :, 2] = seen[:, None]
        corners = smooth_series(corners, fps, OneEuroSettings(threshold=0.5))
        boxes[seen] = np.concatenate([corners[seen, 0, :2], corners[seen, 1, :2] - corners[seen, 0, :2]], axis=1)
        if square:
            side = boxes[seen, 2:].max(axis=1, keepdims=True)
            boxes[seen] = np.concatenate([boxes[seen, :2] + (boxes[seen, 2:] - side) / 2, side, side], axis=1)
    visible = np.flatnonzero(seen)
    for t in np.flatnonzero(~seen):
        boxes[t] = boxes[visible[np.argmin(np.abs(visible - t))]]
    return boxes


def bounding_boxes(boxes: np.ndarray | Sequence[np.ndarray]) -> list[list[dict]]:
    """ComfyUI BOUNDING_BOX: one list per frame holding the face box of each person ([T, 4] boxes, or one [T, 4]
    array per person) as {x, y, width, height, label}."""
    streams = [boxes] if isinstance(boxes, np.ndarray) and boxes.ndim == 2 else list(boxes)
    return [[{"x": float(x), "y": float(y), "width": float(w), "height": float(h), "label": FACE_LABEL}
             for x, y, w, h in (stream[t].tolist() for stream in streams)] for t in range(len(streams[0]))]


def crop(image: np.ndarray, box: np.ndarray, size: tuple[int, int] = DEFAULT_CROP,
         keep_aspect: str = KEEP_ASPECT[0]) -> np.ndarray:
    """The x, y, w, h ``box`` of an HxWxC image warped to ``size`` (width, height); outside the image is black.

    ``keep_aspect``: ``stretch`` fills ``size``; ``pad`` scales the box to fit inside it, centred, with black bars."""
    if keep_aspect not in KEEP_ASPECT:
        raise InputError(f"keep_aspect must be one of {', '.join(KEEP_ASPECT)}, got {keep_aspect!r}.")
    width, height = size
    if width < 1 or height < 1:
        raise InputError(f"crop size must be at least 1x1, got {width}x{height}.")
    x, y, w, h = (float(v) for v in box)
    w, h = max(w, 1e-6), max(h, 1e-6)
    sx, sy = width / w, height / h
    ox = oy = 0.0
    if keep_aspect == "pad":
        sx = sy = min(sx, sy)
        ox, oy = (width - w * sx) / 2, (height - h * sy) / 2
    matrix = np.array([[sx, 0.0, ox - x * sx], [0.0, sy, oy - y * sy]])
    out = cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                         borderValue=0)
    if keep_aspect == "pad":
        inside = np.zeros(out.shape[:2], dtype=bool)
        inside[int(round(oy)):int(round(oy + h * sy)), int(round(ox)):int(round(ox + w * sx))] = True
        out[~inside] = 0
    return out


def crop_faces(images: Any, boxes: np.ndarray, size: tuple[int, int] = DEFAULT_CROP,
               keep_aspect: str = KEEP_ASPECT[0]) -> list[np.ndarray]:
    """One face crop per frame; ``images`` is one image per box (or a single image for all of them)."""
    images = list(images)
    if len(images) not in (1, len(boxes)):
        raise InputError(f"{len(images)} images for {len(boxes)} face boxes; give one image per pose frame.")
    return [crop(np.asarray(images[i if len(images) > 1 else 0]), box, size, keep_aspect)
            for i, box in enumerate(boxes)]
