"""Person boxes from any detector node, on the real ComfyUI server: a MASK (one person per region) and the Impact
Pack's SEGS give the Estimator exactly the poses that the same boxes given as BOUNDING_BOX give."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from comfy_helpers import BODY, estimator, loader

REGIONS = [(10, 20, 40, 80), (55, 10, 30, 60)]  # x, y, w, h in the 96x128 picture
SPECKLE = (2, 2, 3, 3)  # 9 pixels: below min_mask_area


def save_keypoints(link, prefix: str) -> dict:
    return {"class_type": "SDPoseNodes.SavePoseKeypoints",
            "inputs": {"pose_keypoint": link, "filename_prefix": prefix, "layout": "one file (all frames)"}}


def boxes_node(boxes: list[dict]) -> dict:
    return {"class_type": "SDPoseTest.Boxes", "inputs": {"boxes_json": json.dumps(boxes)}}


def poses(comfy, prompt: dict, prefix: str, **options) -> list[dict]:
    prompt = {**prompt, "1": {"class_type": "LoadImage", "inputs": {"image": "people_mask.png", "upload": "image"}},
              "2": loader(BODY)}
    prompt["5"] = estimator(["1", 0], ["2", 0], resolution=64, flip_test=False, **options)
    prompt["6"] = save_keypoints(["5", 1], prefix)
    entry = comfy.run_ok(prompt)
    [path] = comfy.output_files(entry, "6", "pose_keypoint_files")
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def masked_picture(comfy):
    """input/people_mask.png: the test picture, transparent over two people and a speckle (LoadImage's MASK is 1
    where the alpha is 0)."""
    rgb = np.asarray(Image.open(comfy.base / "input" / "person.png").convert("RGB"))
    alpha = np.full(rgb.shape[:2], 255, np.uint8)
    for x, y, w, h in [*REGIONS, SPECKLE]:
        alpha[y:y + h, x:x + w] = 0
    Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(comfy.base / "input" / "people_mask.png")


def reference(comfy, score: float = 1.0) -> list[dict]:
    boxes = [{"x": x, "y": y, "width": w, "height": h, "score": score} for x, y, w, h in REGIONS]
    return poses(comfy, {"4": boxes_node(boxes)}, "sources/reference", bounding_box=["4", 0])


def test_a_mask_gives_one_person_per_region(comfy, masked_picture):
    got = poses(comfy, {}, "sources/mask", mask=["1", 1], min_mask_area=64)
    assert len(got[0]["people"]) == 2
    assert got == reference(comfy)
    speckle_too = poses(comfy, {}, "sources/mask_small", mask=["1", 1], min_mask_area=4)
    assert len(speckle_too[0]["people"]) == 3


def segs_node(detections: list[dict]) -> dict:
    return {"class_type": "SDPoseTest.Segs", "inputs": {"image": ["1", 0], "detections_json": json.dumps(detections),
                                                        "crop_factor": 3.0}}


def test_segs_give_their_person_boxes(comfy, masked_picture):
    detections = [{"bbox": [x, y, x + w, y + h], "label": "person", "confidence": 0.9} for x, y, w, h in REGIONS]
    detections.append({"bbox": [0, 100, 30, 120], "label": "car", "confidence": 0.99})
    got = poses(comfy, {"4": segs_node(detections)}, "sources/segs", segs=["4", 0])
    assert len(got[0]["people"]) == 2
    assert got == reference(comfy, 0.9)
    everything = poses(comfy, {"4": segs_node(detections)}, "sources/segs_all", segs=["4", 0], segs_labels="all")
    assert len(everything[0]["people"]) == 3


def test_two_box_sources_at_once_are_one_clear_error(comfy, masked_picture):
    prompt = {"1": {"class_type": "LoadImage", "inputs": {"image": "people_mask.png", "upload": "image"}},
              "2": loader(BODY), "4": boxes_node([]),
              "5": estimator(["1", 0], ["2", 0], resolution=64, flip_test=False, bounding_box=["4", 0],
                             mask=["1", 1])}
    entry = comfy.run(prompt)
    [error] = [m[1] for m in entry["status"]["messages"] if m[0] == "execution_error"]
    assert error["exception_message"].strip() == "Connect one source of person boxes, not bounding_box and mask."


def test_segs_from_the_impact_pack_itself(comfy, masked_picture):
    """With the Impact Pack installed, its own SEGS reach the Estimator (skipped when it is absent)."""
    info = comfy.get("/object_info")
    if "ImpactMakeTileSEGS" not in info:
        pytest.skip("the Impact Pack is not installed in this ComfyUI")
    tile = {"class_type": "ImpactMakeTileSEGS", "inputs": {
        "images": ["1", 0], "bbox_size": 64, "crop_factor": 1.0, "min_overlap": 0, "filter_segs_dilation": 0,
        "mask_irregularity": 0.0, "irregular_mask_mode": "Reuse fast"}}
    got = poses(comfy, {"4": tile}, "sources/impact", segs=["4", 0], segs_labels="all")
    assert got[0]["people"]


def test_retarget_poses_its_reference_in_the_boxes_of_any_detector_node(comfy, masked_picture):
    """Retarget Pose's reference_image takes person boxes too: a MASK gives the retargeted clip that the same box
    as BOUNDING_BOX gives (the reference is the mask's one region)."""
    x, y, w, h = REGIONS[0]
    results = {}
    for source in ("mask", "flat_mask", "bounding_box"):  # flat: a [height, width] MASK, as some packs give
        prompt = {"1": {"class_type": "LoadImage", "inputs": {"image": "people_mask.png", "upload": "image"}},
                  "2": loader(BODY), "4": boxes_node([{"x": x, "y": y, "width": w, "height": h}]),
                  "7": {"class_type": "SDPoseTest.FlatMask", "inputs": {"mask": ["1", 1]}}}
        prompt["5"] = estimator(["1", 0], ["2", 0], resolution=64, flip_test=False, score_threshold=0.0,
                                          bounding_box=["4", 0])
        link = {"mask": ["1", 1], "flat_mask": ["7", 0], "bounding_box": ["4", 0]}[source]
        prompt["6"] = {"class_type": "SDPoseNodes.RetargetPose", "inputs": {
            "driving_pose": ["5", 1], "anchor": "neck", "reference_person": 0, "fill_gaps": 0,
            "zero_lag_smoothing": False, "frame_rate": 30.0, "resolution": 64, "stick_width": 4, "point_size": 4,
            "face_point_size": 3, "draw_head": True, "draw_feet": False, "scale_strokes": False,
            "reference_image": ["1", 0], "sdpose_model": ["2", 0], "bbox_detector": "None",
            "score_threshold": 0.0, source.replace("flat_", ""): link,
            "min_mask_area": 2000}}  # the first region only (3200 px)
        prompt["8"] = save_keypoints(["6", 0], f"sources/retarget_{source}")
        entry = comfy.run_ok(prompt)
        [path] = comfy.output_files(entry, "8", "pose_keypoint_files")
        results[source] = json.loads(path.read_text())
    assert results["mask"] == results["flat_mask"] == results["bounding_box"] and results["mask"][0]["people"]
