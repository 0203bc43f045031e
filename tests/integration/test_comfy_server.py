"""The node pack inside a real ComfyUI server, driven only through its HTTP API (POST /prompt, /history, /ws)."""

from __future__ import annotations

import json
import re
import time

import numpy as np
import pytest
from PIL import Image

from comfy_helpers import BODY, WHOLEBODY, choices, estimator, loader

OUR_NODES = {
    "SDPoseNodes.ModelLoader": "SDPose Model Loader",
    "SDPoseNodes.Estimator": "SDPose Estimator",
    "SDPoseNodes.VideoOptions": "SDPose Video Options",
    "SDPoseNodes.DrawPose": "SDPose Draw Pose",
    "SDPoseNodes.SavePoseKeypoints": "SDPose Save Pose Keypoints",
    "SDPoseNodes.LoadPoseKeypoints": "SDPose Load Pose Keypoints",
    "SDPoseNodes.AnnotateVideoFile": "SDPose Annotate Video File",
    "SDPoseNodes.RetargetPose": "SDPose Retarget Pose",
    "SDPoseNodes.FaceCrops": "SDPose Face Crops",
    "SDPoseNodes.SelectPeople": "SDPose Select People",
}
# Node IDs of ComfyUI core (newer than 0.3.75 too) and of the pose packs people use: ours must differ from all.
KNOWN_IDS = {
    "SDPoseKeypointExtractor", "SDPoseDrawKeypoints", "SDPoseFaceBBoxes", "SDPoseCropToBBox", "SDPoseOODLoader",
    "SDPoseOODProcessor", "YOLOModelLoader", "GroundingDinoModelLoader_SDPose", "DWPreprocessor",
    "OpenposePreprocessor", "AnimalPosePreprocessor", "SavePoseKpsAsJsonFile", "LoadPoseKps", "RTDETR_detect",
    "DrawBBoxes", "PoseAndFaceDetection", "DrawViTPose", "OnnxDetectionModelLoader",
}
LOAD = {"class_type": "LoadImage", "inputs": {"image": "person.png", "upload": "image"}}
W, H = 96, 128  # input/person.png


def save_image(link, prefix: str) -> dict:
    return {"class_type": "SaveImage", "inputs": {"images": link, "filename_prefix": prefix}}


def save_keypoints(link, prefix: str, layout: str = "one file per frame") -> dict:
    return {"class_type": "SDPoseNodes.SavePoseKeypoints",
            "inputs": {"pose_keypoint": link, "filename_prefix": prefix, "layout": layout}}


def repeat(link, amount: int) -> dict:
    return {"class_type": "RepeatImageBatch", "inputs": {"image": link, "amount": amount}}


def read_json(path):
    return json.loads(path.read_text())


def check_dwpose_frame(frame: dict, width: int, height: int, wholebody: bool) -> None:
    """The shape of one DWPose POSE_KEYPOINT frame (comfyui_controlnet_aux's encode_poses_as_dict)."""
    assert set(frame) == {"people", "canvas_width", "canvas_height"}
    assert (frame["canvas_width"], frame["canvas_height"]) == (width, height)
    for person in frame["people"]:
        assert set(person) == {"pose_keypoints_2d", "face_keypoints_2d", "hand_left_keypoints_2d",
                               "hand_right_keypoints_2d"}
        assert len(person["pose_keypoints_2d"]) == 18 * 3
        for key, count in (("face_keypoints_2d", 70), ("hand_left_keypoints_2d", 21), ("hand_right_keypoints_2d", 21)):
            if not wholebody:
                assert person[key] is None
            elif person[key] is not None:
                assert len(person[key]) == count * 3
        for key in person:
            values = person[key] or []
            assert all(c in (0.0, 1.0) for c in values[2::3])
            assert all(isinstance(v, float) for v in values)


# ---------------------------------------------------------------------------------------------------- start-up


def test_pack_loads_and_registers_its_nodes(comfy):
    """No model loading and no model library at start-up is checked by what is imported, not by time:
    test_pack_import counts the model libraries the pack adds as ComfyUI loads it (none), and
    test_comfy_missing_dependency starts a server with diffusers and onnxruntime unimportable (the pack loads).
    The import time ComfyUI logs is printed as a figure only."""
    log = comfy.log.read_text(errors="replace")
    assert "SDPose nodes could not be loaded" not in log
    timing = re.search(r"^\s*([\d.]+) seconds(?: \(IMPORT FAILED\))?: .*sdpose-nodes\s*$", log, re.M)
    assert timing and "IMPORT FAILED" not in timing.group(0), log[-3000:]
    info = comfy.get("/object_info")
    for node_id, display in OUR_NODES.items():
        assert info[node_id]["display_name"] == display
        assert node_id not in KNOWN_IDS
    assert not [n for n in info if n.startswith("SDPose") and n not in OUR_NODES and not n.startswith("SDPoseTest.")]
    print(f"\nComfyUI answered {comfy.start_seconds:.1f} s after start; pack import {timing.group(1)} s")


def test_estimator_has_dwpreprocessor_inputs_and_outputs(comfy):
    node = comfy.get("/object_info/SDPoseNodes.Estimator")["SDPoseNodes.Estimator"]
    assert node["output"] == ["IMAGE", "POSE_KEYPOINT"] and node["output_name"] == ["IMAGE", "POSE_KEYPOINT"]
    assert node["input"]["required"]["image"][0] == "IMAGE"
    assert node["input_order"]["optional"][:7] == ["detect_hand", "detect_body", "detect_face", "resolution",
                                                   "bbox_detector", "scale_stick_for_xinsr_cn", "flip_test"]
    optional = node["input"]["optional"]
    for toggle in ("detect_hand", "detect_body", "detect_face"):
        assert choices(optional[toggle]) == ["enable", "disable"] and optional[toggle][1]["default"] == "enable"
    resolution = optional["resolution"]
    assert resolution[0] == "INT" and {k: resolution[1][k] for k in ("default", "min", "max", "step")} == {
        "default": 512, "min": 64, "max": 16384, "step": 64}
    assert choices(optional["bbox_detector"])[:2] == ["None", "yolox_l.onnx"]
    assert optional["bbox_detector"][1]["default"] == "None"  # nothing installed: no download on a first run
    assert choices(optional["scale_stick_for_xinsr_cn"]) == ["disable", "enable"]
    assert optional["bounding_box"][0] == "BOUNDING_BOX"


def test_the_xinsr_option_is_the_same_choice_on_every_node(comfy):
    info = comfy.get("/object_info")
    for node_id in ("SDPoseNodes.Estimator", "SDPoseNodes.DrawPose", "SDPoseNodes.AnnotateVideoFile"):
        inputs = {**info[node_id]["input"]["required"], **info[node_id]["input"].get("optional", {})}
        spec = inputs["scale_stick_for_xinsr_cn"]
        assert (choices(spec), spec[1]["default"]) == (["disable", "enable"], "disable"), node_id


def test_model_list(comfy):
    names = choices(comfy.get("/object_info/SDPoseNodes.ModelLoader")["SDPoseNodes.ModelLoader"]["input"][
        "required"]["model_name"])
    assert names[:3] == [BODY, WHOLEBODY, "broken.safetensors"]  # folders as one entry, never their inner files
    assert "sdpose_wholebody_tiny_fp16.safetensors [checkpoints]" in names
    assert names[-2:] == ["teemosliang/SDPose-Wholebody [hub]", "teemosliang/SDPose-Body [hub]"]
    assert not [n for n in names if "/unet/" in n or n.startswith(".")]


# ---------------------------------------------------------------------------------------------------- running


def test_image_to_estimator_to_save_image(comfy):
    prompt = {"1": LOAD, "2": loader(), "3": estimator(["1", 0], ["2", 0], resolution=128),
              "4": save_image(["3", 0], "single/pose"), "5": save_keypoints(["3", 1], "single/pose")}
    entry = comfy.run_ok(prompt)
    [png] = comfy.output_files(entry, "4")
    assert Image.open(png).size == (128, round(H * 128 / W))  # DWPose: short side = resolution
    [saved] = comfy.output_files(entry, "5", "pose_keypoint_files")
    frames = read_json(saved)
    assert isinstance(frames, dict)  # one file per frame holds the frame itself, as DWPose's JSON
    check_dwpose_frame(frames, W, H, wholebody=True)
    assert len(frames["people"]) == 1  # bbox_detector None: the whole image is one person
    assert json.loads(entry["outputs"]["3"]["openpose_json"][0]) == [frames]  # DWPose's UI output, same data
    drawn = np.asarray(Image.open(png))
    assert drawn.max() > 0  # something was drawn
    log = comfy.log.read_text(errors="replace")
    assert f"SDPose: loaded '{WHOLEBODY}' (wholebody, 133 keypoints, float32), runs on cpu" in log  # auto: fp32 on CPU
    assert "Requested to load SDPoseComfyModule" in log  # through ComfyUI's model management (ModelPatcher)


def test_batch_of_frames(comfy):
    prompt = {"1": LOAD, "2": loader(BODY), "3": repeat(["1", 0], 5),
              "4": estimator(["3", 0], ["2", 0], batch_size=3, resolution=64, flip_test=False),
              "5": save_image(["4", 0], "batch/pose"), "6": save_keypoints(["4", 1], "batch/pose"),
              "7": save_keypoints(["4", 1], "batch/all", "one file (all frames)")}
    entry = comfy.run_ok(prompt)
    assert len(comfy.output_files(entry, "5")) == 5
    per_frame = [read_json(p) for p in comfy.output_files(entry, "6", "pose_keypoint_files")]
    [together] = [read_json(p) for p in comfy.output_files(entry, "7", "pose_keypoint_files")]
    assert per_frame == together and len(together) == 5
    for frame in together:
        check_dwpose_frame(frame, W, H, wholebody=False)
        assert frame == together[0]  # the same picture five times: the same pose five times


def test_bounding_box_input(comfy):
    boxes = [
        [{"x": 10, "y": 20, "width": 40, "height": 80, "label": "person", "score": 0.9},
         {"x": 50, "y": 10, "width": 30, "height": 60, "label": "person", "score": 0.8},
         {"x": 0, "y": 0, "width": 20, "height": 20, "label": "car", "score": 0.99}],
        [],
    ]
    prompt = {"1": LOAD, "2": loader(BODY), "3": repeat(["1", 0], 2),
              "4": {"class_type": "SDPoseTest.Boxes", "inputs": {"boxes_json": json.dumps(boxes)}},
              "5": estimator(["3", 0], ["2", 0], bounding_box=["4", 0], bbox_detector="yolox_l.onnx"),
              "6": save_keypoints(["5", 1], "boxes/pose", "one file (all frames)")}
    entry = comfy.run_ok(prompt)
    [path] = comfy.output_files(entry, "6", "pose_keypoint_files")
    first, second = read_json(path)
    assert len(first["people"]) == 2 and second["people"] == []  # the car is no person; frame 1 has nobody
    # Keypoints come from each person's crop (box x 1.25, widened to 3:4): (x range, y range). Random weights give
    # noisy heatmaps whose DARK refinement may step a little past the crop border, so: most points, with margin.
    crops = [((-7.5, 67.5), (10.0, 110.0)), ((36.875, 93.125), (2.5, 77.5))]
    for person, ((x0, x1), (y0, y1)) in zip(first["people"], crops):
        points = np.array(person["pose_keypoints_2d"]).reshape(-1, 3)
        kept = points[points[:, 2] > 0]
        inside = (kept[:, 0] >= x0 - 2) & (kept[:, 0] <= x1 + 2) & (kept[:, 1] >= y0 - 2) & (kept[:, 1] <= y1 + 2)
        assert len(kept) and inside.mean() >= 0.8, kept
        assert x0 <= np.median(kept[:, 0]) <= x1 and y0 <= np.median(kept[:, 1]) <= y1


def test_person_detector_from_models_folder(comfy, yolox):
    prompt = {"1": LOAD, "2": loader(BODY), "3": estimator(["1", 0], ["2", 0], bbox_detector="yolox_l.onnx"),
              "4": save_keypoints(["3", 1], "detector/pose")}
    entry = comfy.run_ok(prompt)
    [path] = comfy.output_files(entry, "4", "pose_keypoint_files")
    assert len(read_json(path)["people"]) == len(yolox)


def test_comfyui_single_file_from_checkpoints(comfy):
    prompt = {"1": LOAD, "2": loader("sdpose_wholebody_tiny_fp16.safetensors [checkpoints]", "fp32"),
              "3": estimator(["1", 0], ["2", 0], flip_test=False), "4": save_keypoints(["3", 1], "single_file/pose")}
    entry = comfy.run_ok(prompt)
    [path] = comfy.output_files(entry, "4", "pose_keypoint_files")
    check_dwpose_frame(read_json(path), W, H, wholebody=True)


def test_dwpreprocessor_prompt_works_after_swapping_the_node(comfy):
    """An API prompt written for DWPose Estimator, with only class_type changed and the model connected."""
    dwpose = {"class_type": "DWPreprocessor", "inputs": {
        "image": ["1", 0], "detect_hand": "enable", "detect_body": "enable", "detect_face": "disable",
        "resolution": 64, "bbox_detector": "None", "pose_estimator": "dw-ll_ucoco_384_bs5.torchscript.pt",
        "scale_stick_for_xinsr_cn": "enable"}}
    swapped = {"class_type": "SDPoseNodes.Estimator", "inputs": {**dwpose["inputs"], "sdpose_model": ["2", 0]}}
    prompt = {"1": LOAD, "2": loader(), "3": swapped, "4": save_image(["3", 0], "swap/pose"),
              "5": save_keypoints(["3", 1], "swap/pose")}
    entry = comfy.run_ok(prompt)
    [png] = comfy.output_files(entry, "4")
    assert Image.open(png).size == (64, round(H * 64 / W))
    [path] = comfy.output_files(entry, "5", "pose_keypoint_files")
    check_dwpose_frame(read_json(path), W, H, wholebody=True)


def video_options(frame_rate, **options) -> dict:
    inputs = {"frame_rate": frame_rate, "tracking": True, "smoothing": False, "smooth_min_cutoff": 1.0,
              "smooth_beta": 10.0, "detect_every": 1}
    inputs.update(options)
    return {"class_type": "SDPoseNodes.VideoOptions", "inputs": inputs}


def test_video_options_make_the_image_batch_a_tracked_and_smoothed_clip(comfy, yolox):
    """input/dance.mp4 (6 frames, 8 fps) with the two-person detector: frames alone, tracked, smoothed, and with
    detection every 3 frames. Tracking only orders and labels (keypoints bit for bit the same); smoothing moves them."""
    prompt = {"1": {"class_type": "LoadVideo", "inputs": {"file": "dance.mp4"}},
              "2": {"class_type": "GetVideoComponents", "inputs": {"video": ["1", 0]}},
              "3": loader(BODY)}
    runs = {"alone": None, "tracked": video_options(["2", 2]),
            "smoothed": video_options(["2", 2], smoothing=True, smooth_min_cutoff=0.5, smooth_beta=0.0),
            "every3": video_options(8.0, detect_every=3)}
    for i, (name, options) in enumerate(runs.items()):
        est = estimator(["2", 0], ["3", 0], bbox_detector="yolox_l.onnx", flip_test=False, resolution=64)
        if options is not None:
            prompt[f"{10 + i}"] = options
            est["inputs"]["video_options"] = [f"{10 + i}", 0]
        prompt[f"{20 + i}"] = est
        prompt[f"{30 + i}"] = save_keypoints([f"{20 + i}", 1], f"clip/{name}", "one file (all frames)")
    entry = comfy.run_ok(prompt, timeout=180)
    got = {name: read_json(comfy.output_files(entry, f"{30 + i}", "pose_keypoint_files")[0])
           for i, name in enumerate(runs)}
    assert all(len(frames) == 6 for frames in got.values())
    for frame in got["alone"]:
        check_dwpose_frame(frame, 64, 96, wholebody=False)
        assert len(frame["people"]) == len(yolox)
    for name in ("tracked", "smoothed", "every3"):
        for frame in got[name]:
            ids = [p.pop("person_id") for p in frame["people"]]
            if name != "every3":  # between detections, boxes follow the (random-weight, erratic) keypoints
                assert ids == [[0], [1]], name  # stable, numbered left to right
            assert ids == sorted(ids) and len({i for (i,) in ids}) == len(ids)  # people listed by id
            check_dwpose_frame(frame, 64, 96, wholebody=False)
    assert [len(got["every3"][t]["people"]) for t in (0, 3)] == [2, 2]  # detection frames
    body = lambda frames: [sorted(p["pose_keypoints_2d"] for p in f["people"]) for f in frames]  # noqa: E731
    assert body(got["tracked"]) == body(got["alone"])
    assert body(got["smoothed"])[0] == body(got["tracked"])[0]  # nothing to smooth with yet
    assert body(got["smoothed"])[1:] != body(got["tracked"])[1:]
    assert body(got["every3"])[0] == body(got["tracked"])[0]  # a detection frame


def test_video_options_refuse_a_zero_frame_rate(comfy):
    prompt = {"1": LOAD, "2": loader(BODY), "3": video_options(0.0),
              "4": estimator(["1", 0], ["2", 0], video_options=["3", 0]), "5": save_image(["4", 0], "bad/pose")}
    status, body = comfy.submit(prompt)
    assert status == 400 and "3" in body["node_errors"], body  # below the input's minimum: refused up front
    assert comfy.alive()


def test_draw_pose_matches_the_estimator_and_keypoints_round_trip(comfy):
    first = {"1": LOAD, "2": loader(), "3": repeat(["1", 0], 2),
             "4": estimator(["3", 0], ["2", 0], resolution=128, detect_face="disable"),
             "5": save_image(["4", 0], "roundtrip/estimator"), "6": save_keypoints(["4", 1], "roundtrip/pose")}
    entry = comfy.run_ok(first)
    estimated = [np.asarray(Image.open(p)) for p in comfy.output_files(entry, "5")]
    saved = comfy.output_files(entry, "6", "pose_keypoint_files")
    name = f"roundtrip/{saved[0].name} [output]"
    files = choices(comfy.get("/object_info/SDPoseNodes.LoadPoseKeypoints")["SDPoseNodes.LoadPoseKeypoints"][
        "input"]["required"]["file"])
    assert name in files
    second = {
        "1": {"class_type": "SDPoseNodes.LoadPoseKeypoints", "inputs": {"file": name, "sequence": True}},
        "2": {"class_type": "SDPoseNodes.DrawPose", "inputs": {
            "pose_keypoint": ["1", 0], "draw_body": True, "draw_hands": True, "draw_face": False,
            "draw_feet": False, "resolution": 128, "scale_stick_for_xinsr_cn": False}},
        "3": save_image(["2", 0], "roundtrip/drawn"),
        "4": LOAD,
        "5": {"class_type": "SDPoseNodes.DrawPose", "inputs": {
            "pose_keypoint": ["1", 0], "draw_body": True, "draw_hands": True, "draw_face": True,
            "draw_feet": False, "resolution": 0, "scale_stick_for_xinsr_cn": False, "image": ["4", 0],
            "overlay_opacity": 0.5}},
        "6": save_image(["5", 0], "roundtrip/overlay"),
    }
    entry = comfy.run_ok(second)
    drawn = [np.asarray(Image.open(p)) for p in comfy.output_files(entry, "3")]
    assert len(drawn) == 2  # sequence: both numbered files of the series
    for a, b in zip(estimated, drawn):
        assert np.array_equal(a, b)  # the draw node draws exactly what the estimator drew
    overlays = comfy.output_files(entry, "6")
    assert len(overlays) == 2 and Image.open(overlays[0]).size == (W, H)  # resolution 0: the canvas size



def test_estimator_keeps_max_people_and_draws_with_the_drawing_controls(comfy):
    """max_people keeps the largest person in POSE_KEYPOINT and the drawing; the drawing controls change the
    strokes, and Draw Pose with the same controls draws exactly what the Estimator drew."""
    boxes = [[{"x": 2, "y": 2, "width": 60, "height": 92, "label": "person"},
              {"x": 45, "y": 4, "width": 14, "height": 20, "label": "person"}]]
    base = {"1": LOAD, "2": loader(BODY), "4": {"class_type": "SDPoseTest.Boxes",
                                                 "inputs": {"boxes_json": json.dumps(boxes)}}}
    fast = dict(bounding_box=["4", 0], resolution=128, flip_test=False, score_threshold=0.0)
    style = {"stick_width": 9, "point_size": 7, "draw_head": False}
    prompt = {**base, "3": estimator(["1", 0], ["2", 0], **fast),
              "5": estimator(["1", 0], ["2", 0], max_people=1, people_order="largest", **fast, **style),
              "6": save_keypoints(["3", 1], "people/every"), "7": save_keypoints(["5", 1], "people/one"),
              "8": save_image(["3", 0], "people/every"), "9": save_image(["5", 0], "people/one"),
              "10": {"class_type": "SDPoseNodes.DrawPose", "inputs": {
                  "pose_keypoint": ["5", 1], "draw_body": True, "draw_hands": True, "draw_face": True,
                  "draw_feet": False, "resolution": 128, "scale_stick_for_xinsr_cn": "disable", **style}},
              "11": save_image(["10", 0], "people/drawn")}
    entry = comfy.run_ok(prompt)
    [every] = [read_json(p) for p in comfy.output_files(entry, "6", "pose_keypoint_files")]
    [one] = [read_json(p) for p in comfy.output_files(entry, "7", "pose_keypoint_files")]

    def span(person: dict) -> float:
        xy = np.array(person["pose_keypoints_2d"]).reshape(-1, 3)[:, :2]
        return float(np.prod(xy.max(axis=0) - xy.min(axis=0)))

    assert len(every["people"]) == 2 and one["people"] == [max(every["people"], key=span)]
    styled = np.asarray(Image.open(comfy.output_files(entry, "9")[0]))
    assert not np.array_equal(styled, np.asarray(Image.open(comfy.output_files(entry, "8")[0])))
    assert np.array_equal(styled, np.asarray(Image.open(comfy.output_files(entry, "11")[0])))
    status, body = comfy.submit({**base, "3": estimator(["1", 0], ["2", 0], people_order="tallest", **fast)})
    [error] = body["node_errors"]["3"]["errors"]  # once, on the input that holds it
    assert status == 400 and error["extra_info"]["input_name"] == "people_order", body
    assert error["details"].startswith("people_order: 'tallest' not in"), error


# ---------------------------------------------------------------------------------------------------- failures


def test_missing_model_is_refused_and_the_server_keeps_serving(comfy):
    status, body = comfy.submit({"1": LOAD, "2": loader("no-such-model"), "3": estimator(["1", 0], ["2", 0]),
                                 "4": save_image(["3", 0], "missing/pose")})
    assert status == 400
    assert "2" in body["node_errors"]
    assert body["node_errors"]["2"]["class_type"] == "SDPoseNodes.ModelLoader"
    assert comfy.alive()
    comfy.run_ok({"1": LOAD, "2": loader(BODY), "3": estimator(["1", 0], ["2", 0], resolution=64),
                  "4": save_image(["3", 0], "after_missing/pose")})


def test_corrupt_model_is_a_node_error_and_the_server_keeps_serving(comfy):
    entry = comfy.run({"1": LOAD, "2": loader("broken.safetensors"), "3": estimator(["1", 0], ["2", 0]),
                       "4": save_image(["3", 0], "broken/pose")})
    assert entry["status"]["status_str"] == "error"
    [error] = [m[1] for m in entry["status"]["messages"] if m[0] == "execution_error"]
    assert error["node_id"] == "2" and error["node_type"] == "SDPoseNodes.ModelLoader"
    assert error["exception_type"].endswith("CheckpointError")
    assert "broken.safetensors" in error["exception_message"] and "corrupt" in error["exception_message"]
    assert comfy.alive()
    comfy.run_ok({"1": LOAD, "2": loader(BODY), "3": estimator(["1", 0], ["2", 0], resolution=64),
                  "4": save_image(["3", 0], "after_broken/pose")})


@pytest.mark.parametrize("prefix", ["../escape/pose", "/tmp/sdpose-escape/pose", "a/../../escape"])
def test_save_keypoints_stays_inside_the_output_folder(comfy, prefix):
    entry = comfy.run({"1": LOAD, "2": loader(BODY), "3": estimator(["1", 0], ["2", 0], resolution=64),
                       "4": save_keypoints(["3", 1], prefix)})
    assert entry["status"]["status_str"] == "error"
    [error] = [m[1] for m in entry["status"]["messages"] if m[0] == "execution_error"]
    assert error["node_type"] == "SDPoseNodes.SavePoseKeypoints" and "output folder" in error["exception_message"]
    assert not (comfy.base / "escape").exists() and not list(comfy.base.parent.glob("escape*"))


def test_save_keypoints_never_overwrites(comfy):
    folder = comfy.base / "output" / "keep"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pose_00001_.json").write_text("precious")
    entry = comfy.run_ok({"1": LOAD, "2": loader(BODY), "3": estimator(["1", 0], ["2", 0], resolution=64),
                          "4": save_keypoints(["3", 1], "keep/pose")})
    [path] = comfy.output_files(entry, "4", "pose_keypoint_files")
    assert path.name == "pose_00002_.json" and (folder / "pose_00001_.json").read_text() == "precious"


def test_load_keypoints_refuses_paths_outside_input_and_output(comfy):
    secret = comfy.base / "secret.json"
    secret.write_text("{}")
    for name in ("../secret.json", str(secret), "../secret.json [output]"):
        status, body = comfy.submit({"1": {"class_type": "SDPoseNodes.LoadPoseKeypoints",
                                           "inputs": {"file": name, "sequence": False}},
                                     "2": {"class_type": "SDPoseNodes.DrawPose", "inputs": {
                                         "pose_keypoint": ["1", 0], "draw_body": True, "draw_hands": True,
                                         "draw_face": True, "draw_feet": False, "resolution": 64,
                                         "scale_stick_for_xinsr_cn": False}},
                                     "3": save_image(["2", 0], "secret/pose")})
        assert status == 400 and "1" in body["node_errors"], (name, body)


def test_cancel_mid_run(comfy):
    """/interrupt during a long batch stops the estimator between model calls; the server keeps serving."""
    frames = 48
    prompt = {"1": LOAD, "2": loader(BODY), "3": repeat(["1", 0], frames),
              "4": estimator(["3", 0], ["2", 0], batch_size=1, resolution=64),
              "5": save_image(["4", 0], "cancel/pose")}

    started = time.monotonic()
    prompt_id, interrupted_at, last, events = comfy.run_and_interrupt(prompt, node="4", at=2)
    print(f"\ninterrupted at {interrupted_at}, {time.monotonic() - started:.1f} s after submitting")
    assert interrupted_at is not None and interrupted_at[1] == frames
    assert last["type"] == "execution_interrupted" and last["data"]["node_id"] == "4"
    progress = [e["data"]["value"] for e in events if e["type"] == "progress" and e["data"].get("node") == "4"]
    assert max(progress) < frames  # stopped mid-run, not at the end
    entry = comfy.wait(prompt_id)
    assert entry["status"]["status_str"] == "error"
    assert "5" not in entry["outputs"]  # nothing after the estimator ran
    assert comfy.alive()
    comfy.run_ok({"1": LOAD, "2": loader(BODY), "3": estimator(["1", 0], ["2", 0], resolution=64),
                  "4": save_image(["3", 0], "after_cancel/pose")})
