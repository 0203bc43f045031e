"""Drawing styles, face framing and POSE_KEYPOINT interop options of the nodes, in a real ComfyUI server."""

from __future__ import annotations

import json
import sys

import numpy as np
from PIL import Image

from comfy_helpers import REPO, WHOLEBODY, estimator, loader

sys.path.insert(0, str(REPO / "tests"))
from sdpose_core.pose.face import all_face_boxes, crop_faces  # noqa: E402
from sdpose_core.pose.render import render_frame  # noqa: E402
from test_comfy_pose_tools import load_pose, put_input, retarget_node, save_image, save_pose, saved_pose  # noqa: E402
from test_face import face_person  # noqa: E402
from test_openpose import native_draw_parse, pc_frame, proportion_changer_body  # noqa: E402
from test_retarget import POSE, SHORT, TALL, body, frame, walk_angles, wholebody  # noqa: E402

GOLDEN = REPO / "tests" / "data" / "golden"


def draw_pose(link, **extra) -> dict:
    inputs = {"pose_keypoint": link, "draw_body": True, "draw_hands": True, "draw_face": True, "draw_feet": True,
              "resolution": 0, "scale_stick_for_xinsr_cn": "disable"}
    inputs.update(extra)
    return {"class_type": "SDPoseNodes.DrawPose", "inputs": inputs}


def saved_rgb(comfy, entry, node: str) -> list[np.ndarray]:
    return [np.asarray(Image.open(p).convert("RGB")) for p in comfy.output_files(entry, node)]


def test_draw_pose_wan_animate_style_is_wan22s_drawing(comfy):
    pose = json.loads((GOLDEN / "wan_animate_three.pose.json").read_text())
    prompt = {"1": load_pose(put_input(comfy, "wan_three.json", pose)),
              "2": draw_pose(["1", 0], style="wan_animate"), "3": save_image(["2", 0], "styles/wan")}
    (drawn,) = saved_rgb(comfy, comfy.run_ok(prompt), "3")
    assert np.array_equal(drawn, np.asarray(Image.open(GOLDEN / "wan_animate_three.png").convert("RGB")))


def test_retarget_pose_draws_in_the_chosen_style(comfy):
    driving = [frame(wholebody(body(SHORT, walk_angles(t), neck=(200 + 4 * t, 150)), 10, 16, pid=1))
               for t in range(2)]
    reference = frame(wholebody(body(TALL, POSE, neck=(300, 120)), 30, 40), w=600, h=700)
    prompt = {"1": load_pose(put_input(comfy, "style_driving.json", driving)),
              "2": load_pose(put_input(comfy, "style_reference.json", reference)),
              "3": retarget_node(["1", 0], reference_pose=["2", 0], style="unianimate"),
              "4": retarget_node(["1", 0], reference_pose=["2", 0], style="wan_animate", draw_feet=True,
                                 draw_hands=False),
              "5": save_pose(["3", 0], "styles/retarget"), "6": save_image(["3", 1], "styles/uni"),
              "7": save_image(["4", 1], "styles/wan_retarget")}
    entry = comfy.run_ok(prompt)
    poses = saved_pose(comfy, entry, "5")
    for got, pose in zip(saved_rgb(comfy, entry, "6"), poses, strict=True):
        assert np.array_equal(got, render_frame(pose, style="unianimate"))
        assert not (got == (255, 255, 255)).all(-1).any()  # no face dots
    for got, pose in zip(saved_rgb(comfy, entry, "7"), poses, strict=True):
        assert np.array_equal(got, render_frame(pose, style="wan_animate", hands=False))


def test_face_crops_wan_animate_framing_for_every_person(comfy):
    pose = [frame(face_person(30 + 2 * t, 40, r=8.0), face_person(70, 80, r=6.0), w=96, h=128) for t in range(3)]
    load = {"class_type": "LoadImage", "inputs": {"image": "person.png", "upload": "image"}}
    crops = {"class_type": "SDPoseNodes.FaceCrops", "inputs": {
        "pose_keypoint": ["1", 0], "image": ["3", 0], "person": 0, "by_track_id": False, "scale": 1.3,
        "square": False, "smooth": True, "frame_rate": 30.0, "width": 64, "height": 64, "framing": "wan_animate",
        "padding": 2, "keep_aspect": "pad", "all_people": True}}
    prompt = {"1": load_pose(put_input(comfy, "faces_all.json", pose)), "2": load,
              "3": {"class_type": "RepeatImageBatch", "inputs": {"image": ["2", 0], "amount": 3}},
              "4": crops, "5": save_image(["4", 0], "styles/faces")}
    got = [g.astype(int) for g in saved_rgb(comfy, comfy.run_ok(prompt), "5")]
    picture = np.asarray(Image.open(comfy.base / "input" / "person.png").convert("RGB")).astype(np.float32) / 255
    streams = all_face_boxes(pose, scale=1.3, square=False, framing="wan_animate", padding=2)
    want = [c for boxes in streams.values() for c in crop_faces([picture], boxes, (64, 64), "pad")]
    assert len(got) == len(want) == 6
    for g, w in zip(got, want):
        assert np.abs(g - np.clip(w * 255, 0, 255)).max() <= 1.0


def test_load_reads_proportion_changer_and_save_writes_zero_parts(comfy):
    name = put_input(comfy, "pc_unclear.json", pc_frame(proportion_changer_body(hidden=(8, 0))))
    status, reply = comfy.submit({"1": load_pose(name), "2": save_pose(["1", 0], "styles/unclear")})
    entry = comfy.wait(reply["prompt_id"]) if status == 200 else None
    assert entry is not None and entry["status"]["status_str"] == "error"
    assert "body_layout" in json.dumps(entry["status"]["messages"])
    load = {**load_pose(name)}
    load["inputs"] = {**load["inputs"], "body_layout": "openpose_18_toes"}
    save = save_pose(["1", 0], "styles/zeros")
    save["inputs"]["missing_parts"] = "zeros"
    (saved,) = saved_pose(comfy, comfy.run_ok({"1": load, "2": save}), "2")
    (person,) = saved["people"]
    native_draw_parse(person)
    assert len(person["pose_keypoints_2d"]) == 54 and person["foot_keypoints_2d"][:3] == [232, 396, 1.0]


def test_estimator_draw_feet_outputs_the_feet_that_wan_animate_toes_need(comfy):
    """draw_feet adds foot_keypoints_2d (six points, ComfyUI-native's key) to POSE_KEYPOINT, so a retarget drawn in
    the wan_animate style has toes to draw; off, the output is DWPose's (no feet key)."""
    load = {"class_type": "LoadImage", "inputs": {"image": "person.png", "upload": "image"}}
    fast = dict(flip_test=False, detect_face="disable")
    prompt = {"1": load, "2": loader(WHOLEBODY), "3": estimator(["1", 0], ["2", 0], draw_feet=True, **fast),
              "4": estimator(["1", 0], ["2", 0], **fast), "5": save_pose(["3", 1], "styles/feet"),
              "6": save_pose(["4", 1], "styles/no_feet")}
    entry = comfy.run_ok(prompt)
    ((with_feet,), (without,)) = ([f["people"] for f in saved_pose(comfy, entry, node)] for node in ("5", "6"))
    with_feet, without = with_feet[0], without[0]
    assert len(with_feet["foot_keypoints_2d"]) == 18 and "foot_keypoints_2d" not in without
    assert with_feet["pose_keypoints_2d"] == without["pose_keypoints_2d"]
