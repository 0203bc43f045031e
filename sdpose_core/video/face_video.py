"""The face video Wan-Animate takes next to the pose video: one face crop per frame of a video file, encoded.

The boxes and crops are :mod:`sdpose_core.pose.face`'s; this module adds the decoding and encoding around them.
"""

from __future__ import annotations

from typing import Any

from ..choices import KEEP_ASPECT
from ..pose.face import DEFAULT_CROP, crop, face_boxes
from .io import DEFAULT_CRF, VideoWriter, read_frames


def write_face_video(video: Any, pose: Any, out: Any, fps: Any, *, size: tuple[int, int] = DEFAULT_CROP,
                     person: int = 0, crf: int = DEFAULT_CRF, keep_aspect: str = KEEP_ASPECT[0],
                     **framing: Any) -> Any:
    """Write the face video of ``person`` (boxes from ``pose``, the POSE_KEYPOINT of ``video``) to ``out``: one crop
    per frame, decoded again from ``video``; the file appears only when complete. ``framing``: the box options of
    :func:`~sdpose_core.pose.face.face_boxes` (framing, scale, square, padding, smooth)."""
    boxes = face_boxes(pose, person=person, fps=float(fps), **framing)
    with VideoWriter(out, fps, crf=crf) as writer:
        for image, box in zip(read_frames(video), boxes):
            writer.write(crop(image, box, size, keep_aspect))
    return out


__all__ = ["write_face_video"]
