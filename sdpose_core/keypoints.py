"""The COCO / COCO-WholeBody keypoint layout and the thresholds that go with it: one definition for the library,
the nodes, training and evaluation.

COCO-WholeBody's 133 points are body 0-16 (COCO-17 order), feet 17-22, face 23-90 (the 68 300-W landmarks), left
hand 91-111 and right hand 112-132 (21 points each). Its annotation and result files split them into five fields.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

BODY_NAMES: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)
FOOT_NAMES: tuple[str, ...] = (
    "left_big_toe", "left_small_toe", "left_heel", "right_big_toe", "right_small_toe", "right_heel",
)

# Per-keypoint OKS sigmas: COCO's 17 and COCO-WholeBody's (feet, face, hands).
BODY_SIGMAS = (0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062, 0.062, 0.107, 0.107,
               0.087, 0.087, 0.089, 0.089)
FOOT_SIGMAS = (0.068, 0.066, 0.066, 0.092, 0.094, 0.094)
FACE_SIGMAS = (0.042, 0.043, 0.044, 0.043, 0.040, 0.035, 0.031, 0.025, 0.020, 0.023, 0.029, 0.032, 0.037, 0.038,
               0.043, 0.041, 0.045, 0.013, 0.012, 0.011, 0.011, 0.012, 0.012, 0.011, 0.011, 0.013, 0.015, 0.009,
               0.007, 0.007, 0.007, 0.012, 0.009, 0.008, 0.016, 0.010, 0.017, 0.011, 0.009, 0.011, 0.009, 0.007,
               0.013, 0.008, 0.011, 0.012, 0.010, 0.034, 0.008, 0.008, 0.009, 0.008, 0.008, 0.007, 0.010, 0.008,
               0.009, 0.009, 0.009, 0.007, 0.007, 0.008, 0.011, 0.008, 0.008, 0.008, 0.010, 0.008)
HAND_SIGMAS = (0.029, 0.022, 0.035, 0.037, 0.047, 0.026, 0.025, 0.024, 0.035, 0.018, 0.024, 0.022, 0.026, 0.017,
               0.021, 0.021, 0.032, 0.020, 0.019, 0.022, 0.031)


@dataclass(frozen=True)
class Part:
    """One COCO-WholeBody part: its name, its field in annotation and result files, its points and sigmas."""

    name: str
    field: str
    start: int
    stop: int
    sigmas: tuple[float, ...]

    @property
    def points(self) -> slice:
        """The part's rows in a 133-point array."""
        return slice(self.start, self.stop)

    @property
    def size(self) -> int:
        """How many points the part has."""
        return self.stop - self.start


BODY = Part("body", "keypoints", 0, 17, BODY_SIGMAS)
FOOT = Part("foot", "foot_kpts", 17, 23, FOOT_SIGMAS)
FACE = Part("face", "face_kpts", 23, 91, FACE_SIGMAS)
LEFT_HAND = Part("lefthand", "lefthand_kpts", 91, 112, HAND_SIGMAS)
RIGHT_HAND = Part("righthand", "righthand_kpts", 112, 133, HAND_SIGMAS)
WHOLEBODY_PARTS: tuple[Part, ...] = (BODY, FOOT, FACE, LEFT_HAND, RIGHT_HAND)  # in the 133-point order

NUM_BODY = BODY.stop
NUM_WHOLEBODY = RIGHT_HAND.stop
WHOLEBODY_SIGMAS: tuple[float, ...] = tuple(s for part in WHOLEBODY_PARTS for s in part.sigmas)

# The OpenPose-18 body of POSE_KEYPOINT (``pose_keypoints_2d``) and DWPose's drawing of it: one definition for the
# writer (formats.openpose), the drawing (pose.render), retargeting and, through /sdpose/constants, the browser.
OPENPOSE_NECK = 1  # the neck's row in OpenPose-18
NECK_FROM_SHOULDERS = -1  # in OPENPOSE_FROM_COCO: the neck has no COCO point; it is the mean of the shoulders
OPENPOSE_FROM_COCO = (0, NECK_FROM_SHOULDERS, 6, 8, 10, 5, 7, 9, 12, 14, 16, 11, 13, 15, 2, 1, 4, 3)
LIMBS = ((1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10), (1, 11), (11, 12), (12, 13),
         (1, 0), (0, 14), (14, 16), (0, 15), (15, 17))
BODY_COLORS = ((255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0), (85, 255, 0), (0, 255, 0),
               (0, 255, 85), (0, 255, 170), (0, 255, 255), (0, 170, 255), (0, 85, 255), (0, 0, 255), (85, 0, 255),
               (170, 0, 255), (255, 0, 255), (255, 0, 170), (255, 0, 85))
HAND_EDGES = ((0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 8), (0, 9), (9, 10), (10, 11), (11, 12),
              (0, 13), (13, 14), (14, 15), (15, 16), (0, 17), (17, 18), (18, 19), (19, 20))
HAND_COLORS = ((255, 0, 0), (255, 77, 0), (255, 153, 0), (255, 229, 0), (204, 255, 0), (128, 255, 0), (51, 255, 0),
               (0, 255, 25), (0, 255, 102), (0, 255, 179), (0, 255, 255), (0, 178, 255), (0, 102, 255), (0, 25, 255),
               (51, 0, 255), (128, 0, 255), (204, 0, 255), (255, 0, 230), (255, 0, 153), (255, 0, 77))

# DWPose's keypoint threshold: a point scoring below it is not written (OpenPose files) and not drawn. The tracker,
# the smoother, gap filling and people ranking count a point as seen by the same rule.
DWPOSE_THRESHOLD = 0.3
# mmpose's CocoMetric instance rescoring: box score x mean of the keypoint scores above this.
RESCORE_THRESHOLD = 0.2


def visible(points: Any, threshold: float = DWPOSE_THRESHOLD) -> Any:
    """Which keypoints are there: rows ``[..., 3]`` of (x, y, score) -> a boolean mask ``[...]``.

    The one rule of the library, the nodes and (through ``/sdpose/constants``) the browser: the score is at least
    ``threshold`` and above 0 (an OpenPose file writes a missing point as [0, 0, 0], so a threshold of 0 keeps
    every point the model scored, never the missing ones), and x, y and the score are finite. Works on numpy
    arrays and torch tensors alike (compared in their own dtype, as DWPose does); this module imports neither.
    """
    x, y, score = points[..., 0], points[..., 1], points[..., 2]
    return (score >= threshold) & (score > 0) & (abs(score) < math.inf) & (abs(x) < math.inf) & (abs(y) < math.inf)
