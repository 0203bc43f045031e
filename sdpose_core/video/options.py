"""What a user chooses for a clip (tracking, smoothing, detection interval) with its defaults and its one check.

Light to import (no torch, no video libraries): the command line and the ComfyUI nodes build their flags and
widgets from these defaults at start-up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..keypoints import DWPOSE_THRESHOLD
from ..motion.limits import check_detect_every, check_max_age
from ..motion.smooth import OneEuroSettings

DEFAULT_CRF = 18  # H.264 quality of written videos (x264's scale: 0 lossless .. 51; lower = better)
MAX_CRF = 51


@dataclass
class ClipOptions:
    """How a clip is annotated beyond single images (defaults: tracked, unsmoothed, detection on every frame).

    ``track``: stable person order and ids across frames. ``smooth``: One-Euro smoothing of keypoint positions
    (implies tracking; off by default so that every frame's keypoints are exactly the model's; ``min_cutoff`` and
    ``beta`` default to :class:`~sdpose_core.motion.smooth.OneEuroSettings`'). ``detect_every``: run the person
    detector on every Nth frame only, carrying each person's box between detections. ``max_age``: frames a lost
    person's id is kept for re-identification (default: one second).
    """

    track: bool = True
    smooth: bool = False
    min_cutoff: float = OneEuroSettings.min_cutoff
    beta: float = OneEuroSettings.beta
    detect_every: int = 1
    max_age: int | None = None
    threshold: float = DWPOSE_THRESHOLD

    def check(self, names: Mapping[str, str] | None = None) -> None:
        """Refuse out-of-range values with one InputError; ``names``: field -> how the user knows it (a CLI flag, a
        node input), for the message. The smoothing numbers are checked even with smoothing off."""
        name = (names or {}).get
        check_detect_every(self.detect_every, name("detect_every", "detect_every"))
        if self.max_age is not None:
            check_max_age(self.max_age, name("max_age", "max_age"))
        OneEuroSettings(self.min_cutoff, self.beta, threshold=self.threshold).check(names)
