"""Retarget Pose, Face Crops and Select People (V3 nodes) inside a real ComfyUI server, through its HTTP API."""

from __future__ import annotations

import json
import sys

import numpy as np
from PIL import Image

from comfy_helpers import REPO, estimator, loader

sys.path.insert(0, str(REPO / "tests"))
from sdpose_core.formats.openpose import load_pose_keypoint  # noqa: E402
from sdpose_core.pose.face import crop_faces, face_boxes  # noqa: E402
from sdpose_core.pose.people import select_people  # noqa: E402
from sdpose_core.pose.retarget import retarget  # noqa: E402
from test_face import face_person  # noqa: E402
from test_retarget import POSE, SHORT, TALL, body, frame, walk_angles, wholebody  # noqa: E402

NODES = {"SDPoseNodes.RetargetPose": "SDPose Retarget Pose", "SDPoseNodes.FaceCrops": "SDPose Face Crops",
         "SDPoseNodes.SelectPeople": "SDPose Select People"}
ONE_FILE = "one file (all frames)"


def put_input(comfy, name: str, data) -> str:
    path = comfy.base / "input" / name
    path.write_text(json.dumps(data))
    return name


def load_pose(name: str) -> dict:
    return {"class_type": "SDPoseNodes.LoadPoseKeypoints", "inputs": {"file": name, "sequence": False}}


def save_pose(link, prefix: str) -> dict:
    return {"class_type": "SDPoseNodes.SavePoseKeypoints",
            "inputs": {"pose_keypoint": link, "filename_prefix": prefix, "layout": ONE_FILE}}


def save_image(link, prefix: str) -> dict:
    return {"class_type": "SaveImage", "inputs": {"images": link, "filename_prefix": prefix}}


def retarget_node(driving, **extra) -> dict:
    inputs = {"driving_pose": driving, "anchor": "neck", "reference_person": 0, "fill_gaps": 5,
              "zero_lag_smoothing": False, "frame_rate": 30.0, "resolution": 0, "stick_width": 4, "point_size": 4,
              "face_point_size": 3, "draw_head": True, "draw_feet": False, "scale_strokes": False}
    inputs.update(extra)
    return {"class_type": "SDPoseNodes.RetargetPose", "inputs": inputs}


def saved_pose(comfy, entry, node: str) -> list:
    return json.loads(comfy.output_files(entry, node, "pose_keypoint_files")[0].read_text())


def close(a: list, b: list) -> None:
    """Two POSE_KEYPOINT lists equal up to float printing."""
    for fa, fb in zip(load_pose_keypoint(a), load_pose_keypoint(b), strict=True):
        assert fa["canvas_width"] == fb["canvas_width"] and len(fa["people"]) == len(fb["people"])
        for pa, pb in zip(fa["people"], fb["people"]):
            for key in pb:
                if pb[key] is None:
                    assert pa[key] is None
                else:
                    np.testing.assert_allclose(pa[key], pb[key], atol=1e-6)


def test_nodes_are_registered_in_the_v3_schema(comfy):
    info = comfy.get("/object_info")
    for node_id, name in NODES.items():
        assert info[node_id]["display_name"] == name
    assert info["SDPoseNodes.RetargetPose"]["output"] == ["POSE_KEYPOINT", "IMAGE"]
    assert info["SDPoseNodes.FaceCrops"]["output"] == ["IMAGE", "BOUNDING_BOX"]


def test_retarget_with_a_reference_pose_matches_the_library(comfy):
    driving = [frame(wholebody(body(SHORT, walk_angles(t), neck=(200 + 4 * t, 150)), 10, 16, pid=1))
               for t in range(4)]
    reference = frame(wholebody(body(TALL, POSE, neck=(300, 120)), 30, 40), w=600, h=700)
    prompt = {"1": load_pose(put_input(comfy, "retarget_driving.json", driving)),
              "2": load_pose(put_input(comfy, "retarget_reference.json", reference)),
              "3": retarget_node(["1", 0], reference_pose=["2", 0], stick_width=6),
              "4": save_pose(["3", 0], "retarget/pose"), "5": save_image(["3", 1], "retarget/drawn")}
    entry = comfy.run_ok(prompt)
    close(saved_pose(comfy, entry, "4"), retarget(driving, reference))
    images = comfy.output_files(entry, "5")
    assert len(images) == 4 and Image.open(images[0]).size == (600, 700) and np.asarray(Image.open(images[0])).any()


def test_the_node_and_the_command_land_a_hand_with_a_missing_wrist_the_same(comfy, tmp_path):
    from sdpose_core.cli.main import main
    from test_retarget_cli import wrist_dropout_clip

    driving = wrist_dropout_clip()
    reference = frame(wholebody(body(TALL, POSE, neck=(300, 120)), 30, 40), w=600, h=700)
    prompt = {"1": load_pose(put_input(comfy, "retarget_wrist.json", driving)),
              "2": load_pose(put_input(comfy, "retarget_wrist_ref.json", reference)),
              "3": retarget_node(["1", 0], reference_pose=["2", 0]), "4": save_pose(["3", 0], "retarget_wrist/pose")}
    node = saved_pose(comfy, comfy.run_ok(prompt), "4")
    (tmp_path / "d.json").write_text(json.dumps(driving))
    (tmp_path / "r.json").write_text(json.dumps(reference))
    assert main(["retarget", str(tmp_path / "d.json"), "--reference", str(tmp_path / "r.json"),
                 "--out", str(tmp_path / "o.json")]) == 0
    close(node, json.loads((tmp_path / "o.json").read_text()))


def test_retarget_with_a_reference_image_poses_it_like_the_estimator(comfy):
    driving = [frame(wholebody(body(SHORT, walk_angles(t)), 10, 16)) for t in range(2)]
    load = {"class_type": "LoadImage", "inputs": {"image": "person.png", "upload": "image"}}
    prompt = {"1": load_pose(put_input(comfy, "retarget_driving2.json", driving)), "2": load, "3": loader(),
              "4": retarget_node(["1", 0], reference_image=["2", 0], sdpose_model=["3", 0], bbox_detector="None",
                                 score_threshold=0.0),
              "5": estimator(["2", 0], ["3", 0], score_threshold=0.0),
              "6": retarget_node(["1", 0], reference_pose=["5", 1]),
              "7": save_pose(["4", 0], "retarget_image/a"), "8": save_pose(["6", 0], "retarget_image/b")}
    entry = comfy.run_ok(prompt, timeout=300)
    close(saved_pose(comfy, entry, "7"), saved_pose(comfy, entry, "8"))
    status, body_ = comfy.submit({"1": load_pose("retarget_driving2.json"), "2": retarget_node(["1", 0]),
                                  "3": save_pose(["2", 0], "retarget_image/none")})
    entry = comfy.wait(body_["prompt_id"]) if status == 200 else None
    assert entry is not None and entry["status"]["status_str"] == "error"
    message = json.dumps(entry["status"]["messages"])
    assert "Connect either reference_pose" in message


def test_face_crops_match_the_library(comfy):
    pose = [frame(face_person(40 + 2 * t, 50, r=8.0), w=96, h=128) for t in range(3)]
    load = {"class_type": "LoadImage", "inputs": {"image": "person.png", "upload": "image"}}
    crops = {"class_type": "SDPoseNodes.FaceCrops", "inputs": {
        "pose_keypoint": ["1", 0], "image": ["3", 0], "person": 0, "by_track_id": False, "scale": 1.5,
        "square": True, "smooth": True, "frame_rate": 30.0, "width": 64, "height": 64}}
    prompt = {"1": load_pose(put_input(comfy, "faces.json", pose)), "2": load,
              "3": {"class_type": "RepeatImageBatch", "inputs": {"image": ["2", 0], "amount": 3}},
              "4": crops, "5": save_image(["4", 0], "faces/crop")}
    entry = comfy.run_ok(prompt)
    got = [np.asarray(Image.open(p)).astype(int) for p in comfy.output_files(entry, "5")]
    picture = np.asarray(Image.open(comfy.base / "input" / "person.png").convert("RGB")).astype(np.float32) / 255
    want = crop_faces([picture], face_boxes(pose), (64, 64))
    assert len(got) == 3
    for g, w in zip(got, want):
        assert g.shape == (64, 64, 3)
        assert np.abs(g - np.clip(w * 255, 0, 255)).max() <= 1.0


def test_select_people_keeps_the_largest(comfy):
    small, big = body(SHORT, POSE, neck=(100, 100)), body(TALL, POSE, neck=(400, 100))
    pose = [frame(wholebody(small, 10, 16, pid=1), wholebody(big, 30, 40, pid=2)) for _ in range(2)]
    node = {"class_type": "SDPoseNodes.SelectPeople",
            "inputs": {"pose_keypoint": ["1", 0], "mode": "largest", "value": 0, "count": 1}}
    entry = comfy.run_ok({"1": load_pose(put_input(comfy, "two_people.json", pose)), "2": node,
                          "3": save_pose(["2", 0], "select/pose")})
    saved = saved_pose(comfy, entry, "3")
    assert [[p["person_id"] for p in f["people"]] for f in saved] == [[[2]], [[2]]]
    close(saved, select_people(pose, "largest"))


