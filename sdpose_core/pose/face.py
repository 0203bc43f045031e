"""Face boxes and face crops from POSE_KEYPOINT: the face video Wan-Animate takes next to the pose video.

A frame's face box is the extent of the person's face landmarks (the 68 points of ``face_keypoints_2d``; for
body-only keypoints, the nose, eyes and ears), grown about its centre by ``scale`` and, with ``square``, made square
on its longer side. Over a clip the boxes' corners are smoothed without lag (forward-backward One-Euro,
:mod:`sdpose_core.motion.zero_lag`) so the face video does not shake; a frame where the face is not visible takes
the box of the nearest frame where it is (the earlier one on a tie). Crops are cut with one affine warp per frame,
so a box reaching past the image is padded with black instead of shrunk, and resized to the crop size. Writing the face
video of a video file (decode, crop, encode) is :func:`sdpose_core.video.face_video.write_face_video`.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from ..errors import InputError
from ..formats.openpose import BODY_KEY, FACE_KEY, FACE_LANDMARKS, ID_KEY, load_pose_keypoint, triples
from ..keypoints import DWPOSE_THRESHOLD, visible
from .render import HEAD_JOINTS
from ..motion.smooth import OneEuroSettings
from ..motion.zero_lag import smooth_series

DEFAULT_SCALE = 1.5
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
             threshold: float = DWPOSE_THRESHOLD) -> np.ndarray | None:
    """x, y, w, h of the face (see the module docstring), None with fewer than two visible points."""
    pts = face_points(person, threshold)
    if len(pts) < 2:
        return None
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    center, size = (lo + hi) / 2, np.maximum(hi - lo, 1.0) * scale
    if square:
        size = np.full(2, size.max())
    return np.concatenate([center - size / 2, size])


def _chosen(frame: dict, person: int, by_id: bool) -> dict | None:
    people = frame["people"]
    if by_id:
        return next((p for p in people if p.get(ID_KEY) and int(p[ID_KEY][0]) == person), None)
    return people[person] if 0 <= person < len(people) else None


def face_boxes(pose: Any, *, person: int = 0, by_track_id: bool = False, scale: float = DEFAULT_SCALE,
               square: bool = True, smooth: bool = True, fps: float = 30.0,
               threshold: float = DWPOSE_THRESHOLD) -> np.ndarray:
    """[T, 4] x, y, w, h face boxes of one person (place ``person`` in each frame, or the track ``person``) over
    a clip, smoothed and with gaps taking the nearest visible box."""
    if not scale > 0:
        raise InputError(f"face box scale must be positive, got {scale}.")
    frames = load_pose_keypoint(pose)
    raw = []
    for frame in frames:
        chosen = _chosen(frame, person, by_track_id)
        raw.append(face_box(chosen, scale, square, threshold) if chosen is not None else None)
    seen = np.array([b is not None for b in raw])
    if not seen.any():
        who = f"track {person}" if by_track_id else f"person {person}"
        raise InputError(f"No face of {who} is visible in any of the {len(frames)} frame(s); pose with a wholebody "
                         "model (or one that sees the head), or choose another person.")
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


def bounding_boxes(boxes: np.ndarray) -> list[list[dict]]:
    """ComfyUI BOUNDING_BOX: one list per frame holding the face box as {x, y, width, height, label}."""
    return [[{"x": float(x), "y": float(y), "width": float(w), "height": float(h), "label": FACE_LABEL}]
            for x, y, w, h in boxes.tolist()]


def crop(image: np.ndarray, box: np.ndarray, size: tuple[int, int] = DEFAULT_CROP) -> np.ndarray:
    """The x, y, w, h ``box`` of an HxWxC image warped to ``size`` (width, height); outside the image is black."""
    width, height = size
    if width < 1 or height < 1:
        raise InputError(f"crop size must be at least 1x1, got {width}x{height}.")
    x, y, w, h = (float(v) for v in box)
    sx, sy = width / w, height / h
    matrix = np.array([[sx, 0.0, -x * sx], [0.0, sy, -y * sy]])
    return cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=0)


def crop_faces(images: Any, boxes: np.ndarray, size: tuple[int, int] = DEFAULT_CROP) -> list[np.ndarray]:
    """One face crop per frame; ``images`` is one image per box (or a single image for all of them)."""
    images = list(images)
    if len(images) not in (1, len(boxes)):
        raise InputError(f"{len(images)} images for {len(boxes)} face boxes; give one image per pose frame.")
    return [crop(np.asarray(images[i if len(images) > 1 else 0]), box, size) for i, box in enumerate(boxes)]
