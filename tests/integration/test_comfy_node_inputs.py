"""Every input of every SDPose node, checked on the real ComfyUI server: a tooltip on each, NaN and infinity refused
at validation on every float widget, a bad choice reported once on the input that holds it, and names that cannot
be files refused with a readable message."""

from __future__ import annotations

import json
import math

import pytest

from comfy_helpers import BODY, loader

PREFIX = "SDPoseNodes."
SOURCES = {  # a node giving each linkable input type, for prompts that reach validation
    "IMAGE": {"class_type": "LoadImage", "inputs": {"image": "person.png", "upload": "image"}},
    "POSE_KEYPOINT": {"class_type": "SDPoseTest.Pose", "inputs": {
        "pose_json": '[{"people": [], "canvas_width": 64, "canvas_height": 96}]', "parse": True}},
    "SDPOSE_NODES_MODEL": loader(BODY),
}


@pytest.fixture(scope="module")
def info(comfy) -> dict:
    return {name: spec for name, spec in comfy.get("/object_info").items() if name.startswith(PREFIX)}


def inputs_of(spec: dict) -> dict:
    return {**spec["input"].get("required", {}), **spec["input"].get("optional", {})}


def value_of(entry: list):
    """A widget's default value (the first choice of a dropdown without one); None for a linked input."""
    kind, options = entry[0], (entry[1] if len(entry) > 1 else {})
    if isinstance(kind, list):
        return options.get("default", kind[0] if kind else "")
    if kind == "COMBO":
        return options.get("default", (options.get("options") or [""])[0])
    if kind in ("INT", "FLOAT", "BOOLEAN", "STRING"):
        return options.get("default", {"INT": 0, "FLOAT": 0.0, "BOOLEAN": False, "STRING": ""}[kind])
    return None


def prompt_for(node: str, spec: dict, **values) -> dict:
    """An API prompt holding ``node`` with every widget at its default (``values`` override) and every required link
    fed, ending in a Preview as Text so that ComfyUI validates it."""
    prompt, inputs = {}, {}
    required = spec["input"].get("required", {})
    for name, entry in inputs_of(spec).items():
        value = value_of(entry)
        if value is not None:
            inputs[name] = value
        elif name in required:
            source = str(len(prompt) + 10)
            prompt[source] = SOURCES[entry[0]]
            inputs[name] = [source, 0]
    inputs.update(values)
    prompt["1"] = {"class_type": node, "inputs": inputs}
    if spec["output"]:
        prompt["2"] = {"class_type": "PreviewAny", "inputs": {"source": ["1", 0]}}
    return prompt


def errors_of(comfy, prompt: dict, node_id: str = "1") -> list[dict]:
    status, body = comfy.submit(prompt)
    assert status == 400, f"accepted: {body}"
    return body["node_errors"][node_id]["errors"]


def test_every_input_of_every_node_has_a_tooltip(info):
    assert len(info) >= 10
    missing = [f"{node}.{name}" for node, spec in info.items() for name, entry in inputs_of(spec).items()
               if len(entry) < 2 or not str(entry[1].get("tooltip", "")).strip()]
    assert not missing, f"inputs without a tooltip: {missing}"


def float_inputs(info: dict) -> list[tuple[str, str]]:
    return [(node, name) for node, spec in sorted(info.items()) for name, entry in inputs_of(spec).items()
            if entry[0] == "FLOAT"]


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf], ids=["nan", "inf", "-inf"])
def test_every_float_widget_refuses_nan_and_infinity(comfy, info, bad):
    checked = float_inputs(info)
    assert len(checked) >= 8  # score_threshold, frame_rate, smoothing, scale, overlay_opacity ...
    for node, name in checked:
        errors = errors_of(comfy, prompt_for(node, info[node], **{name: bad}))
        # ComfyUI 0.3.75 files a validate_inputs message under every input that function takes (the node's floats):
        # each copy names the widget and the value, and one is filed under the widget itself.
        assert errors and all(f"{name}: {bad}" in e["details"] for e in errors), (node, name, errors)
        assert name in [e["extra_info"]["input_name"] for e in errors], (node, name, errors)
        assert "not a number" in errors[0]["details"] or "maximum" in errors[0]["details"] \
            or "minimum" in errors[0]["details"], (node, name, errors)


def test_float_widgets_still_refuse_values_outside_their_range(comfy, info):
    """ComfyUI skips its own range check for inputs validate_inputs takes: the pack's check keeps it."""
    for node, name in float_inputs(info):
        high = inputs_of(info[node])[name][1]["max"]
        errors = errors_of(comfy, prompt_for(node, info[node], **{name: high * 2 + 1}))
        assert errors and all(f"{name}: {high * 2 + 1} is larger than the maximum" in e["details"] for e in errors), (
            node, errors)


def test_a_float_widget_given_an_int_too_large_for_a_float_is_refused_not_an_exception(comfy, info):
    """JSON may carry an integer no float holds (10**400): ComfyUI's float() fails on it, and the pack's range check
    must still answer with its message rather than raise (an exception_during_validation with a traceback)."""
    status, body = comfy.submit(prompt_for("SDPoseNodes.DrawPose", info["SDPoseNodes.DrawPose"],
                                           overlay_opacity=10 ** 400))
    assert status == 400, body
    errors = [e for node in body["node_errors"].values() for e in node["errors"]]
    assert not [e for e in errors if e["type"] == "exception_during_validation"], errors
    assert any("overlay_opacity: 1000" in e["details"] and "larger than the maximum" in e["details"]
               for e in errors), errors


@pytest.mark.parametrize("node, name, value", [
    ("SDPoseNodes.Estimator", "people_order", "tallest"),
    ("SDPoseNodes.Estimator", "crop_mode", "squash"),
    ("SDPoseNodes.AnnotateVideoFile", "detect_hand", "maybe"),
    ("SDPoseNodes.RetargetPose", "anchor", "head"),
    ("SDPoseNodes.SelectPeople", "mode", "tallest"),
    ("SDPoseNodes.SavePoseKeypoints", "layout", "zip"),
    ("SDPoseNodes.ModelLoader", "dtype", "fp8"),
])
def test_a_bad_choice_is_reported_once_on_its_input(comfy, info, node, name, value):
    errors = errors_of(comfy, prompt_for(node, info[node], **{name: value}))
    assert len(errors) == 1, errors
    assert errors[0]["extra_info"]["input_name"] == name and value in errors[0]["details"], errors


def test_load_pose_keypoints_refuses_a_null_file_at_validation(comfy, info):
    node = "SDPoseNodes.LoadPoseKeypoints"
    errors = errors_of(comfy, prompt_for(node, info[node], file=None))
    assert [e["extra_info"]["input_name"] for e in errors] == ["file"], errors


@pytest.mark.parametrize("node", ["SDPoseNodes.SavePoseKeypoints", "SDPoseNodes.AnnotateVideoFile"])
def test_a_prefix_through_an_existing_file_is_a_readable_error(comfy, info, node):
    (comfy.base / "output" / "taken").mkdir(parents=True, exist_ok=True)
    (comfy.base / "output" / "taken" / "afile").write_text("a user's file")
    prompt = prompt_for(node, info[node], filename_prefix="taken/afile/pose", file="dance.mp4")
    if node == "SDPoseNodes.AnnotateVideoFile":
        prompt["1"]["inputs"].update(bbox_detector="None", resolution=64, flip_test=False)
    else:
        prompt["1"]["inputs"].pop("file")
    entry = comfy.run(prompt)
    assert entry["status"]["status_str"] == "error"
    [error] = [m[1] for m in entry["status"]["messages"] if m[0] == "execution_error"]
    assert error["exception_type"].endswith("InputError"), error
    assert "'taken/afile' is a file" in error["exception_message"], error
    assert (comfy.base / "output" / "taken" / "afile").read_text() == "a user's file"


def test_cancel_stops_after_at_most_the_batch_in_flight(comfy):
    """/interrupt mid-run: the Estimator checks for it before each frame and after each batch of crops, so once the
    interrupt is in, at most the batch being computed then (and the frame whose progress was in flight) completes.
    Counted on progress events (one per frame; two people per frame = one batch at batch_size 2), not timed."""
    from comfy_helpers import estimator

    frames = 40
    two = [{"x": 8, "y": 16, "width": 40, "height": 96}, {"x": 48, "y": 8, "width": 40, "height": 100}]
    prompt = {"1": {"class_type": "LoadImage", "inputs": {"image": "person.png", "upload": "image"}},
              "2": loader(BODY),
              "3": {"class_type": "RepeatImageBatch", "inputs": {"image": ["1", 0], "amount": frames}},
              "6": {"class_type": "SDPoseTest.Boxes", "inputs": {"boxes_json": json.dumps(two)}},
              "4": estimator(["3", 0], ["2", 0], batch_size=2, resolution=64, bounding_box=["6", 0]),
              "5": {"class_type": "PreviewAny", "inputs": {"source": ["4", 1]}}}
    _, interrupted_at, last, events = comfy.run_and_interrupt(prompt, node="4", at=3)
    assert interrupted_at is not None and last["type"] == "execution_interrupted", last
    progress = [e["data"]["value"] for e in events if e["type"] == "progress" and e["data"].get("node") == "4"]
    after = max(progress) - interrupted_at[0]
    assert after <= 2, f"{after} frames posed after the interrupt (at {interrupted_at[0]} of {frames})"
    assert comfy.alive()


def test_an_installed_hub_copy_is_listed_once(comfy):
    """A downloaded hub model (models/sdpose/teemosliang--SDPose-Wholebody) is the '[hub]' entry, not a second one;
    a workflow saved with the folder's name still validates."""
    import shutil

    from comfy_helpers import choices

    copy = comfy.base / "models" / "sdpose" / "teemosliang--SDPose-Wholebody"
    (copy / "unet").mkdir(parents=True)
    try:
        names = choices(comfy.get("/object_info/SDPoseNodes.ModelLoader")["SDPoseNodes.ModelLoader"]["input"][
            "required"]["model_name"])
        assert "teemosliang/SDPose-Wholebody [hub]" in names and copy.name not in names, names
        assert len([n for n in names if "Wholebody" in n and "tiny" not in n.lower()]) == 1, names
        status, body = comfy.submit({"1": loader(copy.name), "2": {"class_type": "PreviewAny",
                                                                    "inputs": {"source": ["1", 0]}}})
        assert status == 200, body
        comfy.wait(body["prompt_id"])
        status, body = comfy.submit({"1": loader("nowhere"), "2": {"class_type": "PreviewAny",
                                                                  "inputs": {"source": ["1", 0]}}})
        assert status == 400 and len(body["node_errors"]["1"]["errors"]) == 1, body
    finally:
        shutil.rmtree(copy)
