"""Offline (forward-backward One-Euro) smoothing: no lag on a constant-velocity walk, shake cut as much as the
causal filter's, through POSE_KEYPOINT clips."""

from __future__ import annotations

import numpy as np
import pytest

from sdpose_core.errors import InputError
from sdpose_core.formats.openpose import BODY_KEY, ID_KEY, to_pose_keypoint
from sdpose_core.motion.zero_lag import smooth_clip, smooth_series
from test_smooth import FPS, jitter, rms, smooth_sequence
from test_track import walk


def signed_lag_px(out: np.ndarray, truth: np.ndarray, skip: int = 20) -> float:
    """Mean error along the motion (x), away from the clip's ends: negative = trailing."""
    return float((out[skip:-skip, :, 0] - truth[skip:-skip, :, 0]).mean())


def test_zero_lag_on_a_constant_velocity_walk_where_the_causal_filter_trails():
    truth = walk((100, 300), (4, 0), 120, 200.0, stride_hz=0.0)
    rng = np.random.default_rng(1)
    raw = truth.copy()
    raw[..., :2] += rng.normal(0, 2.0, raw[..., :2].shape)
    offline, causal = smooth_series(raw, FPS), smooth_sequence(raw)
    assert abs(signed_lag_px(offline, truth)) < 0.25
    assert signed_lag_px(causal, truth) < -1.0  # what the offline filter removes
    s = slice(15, -15)
    assert jitter(raw[s]) / jitter(offline[s]) > max(1.5, jitter(raw[s]) / jitter(causal[s]))
    assert rms(offline[s], truth[s]) < rms(causal[s], truth[s])
    np.testing.assert_array_equal(offline[..., 2], raw[..., 2])


def test_shake_at_rest_is_cut_through_a_pose_keypoint_clip():
    truth = walk((300, 300), (0, 0), 90, 200.0, stride_hz=0.0)
    rng = np.random.default_rng(2)
    raw = truth.copy()
    raw[..., :2] += rng.normal(0, 2.0, raw[..., :2].shape)
    clip = [to_pose_keypoint(kp[None], 640, 480) for kp in raw]
    for f in clip:
        f["people"][0][ID_KEY] = [3]
    out = smooth_clip(clip, FPS)
    body = np.stack([np.asarray(f["people"][0][BODY_KEY]).reshape(-1, 3) for f in out])
    before = np.stack([np.asarray(f["people"][0][BODY_KEY]).reshape(-1, 3) for f in clip])
    assert jitter(before[10:-10]) / jitter(body[10:-10]) > 4.0
    assert out[0]["people"][0][ID_KEY] == [3]


@pytest.mark.parametrize("fps", [0.0, -24.0, float("nan"), float("inf"), 1e308, "30", None])
def test_a_frame_rate_the_filter_cannot_use_is_one_input_error(fps):
    """1e308 fps makes a frame interval that speeds overflow on (NaN positions): refused, like 0 and NaN."""
    points = np.zeros((4, 2, 3))
    points[..., 0] = np.arange(4)[:, None]
    points[..., 2] = 1.0
    with pytest.raises(InputError, match="frame rate"):
        smooth_series(points, fps)
