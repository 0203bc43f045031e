"""The whole retarget pipeline, one function for the Retarget Pose node and the ``retarget`` command: fill short
dropouts (:mod:`~sdpose_core.motion.gaps`), optionally smooth without lag (:mod:`~sdpose_core.motion.zero_lag`),
retarget to the reference body (:mod:`retarget`), and draw each frame (:func:`render.render_frame`).

Gap filling runs before retargeting because a joint missing for one frame otherwise drops what hangs from it: a
hand whose body wrist is missing is placed by the clip's root transform instead of on the arm. The defaults here
are the node's and the command's (``choices.RETARGET_FILL_GAPS``, ``choices.RETARGET_SMOOTH``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..choices import RETARGET_ANCHORS, RETARGET_FILL_GAPS, RETARGET_MAX_FILL_GAPS, RETARGET_SMOOTH
from ..errors import InputError
from ..keypoints import DWPOSE_THRESHOLD
from ..motion.gaps import fill_gaps
from ..motion.limits import MAX_FRAME_RATE, finite_number
from ..motion.zero_lag import smooth_clip
from .render import render_frame
from .retarget import retarget


@dataclass(frozen=True)
class RetargetOptions:
    """How a clip is retargeted; ``frame_rate`` (frames per second) is needed only for smoothing."""

    anchor: str = RETARGET_ANCHORS[0]
    reference_person: int = 0
    fill_gaps: int = RETARGET_FILL_GAPS
    smooth: bool = RETARGET_SMOOTH
    frame_rate: float | None = None
    threshold: float = DWPOSE_THRESHOLD

    def check(self, names: Mapping[str, str] | None = None) -> None:
        """One InputError for a value out of range; ``names``: field -> how the user knows it (a flag, an input)."""
        name = (names or {}).get
        gaps, most = self.fill_gaps, RETARGET_MAX_FILL_GAPS
        if isinstance(gaps, bool) or not isinstance(gaps, (int, np.integer)) or not 0 <= gaps <= most:
            raise InputError(f"{name('fill_gaps', 'fill_gaps')} must be a whole number of frames from 0 (off) to "
                             f"{most}, got {gaps!r}.")
        rate = self.frame_rate
        if self.smooth and not (finite_number(rate) and 0 < rate <= MAX_FRAME_RATE):
            raise InputError(f"{name('smooth', 'smooth')} needs the clip's frame rate: give "
                             f"{name('frame_rate', 'frame_rate')} as a positive number of frames per second "
                             f"(at most {MAX_FRAME_RATE:g}), got {rate!r}.")
        score = self.threshold
        if not (finite_number(score) and 0 <= score <= 1):
            raise InputError(f"{name('threshold', 'threshold')} must be a keypoint score from 0 to 1, got {score!r}.")


def retarget_clip(driving: Any, reference: Any, options: RetargetOptions = RetargetOptions(),
                  draw: Mapping[str, Any] | None = None) -> tuple[list[dict], Iterator[np.ndarray] | None]:
    """The driving POSE_KEYPOINT gap-filled, smoothed and retargeted (one dict per frame), and with ``draw`` (the
    keywords of :func:`render.render_frame`, passed through) the drawn frames as a lazy iterator of HxWx3 uint8."""
    options.check()
    if options.fill_gaps:
        driving = fill_gaps(driving, options.fill_gaps, options.threshold)
    if options.smooth:
        driving = smooth_clip(driving, options.frame_rate, threshold=options.threshold)
    frames = retarget(driving, reference, anchor=options.anchor, reference_person_index=options.reference_person,
                      threshold=options.threshold)
    drawings = None if draw is None else (render_frame(frame, **draw) for frame in frames)
    return frames, drawings
