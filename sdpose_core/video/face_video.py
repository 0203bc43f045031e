"""The face video Wan-Animate takes next to the pose video: one face crop per frame of a video file, encoded.

The boxes and crops are :mod:`sdpose_core.pose.face`'s; this module adds the decoding and encoding around them.
"""

from __future__ import annotations

from typing import Any

from ..pose.face import DEFAULT_CROP, crop, face_boxes
from .io import DEFAULT_CRF, VideoWriter, read_frames


def write_face_video(video: Any, pose: Any, out: Any, fps: Any, *, size: tuple[int, int] = DEFAULT_CROP,
                     person: int = 0, crf: int = DEFAULT_CRF) -> Any:
    """Write the face video of ``person`` (boxes from ``pose``, the POSE_KEYPOINT of ``video``) to ``out``: one crop
    per frame, decoded again from ``video``; the file appears only when complete."""
    boxes = face_boxes(pose, person=person, fps=float(fps))
    with VideoWriter(out, fps, crf=crf) as writer:
        for image, box in zip(read_frames(video), boxes):
            writer.write(crop(image, box, size))
    return out


__all__ = ["write_face_video"]
