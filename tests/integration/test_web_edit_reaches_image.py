"""web/ on the real server in headless Chromium: a keypoint edit reaches the pose IMAGE (in the shipped ControlNet
workflow, the image ControlNet gets), the editor offers a free file name at once, the preview's and the editor's
toggles start as the output is drawn, and the extension patches nothing of ComfyUI's (test hooks only on request)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from comfy_helpers import BUILD_GRAPH_JS, REPO, WHOLEBODY

ESTIMATOR = '[data-sdpose-preview="SDPoseNodes.Estimator"]'
DRAW = '[data-sdpose-preview="SDPoseNodes.DrawPose"]'
EDITOR = '[data-sdpose="editor"]'
WORKFLOW = REPO / "workflows" / "sdpose_controlnet_openpose.json"
# Estimator drawing settings unlike Draw Pose's defaults: a Draw Pose that did not take them draws another image.
SETTINGS = {"detect_hand": "disable", "detect_face": "disable", "resolution": 128, "draw_feet": True, "stick_width": 6,
            "point_size": 3, "bbox_detector": "None", "flip_test": False, "score_threshold": 0.0}
# The same settings as sdpose_core.pose.render keywords, written out here (not taken from the nodes).
RENDER = {"resolution": 128, "body": True, "hands": False, "face": False, "feet": True, "xinsr": False,
          "stick_width": 6, "point_size": 3}

# Opens the shipped workflow with the tiny model; the nodes that need the SD 1.5 checkpoint and the ControlNet model
# (not installed here) stay in place, wired as shipped, but muted: ComfyUI leaves them out of the prompt.
OPEN_WORKFLOW_JS = """
async ({workflow, settings, model}) => {
  await app.loadGraphData(workflow, true, true, "controlnet", {showMissingNodesDialog: false,
                                                               showMissingModelsDialog: false});
  const one = (type) => app.graph.nodes.find((n) => n.type === type);
  const set = (node, name, value) => { node.widgets.find((w) => w.name === name).value = value; };
  const estimator = one("SDPoseNodes.Estimator");
  for (const [name, value] of Object.entries(settings)) set(estimator, name, value);
  set(one("SDPoseNodes.ModelLoader"), "model_name", model);
  set(one("LoadImage"), "image", "person.png");
  const runs = new Set(["LoadImage", "SDPoseNodes.ModelLoader", "SDPoseNodes.Estimator", "PreviewImage",
                        "SDPoseNodes.SavePoseKeypoints", "Note"]);
  for (const node of app.graph.nodes) if (!runs.has(node.type)) node.mode = 2;  // LGraphEventMode.NEVER
  return {estimator: estimator.id, controlnet: one("ControlNetApplyAdvanced").id, preview: one("PreviewImage").id,
          save: one("SDPoseNodes.SavePoseKeypoints").id};
}
"""

LINKS_JS = ("const link = (input) => input.link == null ? null : "
            "(app.graph.links.get ? app.graph.links.get(input.link) : app.graph.links[input.link]);")

# Where the ControlNet's image and the other consumers now come from.
WIRING_JS = """
(ids) => {
  LINKS
  const node = (id) => app.graph.getNodeById(id);
  const from = (n, name) => { const l = link(n.inputs[n.findInputSlot(name)]); return l && node(l.origin_id); };
  const draw = from(node(ids.controlnet), "image");
  const load = from(draw, "pose_keypoint");
  const estimator = node(ids.estimator);
  return {draw: draw.type, load: load.type, file: load.widgets.find((w) => w.name === "file").value,
          preview: from(node(ids.preview), "images").id === draw.id,
          save: from(node(ids.save), "pose_keypoint").id === load.id,
          estimatorLinks: estimator.outputs.map((o) => (o.links || []).length),
          draws: app.graph.nodes.filter((n) => n.type === "SDPoseNodes.DrawPose").length,
          loads: app.graph.nodes.filter((n) => n.type === "SDPoseNodes.LoadPoseKeypoints").length};
}
""".replace("LINKS", LINKS_JS)

# A Save Image on whatever feeds the ControlNet node's image input.
PROBE_JS = """
(ids) => {
  LINKS
  const cn = app.graph.getNodeById(ids.controlnet);
  const l = link(cn.inputs[cn.findInputSlot("image")]);
  const probe = LiteGraph.createNode("SaveImage");
  probe.pos = [cn.pos[0], cn.pos[1] + 400];
  app.graph.add(probe);
  probe.widgets.find((w) => w.name === "filename_prefix").value = "sdpose/controlnet_image";
  app.graph.getNodeById(l.origin_id).connect(l.origin_slot, probe, 0);
  return probe.id;
}
""".replace("LINKS", LINKS_JS)


def queue(frontend) -> None:
    frontend.evaluate("async () => { await app.queuePrompt(0, 1); }")


def image_of(frontend, comfy, node_id: int, folder: str) -> np.ndarray:
    """The first image node ``node_id`` showed in its last run (its 'executed' output), as an RGB array."""
    from PIL import Image

    frontend.page.wait_for_function(f"() => ((app.nodeOutputs['{node_id}'] || {{}}).images || []).length",
                                    timeout=120_000)
    ref = frontend.evaluate(f"() => app.nodeOutputs['{node_id}'].images[0]")
    path = comfy.base / folder / ref["subfolder"] / ref["filename"]
    return np.asarray(Image.open(path).convert("RGB"), dtype=int)


def drag_a_joint(page, frontend) -> None:
    # The body joint of person 1 farthest from its other joints: the drag moves its drawing, not a hidden overlap.
    target = frontend.evaluate("""() => {
      const ed = window.SDPose.currentEditor();
      const body = ed.frame.people[0].pose_keypoints_2d;
      const shown = [...Array(18).keys()].filter((i) => body[3 * i + 2] >= 0.3);
      const gap = (i) => Math.min(...shown.filter((j) => j !== i).map((j) =>
        Math.hypot(body[3 * i] - body[3 * j], body[3 * i + 1] - body[3 * j + 1])));
      const best = shown.reduce((a, b) => (gap(b) > gap(a) ? b : a));
      return ed.clientPoint(0, 'pose_keypoints_2d', best);
    }""")
    page.mouse.move(target["x"], target["y"])
    page.mouse.down()
    page.mouse.move(target["x"] + 30, target["y"] + 20, steps=3)
    page.mouse.up()


def offered_name(page) -> str:
    page.wait_for_selector(f"{EDITOR}[data-name-ready]")
    return page.input_value(f'{EDITOR} [data-sdpose="filename"]')


def checked(page, selector: str, part: str) -> bool:
    return page.is_checked(f'{selector} [data-sdpose-toggle="{part}"]')


def test_an_edit_reaches_the_image_controlnet_gets(comfy, frontend):
    from sdpose_core.pose.render import render_frame

    page = frontend.page
    ids = frontend.evaluate(OPEN_WORKFLOW_JS, {"workflow": json.loads(WORKFLOW.read_text()), "settings": SETTINGS,
                                               "model": WHOLEBODY})
    queue(frontend)
    page.wait_for_selector(f'{ESTIMATOR}[data-frames="1"]', timeout=120_000)
    assert checked(page, ESTIMATOR, "feet")  # draw_feet is on: the preview shows the feet the IMAGE has
    frames = frontend.evaluate(f"() => app.graph.getNodeById({ids['estimator']}).sdposePreview.frames")
    model_image = image_of(frontend, comfy, ids["preview"], "temp")
    assert np.abs(model_image - render_frame(frames[0], **RENDER)).max() <= 1  # RENDER is how the Estimator draws

    page.click(f"{ESTIMATOR} [data-action=edit]")
    first = offered_name(page)
    assert first.startswith("sdpose/") and not (comfy.base / "input" / first).exists()
    assert checked(page, EDITOR, "image")  # the Estimator's picture is behind the pose
    page.click(f'{EDITOR} [data-sdpose-toggle="hands"]')
    page.click(f'{EDITOR} [data-sdpose-toggle="face"]')
    drag_a_joint(page, frontend)
    page.click(f"{EDITOR} [data-action=save-use]")
    page.wait_for_selector(f"{EDITOR}[data-draw-node]")
    status = page.locator(f'{EDITOR} [data-sdpose="status"]').inner_text()
    assert "ControlNetApplyAdvanced" in status or "Apply ControlNet" in status, status
    page.keyboard.press("Escape")
    page.wait_for_selector(EDITOR, state="detached")
    edited = json.loads((comfy.base / "input" / first).read_text())
    assert edited != frames
    wiring = frontend.evaluate(WIRING_JS, ids)
    assert wiring == {"draw": "SDPoseNodes.DrawPose", "load": "SDPoseNodes.LoadPoseKeypoints", "file": first,
                      "preview": True, "save": True, "estimatorLinks": [0, 0], "draws": 1, "loads": 1}

    probe = frontend.evaluate(PROBE_JS, ids)
    queue(frontend)
    controlnet_image = image_of(frontend, comfy, probe, "output")
    expected = render_frame(edited[0], **RENDER)
    assert controlnet_image.shape == expected.shape
    assert np.abs(controlnet_image - expected).max() <= 1  # the edited pose, drawn as the Estimator draws
    assert np.abs(controlnet_image - model_image).max() > 100  # not the model's pose

    # A second edit: the editor offers a free name at once, the first click saves, the same two nodes are reused.
    page.click(f"{ESTIMATOR} [data-action=edit]")
    second = offered_name(page)
    assert second != first and not (comfy.base / "input" / second).exists()
    drag_a_joint(page, frontend)
    page.click(f"{EDITOR} [data-action=save-use]")
    page.wait_for_selector(f'{EDITOR}[data-saved="{second}"]')
    page.wait_for_selector(f"{EDITOR}[data-load-node]")
    page.keyboard.press("Escape")
    page.wait_for_selector(EDITOR, state="detached")
    wiring = frontend.evaluate(WIRING_JS, ids)
    assert (wiring["file"], wiring["draws"], wiring["loads"]) == (second, 1, 1)


FEET = {"people": [{"pose_keypoints_2d": [60.0, 40.0, 1.0] * 18, "foot_keypoints_2d": [50.0, 150.0, 1.0] * 6,
                    "face_keypoints_2d": None, "hand_left_keypoints_2d": None, "hand_right_keypoints_2d": None}],
        "canvas_width": 120, "canvas_height": 160}


@pytest.mark.parametrize("draw_feet", [False, True])
def test_preview_feet_follow_draw_feet(frontend, draw_feet):
    """The feet toggle of Draw Pose's preview is ticked only when the node drew the feet into its IMAGE."""
    page = frontend.page
    frontend.evaluate(BUILD_GRAPH_JS, {
        "nodes": [{"id": 1, "type": "SDPoseTest.Pose", "pos": [100, 150], "widgets": {"pose_json": json.dumps([FEET])}},
                  {"id": 2, "type": "SDPoseNodes.DrawPose", "pos": [500, 150], "size": [330, 560],
                   "widgets": {"resolution": 0, "draw_feet": draw_feet}},
                  {"id": 3, "type": "PreviewImage", "pos": [900, 150]}],
        "links": [[1, 0, 2, "pose_keypoint"], [2, 0, 3, "images"]]})
    queue(frontend)
    page.wait_for_selector(f'{DRAW}[data-frames="1"]', timeout=60_000)
    assert page.is_visible(f'{DRAW} [data-sdpose-toggle="feet"]')
    assert checked(page, DRAW, "feet") is draw_feet


def test_editing_a_file_without_image_starts_with_the_image_off(comfy, frontend):
    """SDPose Load Pose Keypoints' "edit pose" opens a file, which has no picture: the image toggle starts off."""
    page = frontend.page
    status, body = comfy.request("POST", "/sdpose/keypoints", {"filename": "sdpose/no_image.json",
                                                               "pose_keypoint": [FEET], "overwrite": True})
    assert status == 200, body
    frontend.evaluate(BUILD_GRAPH_JS, {"nodes": [{"id": 1, "type": "SDPoseNodes.LoadPoseKeypoints", "pos": [100, 150]}],
                                       "links": []})
    frontend.evaluate("""async () => {
      const load = app.graph.getNodeById(1);
      await window.SDPose.refreshLoadNodes({node: load, file: 'sdpose/no_image.json'});
      load.widgets.find((w) => w.type === 'button').callback();
    }""")
    page.wait_for_selector(f'{EDITOR}[data-people="1"]')
    assert not checked(page, EDITOR, "image")
    page.keyboard.press("Escape")
    page.wait_for_selector(EDITOR, state="detached")


OWN_API_JS = """
() => {
  const { api, ComfyApi } = window.comfyAPI.api;
  const own = (name) => !Object.prototype.hasOwnProperty.call(api, name) && api[name] === ComfyApi.prototype[name];
  const node = LiteGraph.createNode('SDPoseNodes.Estimator');
  return {queuePrompt: own('queuePrompt'), dispatchCustomEvent: own('dispatchCustomEvent'),
          hooks: 'SDPose' in window, extension: Boolean(node && node.sdposePreview)};
}
"""


@pytest.mark.parametrize("query, hooks", [("/", False), ("/?sdpose_test_hooks", True)])
def test_the_extension_patches_nothing_of_comfyuis(comfy, frontend, query, hooks):
    """After the page loads, api.queuePrompt and api.dispatchCustomEvent are ComfyUI's own; window.SDPose (the
    tests' hooks) exists only on a page opened with ?sdpose_test_hooks."""
    page = frontend.browser.new_page(viewport={"width": 1200, "height": 800})
    try:
        page.goto(comfy.url + query)
        page.wait_for_function("() => window.app && app.graph && window.LiteGraph && "
                               "LiteGraph.registered_node_types['SDPoseNodes.Estimator'] && "
                               "app.extensions.some((e) => e.name === 'sdpose.PosePreviewAndEditor')", timeout=90_000)
        assert page.evaluate(OWN_API_JS) == {"queuePrompt": True, "dispatchCustomEvent": True, "hooks": hooks,
                                             "extension": True}
    finally:
        page.close()


def test_the_draw_pose_takes_the_estimators_settings_and_their_links(comfy, frontend):
    """Save & use in graph from an Estimator whose resolution comes from a Primitive node: the Draw Pose put in front
    of the Estimator's IMAGE consumers takes the same link, and the Estimator's other drawing settings as values."""
    page = frontend.page
    frontend.evaluate(BUILD_GRAPH_JS, {
        "nodes": [{"id": 1, "type": "PrimitiveInt", "pos": [60, 150], "widgets": {"value": 192}},
                  {"id": 2, "type": "SDPoseNodes.Estimator", "pos": [400, 150], "size": [330, 640],
                   "widgets": {"detect_face": "disable", "draw_feet": True, "stick_width": 7, "draw_head": False}},
                  {"id": 3, "type": "PreviewImage", "pos": [800, 150]}],
        "links": [[1, 0, 2, "resolution"], [2, "IMAGE", 3, "images"]]})
    frontend.evaluate("(frame) => window.SDPose.openPoseEditor({frames: [frame], node: app.graph.getNodeById(2),"
                      " filename: 'sdpose/settings_check.json'})", FEET)
    page.click(f"{EDITOR} [data-action=save-use]")
    page.wait_for_selector(f"{EDITOR}[data-draw-node]")
    draw_id = int(page.get_attribute(EDITOR, "data-draw-node"))
    page.keyboard.press("Escape")
    page.wait_for_selector(EDITOR, state="detached")
    draw = frontend.evaluate("""(id) => {
      LINKS
      const draw = app.graph.getNodeById(id);
      const values = Object.fromEntries(draw.widgets.map((w) => [w.name, w.value]));
      const from = (n, name) => { const l = link(n.inputs[n.findInputSlot(name)]); return l && l.origin_id; };
      return {values, resolution: from(draw, "resolution"), preview: from(app.graph.getNodeById(3), "images")};
    }""".replace("LINKS", LINKS_JS), draw_id)
    assert draw["resolution"] == 1 and draw["preview"] == draw_id
    values = draw["values"]
    assert (values["draw_face"], values["draw_body"], values["draw_hands"]) == (False, True, True)
    assert (values["draw_feet"], values["stick_width"], values["draw_head"]) == (True, 7, False)
