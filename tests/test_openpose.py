"""POSE_KEYPOINT output pinned to comfyui_controlnet_aux's DWPose node, options, and loading of other variants."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from sdpose_core.errors import InputError
from sdpose_core.formats.openpose import (
    OPENPOSE_FROM_COCO,
    load_pose_keypoint,
    save_pose_keypoint,
    to_pose_keypoint,
    to_pose_keypoints,
)

GOLDEN = Path(__file__).parent / "data" / "golden"
NODE_CASES = ["body_single", "wholebody_three", "wholebody_three_noface_nohands", "wholebody_three_xinsr",
              "wholebody_three_xinsr_small", "wholebody_three_float32"]


def golden_case(name: str) -> tuple[dict, list]:
    spec = json.loads((GOLDEN / f"{name}.input.json").read_text())
    return spec, json.loads((GOLDEN / f"{name}.pose.json").read_text())


def wholebody(seed: int = 0, score: float = 0.9) -> np.ndarray:
    """One plausible (133, 3) person with every score = ``score``."""
    rng = np.random.default_rng(seed)
    kp = np.empty((133, 3))
    kp[:, 0] = rng.uniform(100, 500, 133)
    kp[:, 1] = rng.uniform(50, 400, 133)
    kp[:, 2] = score
    return kp


def triples(flat: list) -> np.ndarray:
    return np.asarray(flat, dtype=float).reshape(-1, 3)


@pytest.mark.parametrize("name", NODE_CASES)
def test_matches_dwpose_node_output_exactly(name):
    spec, expected = golden_case(name)
    dtype = np.float32 if name.endswith("float32") else np.float64
    pose = to_pose_keypoint(np.asarray(spec["keypoints"], dtype), spec["width"], spec["height"],
                            body=spec["include_body"], hands=spec["include_hand"], face=spec["include_face"])
    assert json.dumps([pose]) == json.dumps(expected)


def test_format_pinned():
    kp = np.zeros((1, 133, 3))
    kp[0, :, :2] = np.arange(266, dtype=float).reshape(133, 2)
    kp[0, :, 2] = 0.9
    kp[0, 4, 2] = 0.1                      # right ear dropped
    kp[0, 112:133, 2] = 0.2                # right hand dropped entirely
    pose = to_pose_keypoint(kp, 640, 480)
    assert list(pose) == ["people", "canvas_height", "canvas_width"]
    assert (pose["canvas_width"], pose["canvas_height"]) == (640, 480)
    (person,) = pose["people"]
    assert list(person) == ["pose_keypoints_2d", "face_keypoints_2d", "hand_left_keypoints_2d",
                            "hand_right_keypoints_2d"]
    body = triples(person["pose_keypoints_2d"])
    assert body.shape == (18, 3)
    assert body[1].tolist() == [(10 + 12) / 2, (11 + 13) / 2, 1.0]          # neck = mean of the shoulders
    for op, coco in enumerate(OPENPOSE_FROM_COCO):
        if coco >= 0 and coco != 4:
            assert body[op].tolist() == [2 * coco, 2 * coco + 1, 1.0]
    assert body[16].tolist() == [0.0, 0.0, 0.0]                               # OpenPose 16 = COCO 4
    face = triples(person["face_keypoints_2d"])
    assert face.shape == (70, 3)
    assert face[:68, :2].tolist() == kp[0, 23:91, :2].tolist()
    assert face[68].tolist() == body[14].tolist() and face[69].tolist() == body[15].tolist()
    assert triples(person["hand_left_keypoints_2d"])[:, :2].tolist() == kp[0, 91:112, :2].tolist()
    assert person["hand_right_keypoints_2d"] is None
    assert all(isinstance(v, float) for v in person["pose_keypoints_2d"])
    json.dumps(pose)


def test_hands_by_side_and_swap_option():
    kp = wholebody()[None]
    left, right = kp[0, 91:112, :2].tolist(), kp[0, 112:133, :2].tolist()
    person = to_pose_keypoint(kp, 600, 450)["people"][0]
    assert triples(person["hand_left_keypoints_2d"])[:, :2].tolist() == left
    assert triples(person["hand_right_keypoints_2d"])[:, :2].tolist() == right
    swapped = to_pose_keypoint(kp, 600, 450, swap_hands=True)["people"][0]
    assert triples(swapped["hand_right_keypoints_2d"])[:, :2].tolist() == left
    assert triples(swapped["hand_left_keypoints_2d"])[:, :2].tolist() == right


def test_threshold_and_neck_rule():
    kp = wholebody(score=0.9)[None]
    kp[0, 0, 2] = 0.3                      # exactly at the threshold: kept
    kp[0, 5, 2] = 0.3                      # shoulder at the threshold: kept, but the neck needs both > 0.3
    kp[0, 7, 2] = 0.29
    body = triples(to_pose_keypoint(kp, 600, 450)["people"][0]["pose_keypoints_2d"])
    assert body[0, 2] == 1.0 and body[5, 2] == 1.0
    assert body[1].tolist() == [0.0, 0.0, 0.0]
    assert body[6].tolist() == [0.0, 0.0, 0.0]                                # OpenPose 6 = COCO 7
    strict = triples(to_pose_keypoint(kp, 600, 450, threshold=0.95)["people"][0]["pose_keypoints_2d"])
    assert not strict[:, 2].any()


def test_parts_with_no_kept_point_are_null_but_body_is_zeros():
    kp = wholebody(score=0.1)[None]
    person = to_pose_keypoint(kp, 600, 450)["people"][0]
    assert person["pose_keypoints_2d"] == [0.0] * 54
    assert person["face_keypoints_2d"] is None
    assert person["hand_left_keypoints_2d"] is None and person["hand_right_keypoints_2d"] is None


def test_toggles():
    kp = wholebody()[None]
    person = to_pose_keypoint(kp, 600, 450, hands=False, face=False)["people"][0]
    assert person["face_keypoints_2d"] is None
    assert person["hand_left_keypoints_2d"] is None and person["hand_right_keypoints_2d"] is None
    assert "foot_keypoints_2d" not in person
    no_body = to_pose_keypoint(kp, 600, 450, body=False)["people"][0]
    assert no_body["pose_keypoints_2d"] == [0.0] * 54
    assert triples(no_body["face_keypoints_2d"])[68:, 2].tolist() == [1.0, 1.0]   # DWPose keeps the eyes there
    feet = to_pose_keypoint(kp, 600, 450, feet=True)["people"][0]
    assert triples(feet["foot_keypoints_2d"])[:, :2].tolist() == kp[0, 17:23, :2].tolist()


def test_raw_scores():
    kp = wholebody(score=0.8)[None]
    kp[0, 5, 2], kp[0, 6, 2], kp[0, 9, 2] = 0.7, 0.6, 0.2
    person = to_pose_keypoint(kp, 600, 450, raw_scores=True, feet=True)["people"][0]
    body = triples(person["pose_keypoints_2d"])
    assert body[0, 2] == 0.8 and body[1, 2] == 0.6 and body[5, 2] == 0.7
    assert body[7].tolist() == [0.0, 0.0, 0.0]                                 # OpenPose 7 = COCO 9, below
    assert set(triples(person["foot_keypoints_2d"])[:, 2]) == {0.8}
    everything = to_pose_keypoint(kp, 600, 450, raw_scores=True, threshold=0.0)["people"][0]
    assert triples(everything["pose_keypoints_2d"])[7, 2] == pytest.approx(0.2)


def test_body17_fills_body_only():
    kp = wholebody()[None, :17]
    person = to_pose_keypoint(kp, 600, 450, feet=True)["people"][0]
    assert len(person["pose_keypoints_2d"]) == 54 and triples(person["pose_keypoints_2d"])[:, 2].all()
    assert person["face_keypoints_2d"] is None and person["foot_keypoints_2d"] is None
    assert person["hand_left_keypoints_2d"] is None and person["hand_right_keypoints_2d"] is None
    whole = to_pose_keypoint(wholebody()[None], 600, 450)["people"][0]
    assert person["pose_keypoints_2d"] == whole["pose_keypoints_2d"]


def test_frames_and_empty():
    frames = to_pose_keypoints([(wholebody()[None], 600, 450), (np.zeros((0, 133, 3)), 600, 450)])
    assert len(frames) == 2 and frames[1]["people"] == []


@pytest.mark.parametrize("keypoints, width, message", [
    (np.zeros((1, 18, 3)), 100, "17 or 133"),
    (np.zeros((1, 133, 2)), 100, "(x, y, score)"),
    (np.zeros((1, 17, 3)), 0, "canvas_width"),
    (np.array([[["a", "b", "c"]] * 17]), 100, "numbers"),
])
def test_bad_keypoints_rejected(keypoints, width, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        to_pose_keypoint(keypoints, width, 100)


def test_load_dwpose_is_identity_and_accepts_dict_list_text_path(tmp_path):
    _, expected = golden_case("wholebody_three")
    assert load_pose_keypoint(expected) == expected
    assert load_pose_keypoint(expected[0]) == expected
    assert load_pose_keypoint(json.dumps(expected)) == expected
    path = save_pose_keypoint(expected, tmp_path / "pose.json")
    assert load_pose_keypoint(path) == expected
    assert load_pose_keypoint(str(path)) == expected


def test_save_round_trip_keeps_single_dict(tmp_path):
    pose = to_pose_keypoint(wholebody()[None], 600, 450, feet=True, raw_scores=True)
    path = save_pose_keypoint(pose, tmp_path / "sub" / "one.json")
    assert json.loads(path.read_text()) == pose
    assert load_pose_keypoint(path) == [pose]
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]


def native_frame() -> dict:
    """A frame as ComfyUI-native SDPoseKeypointExtractor writes it: raw scores, feet, own key order, -1 = invalid."""
    kp = wholebody(3, score=0.85)
    body = kp[:18].copy()
    body[3] = [-1, -1, 0.01]
    return {"canvas_width": 600, "canvas_height": 450, "people": [{
        "pose_keypoints_2d": body.reshape(-1).tolist(),
        "foot_keypoints_2d": kp[18:24].reshape(-1).tolist(),
        "face_keypoints_2d": kp[24:94].reshape(-1).tolist(),
        "hand_right_keypoints_2d": kp[94:115].reshape(-1).tolist(),
        "hand_left_keypoints_2d": kp[112:133].reshape(-1).tolist(),
    }]}


def test_load_comfyui_native_variant():
    frame = native_frame()
    (loaded,) = load_pose_keypoint([frame])
    assert list(loaded) == ["people", "canvas_height", "canvas_width"]
    person, source = loaded["people"][0], frame["people"][0]
    assert list(person)[:4] == ["pose_keypoints_2d", "face_keypoints_2d", "hand_left_keypoints_2d",
                                "hand_right_keypoints_2d"]
    for key, values in source.items():
        assert person[key] == values


def body25_person() -> tuple[dict, np.ndarray]:
    body25 = np.zeros((25, 3))
    body25[:, 0] = np.arange(25) * 10 + 5
    body25[:, 1] = np.arange(25) * 7 + 3
    body25[:, 2] = 0.8
    return {"person_id": [-1], "pose_keypoints_2d": body25.reshape(-1).tolist(), "face_keypoints_2d": [],
            "hand_left_keypoints_2d": [], "hand_right_keypoints_2d": [], "pose_keypoints_3d": []}, body25


def test_load_cmu_openpose_body25_needs_canvas():
    person, body25 = body25_person()
    data = {"version": 1.3, "people": [person]}
    with pytest.raises(InputError, match="canvas_size"):
        load_pose_keypoint(data)
    (frame,) = load_pose_keypoint(data, canvas_size=(400, 300))
    assert (frame["canvas_width"], frame["canvas_height"]) == (400, 300)
    loaded = frame["people"][0]
    body = triples(loaded["pose_keypoints_2d"])
    assert body.shape == (18, 3)
    assert body[8].tolist() == body25[9].tolist() and body[17].tolist() == body25[18].tolist()   # MidHip dropped
    assert triples(loaded["foot_keypoints_2d"]).tolist() == body25[19:25].tolist()
    assert loaded["face_keypoints_2d"] is None and loaded["hand_left_keypoints_2d"] is None
    assert loaded["person_id"] == [-1]  # OpenPose's track id survives loading (tracked video frames carry one)


def test_load_normalized_coordinates_become_pixels():
    _, expected = golden_case("wholebody_three")
    normalized = json.loads((GOLDEN / "normalized.pose.json").read_text())
    (frame,) = load_pose_keypoint(normalized)
    for i, (got, want, given) in enumerate(zip(frame["people"], expected[0]["people"], normalized["people"])):
        for key in want:
            if want[key] is None:
                assert got[key] is None
            elif i == 0 and key == "pose_keypoints_2d":
                # an ankle at y = 1.03 (below the canvas): DWPose then takes this part for pixels, and so do we
                assert max(triples(given[key])[:, 1]) > 1 and got[key] == given[key]
            else:
                np.testing.assert_allclose(got[key], want[key], rtol=0, atol=1e-9)


@pytest.mark.parametrize("data, message", [
    (42, "expected a dict"),
    ("{not json", "not valid JSON"),
    ([1], "frame 0: expected an object"),
    ({"canvas_width": 10, "canvas_height": 10}, "no 'people'"),
    ({"people": {}, "canvas_width": 10, "canvas_height": 10}, "'people' must be a list"),
    ({"people": [], "canvas_width": 10}, "only one of"),
    ({"people": [], "canvas_width": -4, "canvas_height": 10}, "canvas_width must be a positive"),
    ({"people": [], "canvas_width": 10.5, "canvas_height": 10}, "canvas_width must be a positive"),
    ({"people": [[1, 2, 3]], "canvas_width": 10, "canvas_height": 10}, "person 0: expected an object"),
    ({"people": [{"person_id": ["a"]}], "canvas_width": 10, "canvas_height": 10}, "'person_id' must be a whole"),
    ({"people": [{"pose_keypoints_2d": [1, 2]}], "canvas_width": 10, "canvas_height": 10}, "not a multiple of 3"),
    ({"people": [{"pose_keypoints_2d": [1, 2, 3] * 17}], "canvas_width": 10, "canvas_height": 10},
     "has 17 points; expected 18 or 25"),
    ({"people": [{"hand_left_keypoints_2d": [1, 2, "x"] * 21}], "canvas_width": 10, "canvas_height": 10},
     "'hand_left_keypoints_2d': every value must be a number, found 'x'"),
    ({"people": [{"face_keypoints_2d": [1, 2, True] * 70}], "canvas_width": 10, "canvas_height": 10},
     "found True"),
    ({"people": [{"foot_keypoints_2d": [1.0, float("nan"), 1.0] * 6}], "canvas_width": 10, "canvas_height": 10},
     "NaN"),
    ({"people": [{"pose_keypoints_2d": "1,2,3"}], "canvas_width": 10, "canvas_height": 10}, "flat list"),
])
def test_malformed_rejected_with_clear_message(data, message):
    with pytest.raises(InputError, match=re.escape(message)):
        load_pose_keypoint(data)


def test_missing_and_broken_files(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_pose_keypoint(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text("[{")
    with pytest.raises(InputError, match="broken.json"):
        load_pose_keypoint(broken)


def test_error_names_frame_and_person():
    good = {"people": [], "canvas_width": 10, "canvas_height": 10}
    bad = {"people": [{}, {"hand_right_keypoints_2d": [0.0] * 60}], "canvas_width": 10, "canvas_height": 10}
    with pytest.raises(InputError, match=r"frame 1, person 1: 'hand_right_keypoints_2d' has 20 points"):
        load_pose_keypoint([good, bad])


# ------------------------------------------------------------------------------------------------ hostile inputs

SMALL = {"people": [], "canvas_width": 64, "canvas_height": 48}


def test_deeply_nested_json_is_an_input_error(tmp_path):
    deep = "[" * 100_000
    path = tmp_path / "deep.json"
    path.write_text(deep)
    for source in (deep, path):
        with pytest.raises(InputError, match="nested too deeply"):
            load_pose_keypoint(source)


@pytest.mark.parametrize("width, height, match", [
    (10 ** 9, 48, "larger than 16384"), (1e308, 48, "larger than 16384"), (16384, 16384, "megapixels"),
    (float("inf"), 48, "positive whole number"),
])
def test_one_canvas_bound(width, height, match):
    with pytest.raises(InputError, match=match):
        load_pose_keypoint(dict(SMALL, canvas_width=width, canvas_height=height))
    assert load_pose_keypoint(dict(SMALL, canvas_width=16384, canvas_height=4096))[0]["canvas_width"] == 16384


def test_save_refuses_nan_and_non_pose_keypoint_before_writing(tmp_path):
    from sdpose_core.formats.openpose import pose_keypoint_frames

    nan = {"people": [{"pose_keypoints_2d": [float("nan"), 1.0, 1.0] * 18}], "canvas_width": 64, "canvas_height": 48}
    for bad, match in ((nan, "NaN"), (["not a frame", 5], "frame 0"), (dict(SMALL, note=float("inf")), "JSON")):
        with pytest.raises(InputError, match=match):
            save_pose_keypoint(bad, tmp_path / "x.json") if match == "JSON" else pose_keypoint_frames(bad)
    assert not list(tmp_path.iterdir())
    assert pose_keypoint_frames(SMALL) == [SMALL]


# A standing person in OpenPose-18 order (x, y): nose, neck, right arm, left arm, right leg, left leg, eyes, ears.
STANDING = [(200, 80), (200, 120), (170, 120), (160, 170), (155, 220), (230, 120), (240, 170), (245, 220),
            (180, 220), (178, 300), (176, 380), (220, 220), (222, 300), (224, 380), (194, 74), (206, 74),
            (186, 78), (214, 78)]
LEFT_TOE, RIGHT_TOE = (232, 396), (168, 396)


def proportion_changer_body(points=STANDING, hidden=()) -> list:
    """A body as ComfyUI-ProportionChanger writes it (PoseDataToPoseKeypoint, read from its source): the 20 points
    of Wan-Animate's pose meta (OpenPose-18, left toe, right toe) padded with zeros to 25."""
    body = [[x, y, 0.0 if i in hidden else 1.0] for i, (x, y) in enumerate([*points, LEFT_TOE, RIGHT_TOE])]
    body = [[0.0, 0.0, 0.0] if c == 0 else [x, y, c] for x, y, c in body]
    return [v for p in body + [[0.0, 0.0, 0.0]] * 5 for v in p]


def pc_frame(*bodies) -> dict:
    return {"version": "1.0", "canvas_width": 400, "canvas_height": 420,
            "people": [{"pose_keypoints_2d": b, "face_keypoints_2d": [0.0] * 210, "hand_left_keypoints_2d": [0.0] * 63,
                        "hand_right_keypoints_2d": [0.0] * 63} for b in bodies]}


def test_proportion_changer_bodies_are_openpose_18_and_toes():
    (frame,) = load_pose_keypoint(pc_frame(proportion_changer_body()))
    person = frame["people"][0]
    assert triples(person["pose_keypoints_2d"])[:, :2].tolist() == [list(p) for p in STANDING]
    feet = triples(person["foot_keypoints_2d"])
    assert feet[0].tolist() == [*LEFT_TOE, 1.0] and feet[3].tolist() == [*RIGHT_TOE, 1.0]
    assert feet[[1, 2, 4, 5], 2].tolist() == [0, 0, 0, 0]


def test_proportion_changer_told_by_the_toe_when_a_hip_is_hidden():
    (frame,) = load_pose_keypoint(pc_frame(proportion_changer_body(hidden=(8,))))
    assert triples(frame["people"][0]["pose_keypoints_2d"])[13, :2].tolist() == list(STANDING[13])


def test_body25_with_zero_last_points_is_still_body25():
    """CMU BODY_25 whose feet after the left big toe are missing: the mid-hip between the hips says BODY_25."""
    person, body25 = body25_person()
    body25[8, :2] = (body25[9, :2] + body25[12, :2]) / 2
    body25[20:] = 0
    person["pose_keypoints_2d"] = body25.reshape(-1).tolist()
    (frame,) = load_pose_keypoint({"people": [person], "canvas_width": 400, "canvas_height": 300})
    assert triples(frame["people"][0]["pose_keypoints_2d"])[8].tolist() == body25[9].tolist()


def test_upper_body_25_point_bodies_are_told_by_the_head():
    """An upper-body shot (no hips, knees, ankles or toes): ProportionChanger's point 14 is an eye next to the nose,
    CMU BODY_25's point 18 an ear next to the nose (BODY_25 order: nose, neck, arms, mid-hip, right leg, left leg,
    eyes, ears, feet)."""
    legs = (8, 9, 10, 11, 12, 13)
    (frame,) = load_pose_keypoint(pc_frame(proportion_changer_body(hidden=legs)))
    body = triples(frame["people"][0]["pose_keypoints_2d"])
    assert body[14:, :2].tolist() == [list(p) for p in STANDING[14:]] and (body[list(legs), 2] == 0).all()
    body25 = np.zeros((25, 3))
    for i25, i18 in ((0, 0), (1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (6, 6), (7, 7), (15, 14), (16, 15), (17, 16),
                     (18, 17)):
        body25[i25] = [*STANDING[i18], 1.0]
    (frame,) = load_pose_keypoint({"people": [{"pose_keypoints_2d": body25.reshape(-1).tolist()}],
                                   "canvas_width": 400, "canvas_height": 420})
    body = triples(frame["people"][0]["pose_keypoints_2d"])
    assert body[14:, :2].tolist() == [list(p) for p in STANDING[14:]] and (body[list(legs), 2] == 0).all()


def test_ambiguous_25_point_bodies_are_an_error_naming_the_choice():
    unclear = proportion_changer_body(hidden=(8, 0))
    with pytest.raises(InputError, match="body_layout 'body_25' or 'openpose_18_toes'"):
        load_pose_keypoint(pc_frame(unclear))
    mixed = [pc_frame(proportion_changer_body()), {"people": [body25_person()[0]], "canvas_width": 400,
                                                   "canvas_height": 420}]
    with pytest.raises(InputError, match="some look like one"):
        load_pose_keypoint(mixed)
    (frame,) = load_pose_keypoint(pc_frame(unclear), body_layout="openpose_18_toes")
    assert triples(frame["people"][0]["pose_keypoints_2d"])[13, :2].tolist() == list(STANDING[13])
    (frame,) = load_pose_keypoint(pc_frame(unclear), body_layout="body_25")
    assert triples(frame["people"][0]["pose_keypoints_2d"])[8, :2].tolist() == list(STANDING[9])
    with pytest.raises(InputError, match="auto, body_25, openpose_18_toes"):
        load_pose_keypoint(pc_frame(unclear), body_layout="coco")


def native_draw_parse(person: dict) -> None:
    """What ComfyUI-native's SDPoseDrawKeypoints does with a person (comfy_extras/nodes_sdpose.py, read from its
    source): reshape body (18), face (70) and both hands (21) to (n, 3); a null part raises there."""
    for key, n in (("pose_keypoints_2d", 18), ("face_keypoints_2d", 70), ("hand_right_keypoints_2d", 21),
                   ("hand_left_keypoints_2d", 21)):
        np.array(person[key], dtype=np.float32).reshape(n, 3)


def test_missing_parts_as_zeros_for_comfyui_native_draw():
    from sdpose_core.formats.openpose import zero_missing_parts

    body_only = np.zeros((1, 17, 3)) + [100.0, 100.0, 0.9]
    null = to_pose_keypoint(body_only, 300, 200)
    with pytest.raises(ValueError, match="reshape"):  # what ComfyUI-native meets on a null part
        native_draw_parse(null["people"][0])
    zeros = to_pose_keypoint(body_only, 300, 200, missing_parts="zeros")
    native_draw_parse(zeros["people"][0])
    assert "foot_keypoints_2d" not in zeros["people"][0]
    assert to_pose_keypoint(body_only, 300, 200, feet=True, missing_parts="zeros")["people"][0][
        "foot_keypoints_2d"] == [0.0] * 18
    kp = wholebody()[None]
    kp[0, 91:112, 2] = 0.1  # the left hand below the threshold: null, or 21 zero points
    full = to_pose_keypoint(kp, 600, 450, missing_parts="zeros")
    assert full["people"][0]["hand_left_keypoints_2d"] == [0.0] * 63
    assert full["people"][0]["face_keypoints_2d"] == to_pose_keypoint(kp, 600, 450)["people"][0]["face_keypoints_2d"]
    assert zero_missing_parts([null]) == [zeros]
    from sdpose_core.pose.render import render_frame

    assert np.array_equal(render_frame(full), render_frame(to_pose_keypoint(kp, 600, 450)))  # we read both alike
    with pytest.raises(InputError, match="null, zeros"):
        to_pose_keypoint(body_only, 300, 200, missing_parts="empty")
    for bad in ({"people": [5], "canvas_width": 10, "canvas_height": 10}, {"people": "x"}):  # from another pack
        with pytest.raises(InputError, match="POSE_KEYPOINT frame 0"):
            zero_missing_parts(bad)


def test_draw_command_reads_proportion_changer_bodies_with_body_layout(tmp_path, capsys):
    from sdpose_core.cli.main import main

    path = tmp_path / "pc.json"
    path.write_text(json.dumps(pc_frame(proportion_changer_body(hidden=(8, 0)))))
    assert main(["draw", str(path), "--out", str(tmp_path / "a.png")]) == 2
    assert "--body-layout" in capsys.readouterr().err
    assert main(["draw", str(path), "--out", str(tmp_path / "b.png"), "--body-layout", "openpose_18_toes"]) == 0
    assert (tmp_path / "b.png").is_file()


def test_estimate_command_writes_missing_parts_as_zeros(tiny_body, cache, tmp_path):
    """A body model sees no face or hands: null by default (DWPose), zero points with --missing-parts zeros."""
    from PIL import Image

    from sdpose_core.cli.main import main

    image = tmp_path / "person.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (120, 90, 3), dtype=np.uint8)).save(image)
    common = ["--model", str(tiny_body), "--input-size", "192x256", "--no-flip", "--detector", "none",
              "--cache-dir", str(cache), "--device", "cpu"]
    assert main(["estimate", str(image), "--out", str(tmp_path / "null"), *common]) == 0
    assert main(["estimate", str(image), "--out", str(tmp_path / "zeros"), *common, "--missing-parts", "zeros"]) == 0
    (null,) = json.loads((tmp_path / "null" / "person.json").read_text())["people"]
    (zeros,) = json.loads((tmp_path / "zeros" / "person.json").read_text())["people"]
    assert null["face_keypoints_2d"] is None and null["hand_left_keypoints_2d"] is None
    native_draw_parse(zeros)
    assert zeros["face_keypoints_2d"] == [0.0] * 210 and zeros["pose_keypoints_2d"] == null["pose_keypoints_2d"]
