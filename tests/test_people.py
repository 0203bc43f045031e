"""Choosing people: max_people with an order, per frame and per track; select by index, track id, size."""

from __future__ import annotations

import numpy as np
import pytest

from sdpose_core.errors import InputError
from sdpose_core.formats.openpose import BODY_KEY, ID_KEY
from sdpose_core.pose.people import limit_people, person_extent, select_people


def box_person(x, y, w, h, pid=None) -> dict:
    """A person whose 18 body points span the box x, y, w, h."""
    t = np.linspace(0, 1, 18)
    pts = np.stack([x + w * t, y + h * t[::-1], np.ones(18)], axis=1)
    p = {BODY_KEY: pts.reshape(-1).tolist(), "face_keypoints_2d": None, "hand_left_keypoints_2d": None,
         "hand_right_keypoints_2d": None}
    if pid is not None:
        p[ID_KEY] = [pid]
    return p


def frame(*people) -> dict:
    return {"people": list(people), "canvas_width": 400, "canvas_height": 300}


def xs(frame) -> list[float]:
    return [round(person_extent(p)[0]) for p in frame["people"]]


def test_orders_per_frame():
    f = frame(box_person(10, 10, 50, 100), box_person(180, 120, 40, 60), box_person(300, 0, 90, 200))
    assert xs(limit_people(f, None, "largest")[0]) == [300, 10, 180]
    assert xs(limit_people(f, 1, "most_central")[0]) == [180]
    assert xs(limit_people(f, 2, "left_to_right")[0]) == [10, 180]


def test_tracked_clip_is_ranked_per_track_so_the_choice_does_not_flip():
    # Track 1 is larger on average; in frame 1 track 2 is momentarily larger.
    clip = [frame(box_person(10, 10, 100, 200, pid=1), box_person(200, 10, 50, 100, pid=2)),
            frame(box_person(200, 10, 60, 120, pid=2), box_person(10, 10, 55, 110, pid=1))]
    chosen = limit_people(clip, 1, "largest")
    assert [p[ID_KEY] for f in chosen for p in f["people"]] == [[1], [1]]
    assert [p[ID_KEY] for p in limit_people(clip, None, "track_id")[1]["people"]] == [[1], [2]]


def test_select_by_index_track_id_and_size():
    clip = [frame(box_person(10, 10, 20, 40, pid=5), box_person(200, 10, 50, 100, pid=9)),
            frame(box_person(200, 10, 50, 100, pid=9))]
    assert [len(f["people"]) for f in select_people(clip, "index", 1)] == [1, 0]
    assert [[p[ID_KEY] for p in f["people"]] for f in select_people(clip, "track_id", 5)] == [[[5]], []]
    assert [[p[ID_KEY] for p in f["people"]] for f in select_people(clip, "largest")] == [[[9]], [[9]]]
    assert select_people(clip, "index", 0)[1]["canvas_width"] == 400


def test_people_without_visible_points_rank_last_and_bad_input_is_refused():
    hidden = box_person(0, 0, 10, 10)
    hidden[BODY_KEY] = [0.0] * 54
    f = frame(hidden, box_person(50, 50, 10, 10))
    assert xs(limit_people(f, 1, "largest")[0]) == [50]
    with pytest.raises(InputError, match="max_people"):
        limit_people(f, 0)
    with pytest.raises(InputError, match="order must be one of"):
        limit_people(f, 1, "tallest")
    with pytest.raises(InputError, match="person_id"):
        select_people(f, "track_id", 3)
