"""Hostile and first-use inputs against the real ComfyUI server: every one is a clear 4xx from the routes or a clear
node error (InputError / DownloadError naming the problem), never a 500, a raw Python error or a stall, and nothing is
written on failure. Also: body-only models say that hands and face do nothing, and installed detectors list first."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request

import pytest

from comfy_helpers import BODY, WHOLEBODY, choices, estimator, loader

LOAD = {"class_type": "LoadImage", "inputs": {"image": "person.png", "upload": "image"}}
FRAME = {"people": [{"pose_keypoints_2d": [10.0, 20.0, 1.0] * 18}], "canvas_width": 64, "canvas_height": 96}
DEEP = "[" * 100_000
CJK = "\u59ff" * 110
HOSTILE_NAMES = ["po\x00se", "a\nb", "bidi\u202egnp", "iso\u2066late", "zero\u200bwidth", CJK]


def raw(comfy, method: str, path: str, data: bytes | None = None) -> tuple[int, dict]:
    """One HTTP request with a raw body; (status, parsed JSON answer)."""
    req = urllib.request.Request(comfy.url + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def pose_source(value, parse: bool = True) -> dict:
    """SDPoseTest.Pose: any value as POSE_KEYPOINT (what another pack could send)."""
    text = value if isinstance(value, str) else json.dumps(value)
    return {"class_type": "SDPoseTest.Pose", "inputs": {"pose_json": text, "parse": parse}}


def draw(link, resolution: int = 64) -> dict:
    return {"class_type": "SDPoseNodes.DrawPose", "inputs": {
        "pose_keypoint": link, "draw_body": True, "draw_hands": True, "draw_face": True, "draw_feet": False,
        "resolution": resolution, "scale_stick_for_xinsr_cn": False}}


def save(link, prefix: str, layout: str = "one file per frame") -> dict:
    return {"class_type": "SDPoseNodes.SavePoseKeypoints",
            "inputs": {"pose_keypoint": link, "filename_prefix": prefix, "layout": layout}}


def node_error(comfy, prompt: dict) -> dict:
    """Run ``prompt``, expect it to fail in a node with one of the pack's errors; the execution_error message."""
    entry = comfy.run(prompt)
    assert entry["status"]["status_str"] == "error", entry["status"]
    [error] = [m[1] for m in entry["status"]["messages"] if m[0] == "execution_error"]
    assert error["exception_type"].rsplit(".", 1)[-1] in ("InputError", "DownloadError", "CheckpointError"), error
    assert comfy.alive()
    return error


def output_files(comfy) -> set:
    return {p.relative_to(comfy.base) for p in (comfy.base / "output").rglob("*") if p.is_file()}


def test_routes_answer_hostile_requests_with_a_clear_4xx(comfy):
    status, body = raw(comfy, "GET", "/sdpose/keypoints?file=po%00se.json")
    assert status == 400 and "not allowed" in body["error"]
    status, body = raw(comfy, "POST", "/api/sdpose/keypoints", DEEP.encode())
    assert status == 400 and "nested too deeply" in body["error"]
    (comfy.base / "input" / "hostile").mkdir(exist_ok=True)
    (comfy.base / "input" / "hostile" / "deep.json").write_text(DEEP)
    status, body = raw(comfy, "GET", "/sdpose/keypoints?file=hostile/deep.json")
    assert status == 400 and "nested too deeply" in body["error"]
    for side in (10 ** 9, 1e308):  # GET refuses the canvases POST refuses: one bound
        (comfy.base / "input" / "hostile" / "huge.json").write_text(json.dumps(dict(FRAME, canvas_width=side)))
        status, body = raw(comfy, "GET", "/sdpose/keypoints?file=hostile/huge.json")
        assert status == 400 and "larger than 16384" in body["error"], body
        status, body = comfy.request("POST", "/sdpose/keypoints", {"filename": "hostile/huge_saved.json",
                                                                    "pose_keypoint": dict(FRAME, canvas_width=side)})
        assert status == 400 and "larger than 16384" in body["error"], body
    for name in HOSTILE_NAMES:
        status, body = comfy.request("POST", "/sdpose/keypoints", {"filename": f"hostile/{name}.json",
                                                                    "pose_keypoint": FRAME})
        assert status == 400, (name, status, body)
        status, body = raw(comfy, "GET", "/sdpose/keypoints?" + urllib.parse.urlencode({"file": f"{name}.json"}))
        assert status == 400, (name, status, body)
    assert sorted(p.name for p in (comfy.base / "input" / "hostile").iterdir()) == ["deep.json", "huge.json"]
    assert comfy.alive()


@pytest.mark.parametrize("name", HOSTILE_NAMES + ["x" * 300])
def test_save_node_refuses_the_names_the_routes_refuse(comfy, name):
    before = output_files(comfy)
    error = node_error(comfy, {"1": pose_source([FRAME]), "2": save(["1", 0], f"hostile/{name}")})
    assert "filename_prefix" in error["exception_message"] and "output folder" in error["exception_message"]
    assert output_files(comfy) == before


@pytest.mark.parametrize("value, match", [
    (["not a frame", 5], "frame 0: expected an object"),
    ('[{"people": [{"pose_keypoints_2d": [NaN, 1, 1]}], "canvas_width": 64, "canvas_height": 96}]', "NaN"),
    ([FRAME, dict(FRAME, canvas_width=1e308)], "larger than 16384"),
])
@pytest.mark.parametrize("layout", ["one file per frame", "one file (all frames)"])
def test_save_node_validates_before_writing(comfy, value, match, layout):
    before = output_files(comfy)
    error = node_error(comfy, {"1": pose_source(value), "2": save(["1", 0], "hostile/bad", layout)})
    assert match in error["exception_message"], error["exception_message"]
    assert output_files(comfy) == before  # not even an empty file


def test_deep_json_and_absurd_canvases_reach_load_and_draw_as_node_errors(comfy):
    folder = comfy.base / "input" / "hostile_nodes"
    folder.mkdir(exist_ok=True)
    (folder / "deep.json").write_text(DEEP)
    (folder / "huge.json").write_text(json.dumps(dict(FRAME, canvas_width=1e9)))
    for file, match in (("hostile_nodes/deep.json", "nested too deeply"),
                        ("hostile_nodes/huge.json", "larger than 16384")):
        error = node_error(comfy, {"1": {"class_type": "SDPoseNodes.LoadPoseKeypoints",
                                         "inputs": {"file": file, "sequence": False}},
                                   "2": draw(["1", 0])})
        assert error["node_type"] == "SDPoseNodes.LoadPoseKeypoints" and match in error["exception_message"]
    error = node_error(comfy, {"1": pose_source(DEEP, parse=False), "2": draw(["1", 0])})
    assert error["node_type"] == "SDPoseNodes.DrawPose" and "nested too deeply" in error["exception_message"]


def test_draw_bounds_the_work_before_allocating(comfy):
    error = node_error(comfy, {"1": pose_source([FRAME]), "2": draw(["1", 0], resolution=16384)})
    assert "megapixels" in error["exception_message"] and "16384" in error["exception_message"]
    status, body = comfy.submit({"1": pose_source([FRAME]), "2": draw(["1", 0], resolution=10 ** 6),
                                 "3": {"class_type": "PreviewImage", "inputs": {"images": ["2", 0]}}})
    assert status == 400 and "2" in body["node_errors"]  # ComfyUI itself refuses above the widget's maximum
    error = node_error(comfy, {"1": LOAD, "2": loader(BODY), "3": estimator(["1", 0], ["2", 0], resolution=16384)})
    assert error["node_type"] == "SDPoseNodes.Estimator" and "megapixels" in error["exception_message"]


def test_retarget_bounds_the_drawn_batch_before_allocating(comfy):
    """70 frames drawn at 4096x4096 would be 4.7 GB of IMAGE: refused before any frame is drawn."""
    retarget = {"class_type": "SDPoseNodes.RetargetPose", "inputs": {
        "driving_pose": ["1", 0], "reference_pose": ["2", 0], "anchor": "neck", "reference_person": 0,
        "fill_gaps": 0, "zero_lag_smoothing": False, "frame_rate": 30.0, "resolution": 4096, "stick_width": 4,
        "point_size": 4, "face_point_size": 3, "draw_head": True, "draw_feet": False, "scale_strokes": False}}
    square = dict(FRAME, canvas_width=64, canvas_height=64)
    preview = {"class_type": "PreviewImage", "inputs": {"images": ["3", 1]}}
    error = node_error(comfy, {"1": pose_source([square] * 70), "2": pose_source([square]), "3": retarget,
                               "4": preview})
    assert error["node_type"] == "SDPoseNodes.RetargetPose" and "megapixels per run" in error["exception_message"]


def test_offline_hub_model_is_a_short_message_naming_url_and_folder(comfy):
    error = node_error(comfy, {"1": LOAD, "2": loader("teemosliang/SDPose-Body [hub]"),
                               "3": estimator(["1", 0], ["2", 0])})
    message = error["exception_message"]
    assert "HF_HUB_OFFLINE is set" in message and "https://huggingface.co/teemosliang/SDPose-Body" in message
    assert str(comfy.base / "models" / "sdpose" / "teemosliang--SDPose-Body") in message
    assert "hub id" not in message and len(message) < 500, message


def test_offline_detector_message_and_installed_detectors_first(comfy):
    """Without yolox_l.onnx installed: listed after None, and choosing it says where to get it and where it goes.
    Installed: listed first. (The session's fake yolox_l.onnx is moved away for the first half.)"""
    installed = comfy.base / "models" / "sdpose" / "yolox_l.onnx"
    parked = comfy.base / "yolox_l.onnx.parked"
    had = installed.exists()
    if had:
        installed.rename(parked)
    try:
        options = choices(comfy.get("/object_info/SDPoseNodes.Estimator")["SDPoseNodes.Estimator"]["input"][
            "optional"]["bbox_detector"])
        assert options[-2:] == ["None", "yolox_l.onnx"], options
        error = node_error(comfy, {"1": LOAD, "2": loader(BODY),
                                   "3": estimator(["1", 0], ["2", 0], bbox_detector="yolox_l.onnx")})
        message = error["exception_message"]
        assert message.startswith("'yolox_l.onnx' is not installed") and "HF_HUB_OFFLINE is set" in message
        assert "https://huggingface.co/yzd-v/DWPose/resolve/main/yolox_l.onnx" in message
        assert f"put it in '{comfy.base / 'models' / 'sdpose'}'" in message
    finally:
        if had:
            parked.rename(installed)
    if had:
        options = choices(comfy.get("/object_info/SDPoseNodes.Estimator")["SDPoseNodes.Estimator"]["input"][
            "optional"]["bbox_detector"])
        assert options[0] == "yolox_l.onnx" and options[-1] == "None", options


def test_body_only_model_warns_that_hands_and_face_do_nothing(comfy):
    fast = {"resolution": 64, "flip_test": False}
    entry = comfy.run_ok({"1": LOAD, "2": loader(BODY), "3": estimator(["1", 0], ["2", 0], **fast),
                          "4": loader(WHOLEBODY), "5": estimator(["1", 0], ["4", 0], **fast),
                          "6": estimator(["1", 0], ["2", 0], detect_hand="disable", detect_face="disable", **fast)})
    body, whole, quiet = entry["outputs"]["3"], entry["outputs"]["5"], entry["outputs"]["6"]
    assert body["sdpose_parts"] == ["body"] and len(body["sdpose_warnings"]) == 1
    assert "detect_hand and detect_face" in body["sdpose_warnings"][0] and "WholeBody" in body["sdpose_warnings"][0]
    assert whole["sdpose_parts"] == ["body", "hands", "face", "feet"] and "sdpose_warnings" not in whole
    assert quiet["sdpose_parts"] == ["body"] and "sdpose_warnings" not in quiet
    assert "SDPose Estimator: This is a body-only model" in comfy.log.read_text()


# ------------------------------------------------------------------------------------------------ issue 24
BIG = "1" + "0" * 400  # an integer no float holds
BODY18 = [100, 50, 1, 100, 80, 1, 80, 80, 1, 70, 110, 1, 65, 140, 1, 120, 80, 1, 130, 110, 1, 135, 140, 1, 90, 150, 1,
          90, 200, 1, 90, 250, 1, 110, 150, 1, 110, 200, 1, 110, 250, 1, 95, 45, 1, 105, 45, 1, 90, 48, 1, 110, 48, 1]
WALK = {"people": [{"pose_keypoints_2d": BODY18}], "canvas_width": 200, "canvas_height": 300}


def preview(link) -> dict:
    return {"class_type": "PreviewImage", "inputs": {"images": link}}


def image_of(node: dict, node_id: str) -> list:
    """The IMAGE output of a Draw Pose (0) or Retarget Pose (1) node."""
    return [node_id, 1 if node["class_type"] == "SDPoseNodes.RetargetPose" else 0]


def retarget_node(driving, reference, **extra) -> dict:
    return {"class_type": "SDPoseNodes.RetargetPose", "inputs": {
        "driving_pose": driving, "reference_pose": reference, "anchor": "neck", "reference_person": 0, "fill_gaps": 0,
        "zero_lag_smoothing": False, "frame_rate": 30.0, "resolution": 0, "stick_width": 4, "point_size": 4,
        "face_point_size": 3, "draw_head": True, "draw_feet": False, "scale_strokes": False, **extra}}


def test_integers_no_float_holds_are_one_line_from_routes_and_nodes(comfy):
    """'1' and 400 zeros as a keypoint or the canvas size: 400 from GET and POST /sdpose/keypoints (was 500), a node
    error from Load Pose Keypoints, Draw Pose and Retarget Pose (was OverflowError)."""
    folder = comfy.base / "input" / "hostile_big"
    folder.mkdir(exist_ok=True)
    texts = {"canvas": json.dumps(dict(FRAME, canvas_width="BIG")).replace('"BIG"', BIG),
             "point": json.dumps({**FRAME, "people": [{"pose_keypoints_2d": ["BIG"] + [1.0] * 53}]}).replace(
                 '"BIG"', BIG)}
    for name, text in texts.items():
        (folder / f"{name}.json").write_text(text)
        status, body = raw(comfy, "GET", f"/sdpose/keypoints?file=hostile_big/{name}.json")
        assert status == 400 and "too large" in body["error"], body
        status, body = raw(comfy, "POST", "/sdpose/keypoints",
                           ('{"filename": "hostile_big/saved.json", "pose_keypoint": ' + text + "}").encode())
        assert status == 400 and "too large" in body["error"], body
        error = node_error(comfy, {"1": {"class_type": "SDPoseNodes.LoadPoseKeypoints",
                                         "inputs": {"file": f"hostile_big/{name}.json", "sequence": False}},
                                   "2": draw(["1", 0])})
        assert error["node_type"] == "SDPoseNodes.LoadPoseKeypoints" and "too large" in error["exception_message"]
        for node in (draw(["1", 0]), retarget_node(["1", 0], ["1", 0])):  # a Python int from another pack
            message = node_error(comfy, {"1": pose_source(text), "2": node, "3": preview(image_of(node, "2"))})[
                "exception_message"]
            assert "too large" in message or "larger than 16384" in message, message
    assert sorted(p.name for p in folder.iterdir()) == ["canvas.json", "point.json"]


def test_stroke_sizes_are_bounded_on_every_drawing_node(comfy):
    """ComfyUI refuses stroke sizes above sdpose_core.choices.MAX_STROKE (64) before running: no OpenCV stall."""
    for node in (dict(draw(["1", 0]), inputs={**draw(["1", 0])["inputs"], "point_size": 10 ** 9}),
                 retarget_node(["1", 0], ["1", 0], stick_width=99999999999)):
        status, body = comfy.submit({"1": pose_source([WALK]), "2": node, "3": preview(image_of(node, "2"))})
        assert status == 400 and list(body["node_errors"]) == ["2"], body
        [problem] = body["node_errors"]["2"]["errors"]
        assert problem["type"] == "value_bigger_than_max" and problem["extra_info"]["input_name"] in (
            "point_size", "stick_width"), problem


def test_retarget_and_face_crops_check_memory_before_allocating(comfy):
    """The check Draw Pose and the Estimator make (pose.render.check_batch), with the same message: 17 frames on an
    8192x8192 reference (17 x 67 megapixels as an IMAGE), 65 face crops of 4096x4096."""
    reference = dict(WALK, canvas_width=8192, canvas_height=8192)
    error = node_error(comfy, {"1": pose_source([WALK] * 17), "2": pose_source(reference),
                               "3": retarget_node(["1", 0], ["2", 0]), "4": preview(["3", 1])})
    assert error["node_type"] == "SDPoseNodes.RetargetPose", error
    assert "megapixels per run" in error["exception_message"] and "GiB as a ComfyUI IMAGE" in error["exception_message"]
    error = node_error(comfy, {"1": LOAD, "2": pose_source([WALK] * 65), "3": {
        "class_type": "SDPoseNodes.FaceCrops", "inputs": {
            "pose_keypoint": ["2", 0], "image": ["1", 0], "person": 0, "by_track_id": False, "scale": 1.5,
            "square": True, "smooth": True, "frame_rate": 30.0, "width": 4096, "height": 4096}},
        "4": preview(["3", 0])})
    assert error["node_type"] == "SDPoseNodes.FaceCrops", error
    assert "megapixels per run" in error["exception_message"] and "GiB as a ComfyUI IMAGE" in error["exception_message"]
