"""One rule for "is this keypoint there" (``keypoints.visible``), the same in every caller, including threshold 0,
NaN and infinite values; no module decides it on its own."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from sdpose_core.formats import openpose
from sdpose_core.keypoints import NECK_FROM_SHOULDERS, visible
from sdpose_core.motion.track import keypoint_extent, mean_shift
from sdpose_core.pose import face, render, retarget

NAN, INF = math.nan, math.inf
# 17 points: fine, missing ([0, 0, 0]), negative score, NaN / inf coordinates, NaN / inf score, low score.
POINTS = [[10, 20, 0.5], [0, 0, 0], [11, 21, -0.1], [NAN, 5, 0.9], [6, INF, 0.9], [12, 22, 0.9], [13, 23, 0.9],
          [7, 8, NAN], [9, 9, INF], [14, 24, 0.2], [15, 25, 0.9], [16, 26, 0.9], [17, 27, 0.9], [-INF, 2, 0.9],
          [18, 28, 0.31], [19, 29, 0.3], [20, 30, 1.0]]


def reference(points: list[list[float]], threshold: float) -> list[bool]:
    """The rule written out: finite x, y and score, score above 0 and at least the threshold."""
    return [all(map(math.isfinite, p)) and p[2] > 0 and p[2] >= threshold for p in points]


@pytest.fixture(params=[0.0, 0.3, 0.95])
def threshold(request) -> float:
    return request.param


def test_the_rule_on_arrays_and_tensors(threshold):
    want = reference(POINTS, threshold)
    assert visible(np.array(POINTS), threshold).tolist() == want
    assert visible(torch.tensor(POINTS, dtype=torch.float64), threshold).tolist() == want


def test_every_caller_applies_the_rule(threshold):
    want = reference(POINTS, threshold)
    kp = np.array(POINTS, dtype=np.float64)
    flat = [v for p in POINTS for v in p]
    assert openpose._visible(kp, threshold).tolist() == want                       # POSE_KEYPOINT writer
    assert render._points(flat, threshold)[1] == want                              # drawing
    assert retarget._seen(kp, threshold).tolist() == want                          # retargeting
    faces = face.face_points({"face_keypoints_2d": flat}, threshold)              # face boxes
    assert faces.tolist() == [p[:2] for p, ok in zip(POINTS, want) if ok]
    seen = np.array([p[:2] for p, ok in zip(POINTS, want) if ok])                   # tracking, people ranking
    box = keypoint_extent(kp, threshold, min_points=1)
    assert box is None if not len(seen) else box.tolist() == [*seen.min(0), *seen.max(0)]
    shift = mean_shift(kp, kp + [3.0, -2.0, 0.0], threshold)
    assert shift is None if not len(seen) else shift.tolist() == [3.0, -2.0]


def test_the_writer_keeps_exactly_the_visible_points_at_threshold_0():
    kp = np.array(POINTS, dtype=np.float32)[None]
    body = np.array(openpose.to_pose_keypoint(kp, 64, 64, threshold=0.0)["people"][0]["pose_keypoints_2d"])
    rows = body.reshape(18, 3)
    kept = [i for i, coco in enumerate(openpose.OPENPOSE_FROM_COCO) if coco != NECK_FROM_SHOULDERS and rows[i, 2] > 0]
    want = [i for i, coco in enumerate(openpose.OPENPOSE_FROM_COCO)
            if coco != NECK_FROM_SHOULDERS and reference([POINTS[coco]], 0.0)[0]]
    assert kept == want and np.isfinite(rows).all()


def test_no_module_decides_visibility_on_its_own():
    """A score compared with a threshold appears only in ``keypoints.visible`` (and the neck's DWPose rule)."""
    root = Path(__file__).resolve().parents[1]
    pattern = re.compile(r"\[[^\]]*\b2\]\s*(>=|>)\s*(self\.)?(settings\.)?threshold")
    offenders = [f"{p.relative_to(root)}:{n}" for folder in ("sdpose_core", "nodes")
                 for p in (root / folder).rglob("*.py")
                 for n, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)
                 and "neck" not in line]
    assert offenders == []
