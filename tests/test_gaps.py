"""Gap filling in tracked clips: dropouts of keypoints, parts and whole people filled within 1 px on
constant-velocity motion; longer gaps and the clip's ends left alone."""

from __future__ import annotations

import numpy as np
import pytest

from sdpose_core.errors import InputError
from sdpose_core.formats.openpose import BODY_KEY, ID_KEY, LEFT_KEY, to_pose_keypoint
from sdpose_core.motion.gaps import fill_gaps

W, H = 1280, 720


def moving_clip(frames: int = 40, people: int = 2, seed: int = 0) -> np.ndarray:
    """[T, N, 133, 3] wholebody keypoints moving at constant, per-point velocities."""
    rng = np.random.default_rng(seed)
    base = rng.uniform((100, 100), (600, 500), (people, 133, 2))
    velocity = rng.uniform(-4, 4, (people, 133, 2))
    t = np.arange(frames)[:, None, None, None]
    xy = base[None] + velocity[None] * t
    return np.concatenate([xy, np.ones((frames, people, 133, 1))], axis=-1)


def to_clip(kp: np.ndarray, ids=(4, 8)) -> list[dict]:
    clip = []
    for frame in kp:
        f = to_pose_keypoint(frame, W, H)
        for person, pid in zip(f["people"], ids):
            person[ID_KEY] = [pid]
        clip.append(f)
    return clip


def arr(person: dict, key: str) -> np.ndarray:
    return np.asarray(person[key], dtype=np.float64).reshape(-1, 3)


def test_keypoint_part_and_person_dropouts_are_filled_within_a_pixel():
    truth = to_clip(moving_clip())
    broken = to_clip(moving_clip())
    for t in range(5, 10):  # body points 3 (right elbow) and 4 missing for 5 frames
        body = arr(broken[t]["people"][0], BODY_KEY)
        body[[3, 4]] = 0
        broken[t]["people"][0][BODY_KEY] = body.reshape(-1).tolist()
    for t in (20, 21):  # a whole hand missing
        broken[t]["people"][1][LEFT_KEY] = None
    for t in range(12, 15):  # the whole second person missing for 3 frames
        broken[t]["people"] = broken[t]["people"][:1]
    filled = fill_gaps(broken)
    for t in list(range(5, 10)) + [20, 21] + list(range(12, 15)):
        assert [p[ID_KEY] for p in filled[t]["people"]] == [[4], [8]]
        for got, want in zip(filled[t]["people"], truth[t]["people"]):
            for key in want:
                if want[key] is not None and key != ID_KEY:
                    np.testing.assert_allclose(arr(got, key), arr(want, key), atol=1.0)


def test_long_gaps_and_the_ends_of_the_clip_are_not_filled():
    clip = to_clip(moving_clip(frames=30, people=1), ids=(1,))
    for t in list(range(0, 3)) + list(range(10, 17)) + [29]:  # start, a 7-frame gap, the end
        body = arr(clip[t]["people"][0], BODY_KEY)
        body[0] = 0
        clip[t]["people"][0][BODY_KEY] = body.reshape(-1).tolist()
    filled = fill_gaps(clip, max_gap=5)
    for t in list(range(0, 3)) + list(range(10, 17)) + [29]:
        assert arr(filled[t]["people"][0], BODY_KEY)[0].tolist() == [0, 0, 0]
    assert (arr(fill_gaps(clip, max_gap=7)[13]["people"][0], BODY_KEY)[0, 2]) == 1.0
    gone = clip[:5] + [{**clip[5], "people": []}] * 10  # the person leaves: never extrapolated
    assert all(not f["people"] for f in fill_gaps(gone)[5:])


def test_untracked_single_person_clips_are_filled_and_bad_max_gap_refused():
    clip = to_clip(moving_clip(frames=10, people=1), ids=())
    for person in (p for f in clip for p in f["people"]):
        person.pop(ID_KEY, None)
    clip[4] = {**clip[4], "people": []}
    filled = fill_gaps(clip)
    assert len(filled[4]["people"]) == 1 and ID_KEY not in filled[4]["people"][0]
    with pytest.raises(InputError, match="max_gap"):
        fill_gaps(clip, max_gap=-1)
