"""Drawing controls: stick width, point sizes, head, strokes scaled with the canvas; defaults are DWPose's pixels
(the golden images of test_render.py are drawn with the defaults)."""

from __future__ import annotations

import numpy as np
import pytest

from sdpose_core.errors import InputError
from sdpose_core.pose.render import BODY_COLORS, LIMB_COLORS, render_frame, strokes


def pose(width=400, height=300, scale=1.0) -> dict:
    """One figure: neck -> right shoulder (horizontal), a nose above the neck, a face dot, a hand."""
    body = np.zeros((18, 3))
    body[1] = (200 * scale, 150 * scale, 1)
    body[2] = (300 * scale, 150 * scale, 1)
    body[0] = (200 * scale, 60 * scale, 1)
    face = [100.0 * scale, 250.0 * scale, 1.0] + [0.0] * 207
    return {"canvas_width": width, "canvas_height": height,
            "people": [{"pose_keypoints_2d": body.reshape(-1).tolist(), "face_keypoints_2d": face}]}


def run_length(column: np.ndarray, color) -> int:
    return int((column == color).all(axis=1).sum())


def test_defaults_are_the_dwpose_sizes_and_explicit_defaults_change_nothing():
    p = pose()
    np.testing.assert_array_equal(render_frame(p), render_frame(p, stick_width=4, point_size=4, face_point_size=3,
                                                                head=True, scale_strokes=False))


def test_stick_width_point_sizes_and_head():
    p = pose()
    thin, thick = render_frame(p, stick_width=2), render_frame(p, stick_width=10)
    assert run_length(thick[:, 250], LIMB_COLORS[0]) > 2 * run_length(thin[:, 250], LIMB_COLORS[0])
    big = render_frame(p, point_size=9, face_point_size=7)
    assert run_length(big[:, 300], BODY_COLORS[2]) > run_length(render_frame(p)[:, 300], BODY_COLORS[2])
    assert run_length(big[:, 100], (255, 255, 255)) == 15  # face dot of radius 7
    headless = render_frame(p, head=False)
    assert not headless[40:80, 190:210].any()  # nose and the neck-nose limb gone
    assert tuple(headless[150, 250]) == LIMB_COLORS[0]  # the rest stays


def test_scale_strokes_keeps_proportions_across_resolutions():
    small = render_frame(pose(), scale_strokes=True)  # short side 300: sizes x 300/512
    large = render_frame(pose(1600, 1200, 4.0), scale_strokes=True)  # short side 1200: x 1200/512
    ratio = run_length(large[:, 1000], LIMB_COLORS[0]) / run_length(small[:, 250], LIMB_COLORS[0])
    assert 3.0 < ratio < 5.0
    assert strokes(1024, 2048, scale_strokes=True).stick_width == 8


def test_bad_sizes_are_refused():
    with pytest.raises(InputError, match="stick_width"):
        render_frame(pose(), stick_width=0)
    with pytest.raises(InputError, match="point_size"):
        render_frame(pose(), point_size=2.5)
