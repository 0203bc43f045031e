"""The V3 nodes accept what the V1 nodes accepted: old saved values, and refuse unknown choices before running."""

from __future__ import annotations

import numpy as np
from PIL import Image

from comfy_helpers import BODY, estimator, loader

LOAD = {"class_type": "LoadImage", "inputs": {"image": "person.png", "upload": "image"}}


def draw(xinsr) -> dict:
    return {"class_type": "SDPoseNodes.DrawPose", "inputs": {
        "pose_keypoint": ["3", 1], "draw_body": True, "draw_hands": True, "draw_face": True, "draw_feet": False,
        "resolution": 512, "scale_stick_for_xinsr_cn": xinsr}}


def test_draw_pose_takes_the_old_boolean_for_the_xinsr_choice(comfy):
    """API prompts saved before 0.2.0 carry true/false: they run, and draw as 'enable'/'disable' do."""
    values = {"10": True, "11": "enable", "12": False, "13": "disable"}
    big = {"class_type": "ImageScale", "inputs": {"image": ["1", 0], "upscale_method": "nearest-exact",
                                                   "width": 600, "height": 800, "crop": "disabled"}}
    prompt = {"1": LOAD, "2": loader(BODY), "9": big, "3": estimator(["9", 0], ["2", 0], resolution=128)}
    for node_id, value in values.items():
        prompt[node_id] = draw(value)
        prompt["2" + node_id] = {"class_type": "SaveImage", "inputs": {"images": [node_id, 0],
                                                                        "filename_prefix": f"legacy/{node_id}"}}
    entry = comfy.run_ok(prompt)
    drawn = {k: np.asarray(Image.open(comfy.output_files(entry, "2" + k)[0])) for k in values}
    assert np.array_equal(drawn["10"], drawn["11"]) and np.array_equal(drawn["12"], drawn["13"])
    assert not np.array_equal(drawn["10"], drawn["12"])  # thicker limbs on a canvas of 500 px or more


def test_unknown_choices_are_refused_before_running(comfy):
    prompt = {"1": LOAD, "2": loader(BODY), "3": estimator(["1", 0], ["2", 0], crop_mode="sideways"),
              "4": draw("maybe"),
              "5": {"class_type": "SaveImage", "inputs": {"images": ["4", 0], "filename_prefix": "refused/pose"}}}
    status, body = comfy.submit(prompt)
    assert status == 400 and set(body["node_errors"]) == {"3", "4"}, body
    [error] = body["node_errors"]["3"]["errors"]  # once, on the input that holds it (ComfyUI's own check)
    assert error["extra_info"]["input_name"] == "crop_mode", error
    assert error["details"] == "crop_mode: 'sideways' not in ['topdown', 'stretch']", error
    assert "scale_stick_for_xinsr_cn: 'maybe'" in str(body["node_errors"]["4"])
    assert comfy.alive()
