"""FrameInfo, the typed per-image record of a PoseResult: wrong fields and values are refused, and the image path
and the clip path fill it as its docstring says."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sdpose_core.engine.pipeline import FrameInfo, PoseEstimator, PoseResult, pose_frame
from sdpose_core.formats.openpose import ID_KEY
from sdpose_core.video.clip import annotate_frames
from sdpose_core.weights.checkpoint import load_model

BOXES = [[2, 3, 30, 40], [20, 6, 24, 36]]  # two people per image, x, y, w, h


@pytest.fixture(scope="module")
def estimator(tiny_body, cache):
    # batch 3 with two crops per image: batches straddle images, as in real clips
    return PoseEstimator(load_model(tiny_body, cache=cache), input_size=(192, 256), flip=False, batch_size=3)


def _images(n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    return [rng.integers(0, 256, (48, 64, 3), dtype=np.uint8) for _ in range(n)]


def _result(people: int, info) -> PoseResult:
    return PoseResult(64, 48, torch.zeros(people, 17, 3), torch.zeros(people, 4), torch.ones(people), info)


def test_unknown_fields_and_wrong_values_are_refused():
    with pytest.raises(TypeError):
        FrameInfo(frame=0)  # a key of the old meta dict
    info = FrameInfo(1, [4, 2])
    with pytest.raises(AttributeError):
        info.items = []  # no new fields
    with pytest.raises(AttributeError):
        info.index = 2  # and no changes in place
    for bad in (dict(index=-1), dict(index="0"), dict(index=1.0), dict(track_ids=(1, 2)), dict(track_ids=[1.5]),
                dict(track_ids="12")):
        with pytest.raises(TypeError):
            FrameInfo(**bad)
    with pytest.raises(TypeError):
        _result(1, {"frame": 0})  # the old untyped dict
    with pytest.raises(ValueError, match="1 track ids for 2 people"):
        _result(2, FrameInfo(0, [7]))
    assert _result(2, FrameInfo(0, [7, 3])).info.track_ids == [7, 3]
    assert _result(0, FrameInfo()).info == FrameInfo(None, None, None)


def test_the_image_path_fills_the_index_only(estimator):
    results = list(estimator(_images(3), [BOXES] * 3))
    assert [r.info for r in results] == [FrameInfo(0), FrameInfo(1), FrameInfo(2)]
    assert all(r.info.track_ids is None and r.info.image is None for r in results)
    assert all(ID_KEY not in person for person in pose_frame(results[0], threshold=0.0)["people"])


def test_the_clip_path_fills_index_track_ids_and_kept_images(estimator):
    frames = _images(3)
    results = list(annotate_frames(estimator, frames, fps=25, boxes=[BOXES] * 3, keep_images=True))
    assert [r.info.index for r in results] == [0, 1, 2]
    assert all(r.info.image is frame for r, frame in zip(results, frames))  # the input frame itself, in order
    for r in results:
        assert r.info.track_ids == sorted(r.info.track_ids) and len(set(r.info.track_ids)) == r.num_people == 2
    people = pose_frame(results[1], threshold=0.0)["people"]
    assert [p[ID_KEY] for p in people] == [[i] for i in results[1].info.track_ids]

    plain = list(annotate_frames(estimator, frames, fps=25, boxes=[BOXES] * 3, track=False))
    assert [r.info for r in plain] == [FrameInfo(0), FrameInfo(1), FrameInfo(2)]  # untracked, no image kept
