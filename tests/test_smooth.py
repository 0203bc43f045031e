"""One-Euro keypoint smoothing on synthetic sequences: jitter cut (measured), lag bounded, gaps and ids handled."""

from __future__ import annotations

import numpy as np
import pytest

from sdpose_core.errors import InputError
from sdpose_core.motion.limits import check_detect_every, check_max_age
from sdpose_core.motion.smooth import KeypointSmoother, OneEuroFilter, OneEuroSettings
from sdpose_core.video.options import ClipOptions
from test_track import figure, walk

FPS = 30.0


def smooth_sequence(frames: np.ndarray, smoother: KeypointSmoother | None = None, track_id: int = 0) -> np.ndarray:
    """Run one person's [T, K, 3] keypoints through a smoother; returns [T, K, 3]."""
    smoother = smoother or KeypointSmoother(FPS)
    box = [[0.0, 0.0, 100.0, 200.0]]
    return np.stack([smoother.smooth([track_id], kp[None], box, t)[0] for t, kp in enumerate(frames)])


def jitter(seq: np.ndarray) -> float:
    """RMS of the second difference of positions: frame-to-frame shake, zero for uniform motion."""
    return float(np.sqrt((np.diff(seq[..., :2], n=2, axis=0) ** 2).mean()))


def rms(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(((a[..., :2] - b[..., :2]) ** 2).mean()))


def best_lag(out: np.ndarray, truth: np.ndarray, max_lag: int = 10, skip: int = 30) -> int:
    """The delay (frames) that best aligns the output with the truth."""
    errors = [rms(out[skip:], truth[skip - lag: len(truth) - lag]) for lag in range(max_lag + 1)]
    return int(np.argmin(errors))


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_jitter_is_cut_at_rest_and_in_motion_with_bounded_lag(rng):
    height, sigma = 200.0, 2.0  # keypoint noise of 1 % of the person's height
    still = np.repeat(figure(300, 300, height, 0.0)[None], 150, axis=0)
    walking = walk((100, 300), (4, 0), 150, height, stride_hz=1.0)  # 0.6 heights/s, limbs swinging
    for truth, jitter_cut, lag_max in ((still, 4.0, 0), (walking, 1.6, 1)):
        raw = truth.copy()
        raw[..., :2] += rng.normal(0, sigma, raw[..., :2].shape)
        out = smooth_sequence(raw)
        s = slice(15, None)  # after the filter has settled
        assert jitter(raw[s]) / jitter(out[s]) > jitter_cut, (jitter(raw[s]), jitter(out[s]))
        assert rms(out[s], truth[s]) < rms(raw[s], truth[s])  # closer to the truth, not just calmer
        assert best_lag(out, truth) <= lag_max
        np.testing.assert_array_equal(out[..., 2], raw[..., 2])  # scores untouched


def test_fast_motion_is_followed_closely():
    """A person crossing at 1.5 heights/s, no noise: the filter trails by at most a frame's motion."""
    truth = walk((100, 300), (10, 0), 90, 200.0, stride_hz=0.0)
    out = smooth_sequence(truth)
    trail = np.abs(out[10:, :, 0] - truth[10:, :, 0]).max()
    assert trail < 10.0  # 10 px = one frame of motion
    assert best_lag(out, truth) <= 1


def test_stronger_settings_smooth_more():
    rng = np.random.default_rng(1)
    truth = np.repeat(figure(300, 300, 200.0, 0.0)[None], 120, axis=0)
    raw = truth.copy()
    raw[..., :2] += rng.normal(0, 2.0, raw[..., :2].shape)
    soft = smooth_sequence(raw, KeypointSmoother(FPS, OneEuroSettings(min_cutoff=3.0)))
    hard = smooth_sequence(raw, KeypointSmoother(FPS, OneEuroSettings(min_cutoff=0.3)))
    assert jitter(hard[15:]) < jitter(soft[15:]) < jitter(raw[15:])


def test_unseen_keypoints_pass_through_and_long_gaps_restart_the_filter():
    settings = OneEuroSettings(min_cutoff=0.5, beta=0.0, reset_after=0.2)
    filt = OneEuroFilter(settings)
    pts = np.array([[0.0, 0.0], [0.0, 0.0]])
    filt(pts, np.array([True, True]), 0.0, 100.0)
    out = filt(pts + 30.0, np.array([True, False]), 1 / FPS, 100.0)
    assert 0 < out[0, 0] < 30.0  # smoothed: moves part of the way
    assert out[1, 0] == 30.0  # not confident: passed through unchanged
    later = filt(pts + 60.0, np.array([True, True]), 1.0, 100.0)  # 1 s later > reset_after: start afresh
    np.testing.assert_array_equal(later, pts + 60.0)


def test_people_are_smoothed_separately_and_forgotten_after_max_age():
    smoother = KeypointSmoother(FPS, max_age=3)
    a, b = figure(100, 300, 200, 0.0), figure(400, 300, 200, 0.0)
    box = [[0, 0, 100, 200]] * 2
    smoother.smooth([0, 1], np.stack([a, b]), box, 0)
    moved = smoother.smooth([1, 0], np.stack([b + [5, 0, 0], a]), box, 1)  # order follows the ids given
    assert np.all(moved[1, :, 0] == a[:, 0])  # a did not move: no pull toward b
    assert np.all((moved[0, :, 0] > b[:, 0]) & (moved[0, :, 0] < b[:, 0] + 5))
    for t in range(2, 7):
        smoother.smooth([0], a[None], box[:1], t)
    assert set(smoother.filters) == {0}
    assert smoother.smooth([], np.zeros((0, 17, 3)), np.zeros((0, 4)), 7).shape == (0, 17, 3)
    with pytest.raises(InputError):
        smoother.smooth([0, 1], a[None], box, 8)
    with pytest.raises(InputError):
        KeypointSmoother(0.0)
    with pytest.raises(InputError):
        KeypointSmoother(FPS, OneEuroSettings(min_cutoff=-1.0))


@pytest.mark.parametrize("field", ["min_cutoff", "beta", "d_cutoff", "threshold"])
@pytest.mark.parametrize("value", ["1", None, True, float("nan")])
def test_settings_refuse_what_is_not_a_number_with_an_input_error(field, value):
    with pytest.raises(InputError, match=field):
        OneEuroSettings(**{field: value}).check()


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 0, 1.5, True, "2"])
def test_detect_every_refuses_what_is_not_a_whole_number_from_1(value):
    with pytest.raises(InputError, match="detect_every must be a whole number"):
        check_detect_every(value)


@pytest.mark.parametrize("value", [float("nan"), -1, "3"])
def test_max_age_refuses_nan_and_negative(value):
    with pytest.raises(InputError, match="max_age must be zero or positive"):
        check_max_age(value)


@pytest.mark.parametrize("threshold", [float("nan"), -0.1, 1.5])
def test_the_smoothing_threshold_is_a_score(threshold):
    with pytest.raises(InputError, match="threshold must be a score in 0..1"):
        OneEuroSettings(threshold=threshold).check()
    with pytest.raises(InputError, match="threshold must be a score in 0..1"):
        ClipOptions(threshold=threshold).check()
