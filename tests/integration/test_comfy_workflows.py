"""workflows/: the API-format twins run with the tiny model; the UI-format files load with no missing nodes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from comfy_helpers import LOAD_GRAPH_JS, REPO, WHOLEBODY, layout_overlaps, off_screen

WORKFLOWS = REPO / "workflows"
UI_FILES = sorted(p for p in WORKFLOWS.glob("*.json") if not p.name.endswith(".api.json"))
API_FILES = sorted(WORKFLOWS.glob("*.api.json"))
FRONTEND_ONLY = {"Note", "MarkdownNote", "Reroute", "PrimitiveNode"}
NEEDS_CONTROLNET_AUX = {"DWPreprocessor"}  # only in *_with_controlnet_aux.json, which says so
NEEDS_IMPACT_PACK = {"UltralyticsDetectorProvider", "BboxDetectorSEGS"}  # only in *_with_impact_pack.json
WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}


def twin(ui: Path) -> Path:
    return ui.with_name(ui.stem + ".api.json")


def allowed_extra(ui: Path) -> set[str]:
    return FRONTEND_ONLY | (NEEDS_CONTROLNET_AUX if "controlnet_aux" in ui.stem else set()) | (
        NEEDS_IMPACT_PACK if "impact_pack" in ui.stem else set())


def test_every_workflow_has_the_expected_files():
    names = {p.stem for p in UI_FILES}
    assert {"sdpose_controlnet_openpose", "sdpose_video_pose_sequence", "sdpose_vs_dwpose",
            "sdpose_retarget_pose_video", "sdpose_wan_animate_preprocess"} <= names
    for ui in UI_FILES:
        assert twin(ui).is_file() or ui.stem.endswith(("controlnet_aux", "impact_pack")), f"{ui.name} has no API twin"
    assert {p.name[: -len(".api.json")] for p in API_FILES} <= names


@pytest.mark.parametrize("path", UI_FILES, ids=lambda p: p.stem)
def test_ui_workflow_opens_whole_in_a_1600x1000_window(path):
    """Every node (inputs, notes, outputs) inside the window as the workflow's saved view shows it."""
    assert off_screen(json.loads(path.read_text()), (1600, 1000)) == []


SAVERS = {"SaveImage", "SaveVideo", "SDPoseNodes.SavePoseKeypoints", "SDPoseNodes.AnnotateVideoFile"}


@pytest.mark.parametrize("path", API_FILES, ids=lambda p: p.stem)
def test_workflow_outputs_do_not_share_a_prefix(path):
    """Savers share ComfyUI's numbering (<prefix>_00001_...): one prefix each, or frame 1 of one is number 41."""
    prefixes = [n["inputs"]["filename_prefix"] for n in json.loads(path.read_text()).values()
                if n["class_type"] in SAVERS]
    assert prefixes and len(set(prefixes)) == len(prefixes), prefixes


@pytest.mark.parametrize("path", UI_FILES, ids=lambda p: p.stem)
def test_ui_workflow_first_run_needs_no_detector_download(path):
    """The SDPose nodes start with bbox_detector None (no download), except beside DWPose, which downloads its own."""
    for node in json.loads(path.read_text())["nodes"]:
        if node["type"] in ("SDPoseNodes.Estimator", "SDPoseNodes.RetargetPose"):
            expected = "yolox_l.onnx" if "controlnet_aux" in path.stem else "None"
            assert expected in node["widgets_values"], (path.stem, node["type"])


FRAMED_JS = """
async (workflow) => {
  await app.loadGraphData(workflow, true, true, "test");
  await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
  const ds = app.canvas.ds, box = app.canvas.canvas.getBoundingClientRect();
  return app.graph.nodes.map((n) => {
    const [x, y] = ds.convertOffsetToCanvas([n.pos[0], n.pos[1] - LiteGraph.NODE_TITLE_HEIGHT]);
    const [r, b] = ds.convertOffsetToCanvas([n.pos[0] + n.size[0], n.pos[1] + n.size[1]]);
    return {id: n.id, title: n.title, left: box.left + x, top: box.top + y, right: box.left + r,
            bottom: box.top + b};
  });
}
"""


@pytest.mark.parametrize("path", UI_FILES, ids=lambda p: p.stem)
def test_ui_workflow_opens_whole_in_the_real_frontend(frontend, path):
    """Loaded in the web app in a 1600x1000 window, every node lies inside the window (as laid out by the app)."""
    rects = frontend.evaluate(FRAMED_JS, json.loads(path.read_text()))
    outside = [r["title"] for r in rects if r["left"] < 0 or r["top"] < 0 or r["right"] > 1600 or r["bottom"] > 1000]
    assert not outside, outside


CHOOSE_DETECTOR_JS = """
async ([workflow, choice]) => {
  await app.loadGraphData(workflow, true, true, "test");
  const primitive = app.graph.nodes.find((n) => n.type === "PrimitiveNode");
  primitive.widgets[0].value = choice;
  primitive.applyToGraph();
  return (await app.graphToPrompt()).output;
}
"""


@pytest.mark.parametrize("name", ["sdpose_retarget_pose_video", "sdpose_wan_animate_preprocess"])
def test_the_detector_is_chosen_once_for_estimator_and_retarget(frontend, name):
    workflow = json.loads((WORKFLOWS / f"{name}.json").read_text())
    output = frontend.evaluate(CHOOSE_DETECTOR_JS, [workflow, "yolox_l.onnx"])
    chosen = {k: v["inputs"]["bbox_detector"] for k, v in output.items() if "bbox_detector" in v["inputs"]}
    assert chosen == {"5": "yolox_l.onnx", "8": "yolox_l.onnx"}, chosen


@pytest.mark.parametrize("path", UI_FILES, ids=lambda p: p.stem)
def test_ui_workflow_nodes_do_not_overlap(path):
    """Laid out as shipped, and after a run (the pose previews have grown), no node covers another."""
    assert layout_overlaps(json.loads(path.read_text())) == []


def for_the_tiny_setup(prompt: dict) -> dict:
    """The shipped API workflow with the test base's files: the tiny model, input/person.png, input/dance.mp4."""
    prompt = json.loads(json.dumps(prompt))
    # Retargeting needs a neck on both sides: with random weights, keep every keypoint the tiny model gives.
    retargets = any(n["class_type"] == "SDPoseNodes.RetargetPose" for n in prompt.values())
    for node in prompt.values():
        if retargets and node["class_type"] in ("SDPoseNodes.Estimator", "SDPoseNodes.RetargetPose"):
            node["inputs"]["score_threshold"] = 0.0
        inputs = node["inputs"]
        if node["class_type"] == "SDPoseNodes.ModelLoader":
            inputs["model_name"] = WHOLEBODY
        elif node["class_type"] == "LoadImage":
            inputs["image"] = "person.png"
        elif node["class_type"] == "LoadVideo":
            inputs["file"] = "dance.mp4"
    return prompt


@pytest.mark.parametrize("path", API_FILES, ids=lambda p: p.stem)
def test_api_workflow_runs_with_the_tiny_model(comfy, yolox, path):
    prompt = for_the_tiny_setup(json.loads(path.read_text()))
    entry = comfy.run_ok(prompt, timeout=150)
    outputs = entry["outputs"]
    for node_id, node in prompt.items():
        if node["class_type"] in ("SaveImage", "PreviewImage"):
            files = comfy.output_files(entry, node_id)
            assert files and all(Image.open(f).size[0] > 0 for f in files), node_id
        elif node["class_type"] == "SDPoseNodes.SavePoseKeypoints":
            files = comfy.output_files(entry, node_id, "pose_keypoint_files")
            assert files and all(json.loads(f.read_text())["people"] is not None for f in files)
        elif node["class_type"] == "SaveVideo":
            assert outputs[node_id], node_id
    if "video" in path.stem:  # one pose frame and one keypoint file per video frame
        saved = [n for n, v in prompt.items() if v["class_type"] == "SaveImage"]
        assert len(comfy.output_files(entry, saved[0])) == 6


def widget_values(node: dict, spec: dict) -> dict:
    """widgets_values of a UI node by widget name, following the node's input order as the frontend does."""
    values = list(node.get("widgets_values") or [])
    named = {}
    order = spec["input_order"]
    inputs = {**spec["input"].get("required", {}), **spec["input"].get("optional", {})}
    for name in order.get("required", []) + order.get("optional", []):
        kind, options = inputs[name][0], (inputs[name][1] if len(inputs[name]) > 1 else {})
        if not (isinstance(kind, list) or kind in WIDGET_TYPES) or options.get("forceInput"):
            continue
        named[name] = values.pop(0)
        if options.get("control_after_generate"):
            named[name + ":control_after_generate"] = values.pop(0)
        if options.get("image_upload") or options.get("video_upload"):
            values.pop(0)  # the upload button's value
    assert not values, f"{node['type']}: {len(values)} widget values left over"
    return named


@pytest.mark.parametrize("path", UI_FILES, ids=lambda p: p.stem)
def test_ui_workflow_has_no_missing_nodes_and_matches_its_twin(comfy, path):
    workflow = json.loads(path.read_text())
    info = comfy.get("/object_info")
    types = {n["type"] for n in workflow["nodes"]}
    assert types - set(info) <= allowed_extra(path), f"missing nodes: {sorted(types - set(info) - FRONTEND_ONLY)}"
    links = {link[0]: link for link in workflow["links"]}  # id, from node, from slot, to node, to slot, type
    for node in workflow["nodes"]:
        if node["type"] in info:
            node_spec = info[node["type"]]
            widget_values(node, node_spec)  # the widget count fits the node's current inputs
            for out_index, output in enumerate(node.get("outputs", [])):
                assert output["type"] == node_spec["output"][out_index], (node["type"], output)
    if not twin(path).is_file():
        return
    api = json.loads(twin(path).read_text())
    by_id = {str(n["id"]): n for n in workflow["nodes"]}
    for node_id, api_node in api.items():
        node = by_id[node_id]
        assert node["type"] == api_node["class_type"]
        named = widget_values(node, info[node["type"]])
        for name, value in api_node["inputs"].items():
            if isinstance(value, list):  # a link: the UI has the same one into that input
                slot = next(s for s in node["inputs"] if s["name"] == name)
                _, src, src_slot, dst, _, _ = links[slot["link"]]
                assert [str(src), src_slot] == value and dst == node["id"]
            else:
                assert named[name] == value, (node_id, name)


@pytest.mark.parametrize("path", UI_FILES, ids=lambda p: p.stem)
def test_ui_workflow_loads_in_the_real_frontend(frontend, path):
    """The ComfyUI web app loads the file with no missing node, and converts it to exactly its API twin."""
    loaded = frontend.evaluate(LOAD_GRAPH_JS, json.loads(path.read_text()))
    assert set(loaded["missing"]) <= allowed_extra(path) - FRONTEND_ONLY
    if twin(path).is_file():
        api = json.loads(twin(path).read_text())
        converted = {k: v for k, v in loaded["output"].items() if k in api}
        assert converted == api


def test_draw_pose_saved_with_the_old_boolean_loads_as_the_choice(frontend):
    """A UI workflow saved before 0.2.0 (Draw Pose's scale_stick_for_xinsr_cn was a boolean) loads in the real
    front-end with the same setting as an enable/disable choice, and queues it so."""
    workflow = json.loads((WORKFLOWS / "sdpose_vs_dwpose.json").read_text())
    [draw] = [n for n in workflow["nodes"] if n["type"] == "SDPoseNodes.DrawPose"]
    for old, new in ((False, "disable"), (True, "enable")):
        draw["widgets_values"][5] = old  # draw_body, draw_hands, draw_face, draw_feet, resolution, xinsr, opacity
        loaded = frontend.evaluate(LOAD_GRAPH_JS, workflow)
        assert loaded["output"][str(draw["id"])]["inputs"]["scale_stick_for_xinsr_cn"] == new


OLD_WORKFLOWS = sorted((REPO / "tests" / "data" / "workflows_0.1.0").glob("*[!i].json"))


@pytest.mark.parametrize("path", OLD_WORKFLOWS, ids=lambda p: p.stem)
def test_workflows_saved_with_0_1_0_load_with_the_same_settings(comfy, frontend, path):
    """A UI workflow saved by 0.1.0 loads in the real front-end and queues what it queued then: every input it had,
    with the same value (Draw Pose's old boolean xinsr as the choice), and the inputs added since at their defaults."""
    loaded = frontend.evaluate(LOAD_GRAPH_JS, json.loads(path.read_text()))
    assert set(loaded["missing"]) <= FRONTEND_ONLY
    old_api = json.loads(twin(path).read_text())
    info = comfy.get("/object_info")
    for node_id, old in old_api.items():
        now = loaded["output"][node_id]
        assert now["class_type"] == old["class_type"]
        for name, value in old["inputs"].items():
            expected = ("enable" if value else "disable") if isinstance(value, bool) and name == \
                "scale_stick_for_xinsr_cn" else value
            assert now["inputs"][name] == expected, (node_id, name)
        spec = info[old["class_type"]]["input"]
        for name in set(now["inputs"]) - set(old["inputs"]):
            kind, options = (spec.get("required", {}) | spec.get("optional", {}))[name][:2]
            assert now["inputs"][name] == options.get("default"), (node_id, name)


DWPREPROCESSOR = json.loads((REPO / "tests" / "data" / "controlnet_aux_dwpreprocessor.json").read_text())


def test_controlnet_aux_workflow_fits_the_real_dwpreprocessor(comfy):
    """The DWPose Estimator node of *_with_controlnet_aux.json against comfyui_controlnet_aux's own DWPreprocessor
    inputs (read from its source once, kept with the commit): every widget value is one it accepts, its slots are its
    slots, and its detect_*, resolution and bbox_detector are the SDPose Estimator's, as the workflow's note says."""
    [path] = [p for p in UI_FILES if "controlnet_aux" in p.stem]
    workflow = json.loads(path.read_text())
    [dwpose] = [n for n in workflow["nodes"] if n["type"] == DWPREPROCESSOR["node_id"]]
    [ours] = [n for n in workflow["nodes"] if n["type"] == "SDPoseNodes.Estimator"]
    named = widget_values(dwpose, DWPREPROCESSOR)
    inputs = DWPREPROCESSOR["input"]["optional"]
    assert set(named) == set(inputs)
    for name, value in named.items():
        kind, options = inputs[name]
        if isinstance(kind, list):
            assert value in kind, (name, value)
        else:
            assert kind == "INT" and options["min"] <= value <= options["max"], (name, value)
            assert (value - options["min"]) % options["step"] == 0, (name, value)
    assert [s["name"] for s in dwpose["inputs"] if s.get("link") is not None] == ["image"]
    assert [o["type"] for o in dwpose["outputs"]] == DWPREPROCESSOR["output"]
    sdpose = widget_values(ours, comfy.get("/object_info/SDPoseNodes.Estimator")["SDPoseNodes.Estimator"])
    shared = ("detect_hand", "detect_body", "detect_face", "resolution", "bbox_detector")
    assert {k: named[k] for k in shared} == {k: sdpose[k] for k in shared}
    links = {link[0]: link for link in workflow["links"]}
    image_link = next(s["link"] for s in dwpose["inputs"] if s["name"] == "image")
    ours_link = next(s["link"] for s in ours["inputs"] if s["name"] == "image")
    assert links[image_link][1:3] == links[ours_link][1:3]  # the same image into both
