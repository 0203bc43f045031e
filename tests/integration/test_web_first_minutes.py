"""What a new user meets first, in the real ComfyUI front-end (headless Chromium) on the real server: the preview after
a page reload (ComfyUI serves the unchanged graph from its cache), the body-only warning and part toggles, the editor's
framing, its backdrop, "Save & use in graph", the shipped workflows' first view, and the error dialog's node names."""

from __future__ import annotations

import json

import pytest

from comfy_helpers import BODY, BUILD_GRAPH_JS, REPO, TITLE_HEIGHT, WHOLEBODY

ESTIMATOR = '[data-sdpose-preview="SDPoseNodes.Estimator"]'
DRAW = '[data-sdpose-preview="SDPoseNodes.DrawPose"]'
EDITOR = '[data-sdpose="editor"]'
LOAD_NODE = "SDPoseNodes.LoadPoseKeypoints"


def node(nid, type_, pos, widgets=None, size=None):
    return {"id": nid, "type": type_, "pos": pos, "widgets": widgets or {}, **({"size": size} if size else {})}


def graph(model: str) -> dict:
    return {
        "nodes": [
            node(1, "LoadImage", [10, 150], {"image": "person.png"}),
            node(2, "SDPoseNodes.ModelLoader", [10, 560], {"model_name": model}),
            node(3, "SDPoseNodes.Estimator", [340, 150], {"bbox_detector": "None", "resolution": 64,
                                                          "flip_test": False, "score_threshold": 0.0}, [330, 640]),
            node(4, "SDPoseNodes.DrawPose", [700, 150], {"resolution": 0}, [330, 560]),
            node(5, "PreviewImage", [1060, 150]),
        ],
        "links": [[1, 0, 3, "image"], [2, 0, 3, "sdpose_model"], [3, "POSE_KEYPOINT", 4, "pose_keypoint"],
                  [4, 0, 5, "images"]],
    }


# The front-end keeps the open workflow in localStorage["workflow"] (app.graph.serialize()) and restores it on reload.
STORED_IS_THE_GRAPH_JS = """() => {
  const shape = (g) => JSON.stringify([g.nodes.map((n) => [n.id, n.type]).sort(), (g.links || []).length]);
  try { return shape(JSON.parse(localStorage.getItem('workflow'))) === shape(app.graph.serialize()); }
  catch (e) { return false; }
}"""


def queue(frontend) -> None:
    frontend.evaluate("async () => { await app.queuePrompt(0, 1); }")


def shown_toggles(frontend, selector: str) -> list[str]:
    return frontend.evaluate("""(sel) => [...document.querySelectorAll(sel + ' [data-sdpose-toggle]')]
      .filter((i) => i.closest('label').style.display !== 'none').map((i) => i.dataset.sdposeToggle)""", selector)


def test_preview_survives_a_reload_and_a_cached_run_with_body_only_notes(comfy, frontend):
    page = frontend.page
    frontend.evaluate("() => { app.canvas.ds.scale = 1; app.canvas.ds.offset = [80, 0]; }")
    frontend.evaluate(BUILD_GRAPH_JS, graph(BODY))
    queue(frontend)
    page.wait_for_selector(f'{ESTIMATOR}[data-frames="1"]', timeout=120_000)
    page.wait_for_selector(f'{DRAW}[data-frames="1"]', timeout=60_000)
    # A body-17 model with detect_hand / detect_face on: the node says so, and no hand or face toggles.
    warning = page.locator(f'{ESTIMATOR} [data-sdpose="warning"]')
    assert warning.is_visible() and "body-only model" in warning.inner_text()
    assert shown_toggles(frontend, ESTIMATOR) == ["body", "image"]
    assert shown_toggles(frontend, DRAW) == ["body", "image"]  # from the frames: no part beyond the body
    assert not page.locator(f'{DRAW} [data-sdpose="warning"]').is_visible()
    frames = frontend.evaluate("() => app.graph.getNodeById(3).sdposePreview.frames")

    page.wait_for_function(STORED_IS_THE_GRAPH_JS, timeout=60_000)  # what a reload restores; outputs are gone
    page.reload()
    page.wait_for_function("() => window.SDPose && window.app && app.graph && app.graph.getNodeById(3)",
                           timeout=90_000)
    assert page.get_attribute(ESTIMATOR, "data-frames") == "0"
    frontend.evaluate("""() => { window.sdposeCached = [];
      window.comfyAPI.api.api.addEventListener('execution_cached', (e) => window.sdposeCached.push(...e.detail.nodes));
    }""")
    queue(frontend)
    page.wait_for_selector(f'{ESTIMATOR}[data-frames="1"]', timeout=60_000)
    cached = frontend.evaluate("() => window.sdposeCached")
    assert "3" in cached and "4" in cached  # nothing ran again: ComfyUI answered from its cache
    assert frontend.evaluate("() => app.graph.getNodeById(3).sdposePreview.frames") == frames
    assert page.is_enabled(f"{ESTIMATOR} [data-action=edit]")
    assert "body-only model" in page.locator(f'{ESTIMATOR} [data-sdpose="warning"]').inner_text()
    page.click(f"{ESTIMATOR} [data-action=edit]")
    page.wait_for_selector(EDITOR)
    page.keyboard.press("Escape")
    page.wait_for_selector(EDITOR, state="detached")


OUTSIDE = {"people": [{"pose_keypoints_2d": [100.0, 60.0, 1.0] * 16 + [-150.0, 40.0, 1.0, 380.0, 520.0, 1.0]}],
           "canvas_width": 200, "canvas_height": 300}
ALL_JOINTS_IN_VIEW_JS = """
() => {
  const ed = window.SDPose.currentEditor();
  const stage = ed.stage.getBoundingClientRect();
  const body = ed.frame.people[0].pose_keypoints_2d;
  const out = [];
  for (let i = 0; i < body.length / 3; i++) {
    const p = ed.clientPoint(0, 'pose_keypoints_2d', i);
    if (p.x < stage.left || p.x > stage.right || p.y < stage.top || p.y > stage.bottom) out.push(i);
  }
  return out;
}
"""


def zoom_in(page, frontend) -> None:
    box = page.locator(f'{EDITOR} [data-sdpose="editor-canvas"]').bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    for _ in range(6):
        page.mouse.wheel(0, -200)
    assert frontend.evaluate(ALL_JOINTS_IN_VIEW_JS), "zooming in should push the outer joints out of view"


def test_editor_frames_every_joint_and_keeps_unsaved_edits(frontend):
    page = frontend.page
    frontend.evaluate("(frame) => window.SDPose.openPoseEditor({frames: [frame], title: 'outside'})", OUTSIDE)
    page.wait_for_selector(EDITOR)
    # Joints at x = -150 and (380, 520) lie outside the 200 x 300 image: the first view holds them all.
    assert frontend.evaluate(ALL_JOINTS_IN_VIEW_JS) == []
    zoom_in(page, frontend)
    page.click(f"{EDITOR} [data-action=fit]")
    assert frontend.evaluate(ALL_JOINTS_IN_VIEW_JS) == []
    zoom_in(page, frontend)
    box = page.locator(f'{EDITOR} [data-sdpose="editor-canvas"]').bounding_box()
    page.mouse.dblclick(box["x"] + 5, box["y"] + 5)
    assert frontend.evaluate(ALL_JOINTS_IN_VIEW_JS) == []

    # An edit, then clicks on the backdrop: the editor stays, with the edit, and says how to leave.
    start = frontend.evaluate("() => window.SDPose.currentEditor().clientPoint(0, 'pose_keypoints_2d', 16)")
    page.mouse.move(start["x"], start["y"])
    page.mouse.down()
    page.mouse.move(start["x"] + 30, start["y"] + 10, steps=4)
    page.mouse.up()
    edited = frontend.evaluate("() => window.SDPose.currentEditor().frame.people[0].pose_keypoints_2d.slice(48, 50)")
    assert edited != [-150.0, 40.0]
    for _ in range(2):
        page.mouse.click(4, 4)
        assert page.locator(EDITOR).count() == 1
    status = page.locator(f'{EDITOR} [data-sdpose="status"]').inner_text()
    assert "Unsaved changes" in status
    assert frontend.evaluate("() => window.SDPose.currentEditor().frame.people[0].pose_keypoints_2d.slice(48, 50)") \
        == edited
    page.keyboard.press("Escape")  # Esc twice discards, as documented
    assert page.locator(EDITOR).count() == 1
    page.keyboard.press("Escape")
    page.wait_for_selector(EDITOR, state="detached")
    # Nothing changed: a backdrop click closes at once.
    frontend.evaluate("(frame) => window.SDPose.openPoseEditor({frames: [frame], title: 'outside'})", OUTSIDE)
    page.wait_for_selector(EDITOR)
    page.mouse.click(4, 4)
    page.wait_for_selector(EDITOR, state="detached")


def drag_a_joint(page, frontend) -> None:
    target = frontend.evaluate("""() => {
      const ed = window.SDPose.currentEditor();
      const body = ed.frame.people[0].pose_keypoints_2d;
      for (let i = 0; i < 18; i++) if (body[3 * i + 2] >= 0.3) return ed.clientPoint(0, 'pose_keypoints_2d', i);
    }""")
    page.mouse.move(target["x"], target["y"])
    page.mouse.down()
    page.mouse.move(target["x"] + 12, target["y"] + 9, steps=3)
    page.mouse.up()


def test_save_and_use_in_graph_in_one_step(comfy, frontend):
    page = frontend.page
    frontend.evaluate(BUILD_GRAPH_JS, graph(WHOLEBODY))
    queue(frontend)
    # the wholebody run's output (node 3 showed the body model's before)
    page.wait_for_function("() => ((app.graph.getNodeById(3).sdposePreview.output || {}).sdpose_parts || [])"
                           ".length === 4", timeout=120_000)
    assert shown_toggles(frontend, ESTIMATOR) == ["body", "hands", "face", "feet", "image"]
    assert not page.locator(f'{ESTIMATOR} [data-sdpose="warning"]').is_visible()
    load_ids = []
    for name in ("sdpose/first_use.json", "sdpose/first_use_again.json"):
        page.click(f"{ESTIMATOR} [data-action=edit]")
        page.wait_for_selector(EDITOR)
        page.click(f'{EDITOR} [data-sdpose-toggle="hands"]')
        page.click(f'{EDITOR} [data-sdpose-toggle="face"]')
        drag_a_joint(page, frontend)
        page.fill(f'{EDITOR} [data-sdpose="filename"]', name)
        page.click(f"{EDITOR} [data-action=save-use]")
        page.wait_for_selector(f"{EDITOR}[data-load-node]")
        load_ids.append(int(page.get_attribute(EDITOR, "data-load-node")))
        wiring = frontend.evaluate("""(id) => {
          const load = app.graph.getNodeById(id), draw = app.graph.getNodeById(4), est = app.graph.getNodeById(3);
          const link = app.graph.links.get ? app.graph.links.get(draw.inputs[draw.findInputSlot('pose_keypoint')].link)
                                           : app.graph.links[draw.inputs[draw.findInputSlot('pose_keypoint')].link];
          return {type: load.type, file: load.widgets.find((w) => w.name === 'file').value, from: link.origin_id,
                  estimatorLinks: (est.outputs[est.findOutputSlot('POSE_KEYPOINT')].links || []).length,
                  loads: app.graph.nodes.filter((n) => n.type === 'SDPoseNodes.LoadPoseKeypoints').length};
        }""", load_ids[-1])
        assert wiring == {"type": LOAD_NODE, "file": name, "from": load_ids[-1], "estimatorLinks": 0, "loads": 1}
        assert "feeds SDPose Draw Pose #4" in page.locator(f'{EDITOR} [data-sdpose="status"]').inner_text()
        page.keyboard.press("Escape")  # saved: closes at once
        page.wait_for_selector(EDITOR, state="detached")
        frontend.evaluate("() => { window.sdposeDrawn = app.graph.getNodeById(4).sdposePreview.output; }")
        queue(frontend)  # the graph now draws the edited file
        page.wait_for_function("() => app.graph.getNodeById(4).sdposePreview.output !== window.sdposeDrawn",
                               timeout=60_000)
        saved = json.loads((comfy.base / "input" / name).read_text())
        assert frontend.evaluate("() => app.graph.getNodeById(4).sdposePreview.frames") == saved
    assert load_ids[0] == load_ids[1]  # the second edit updates the same Load node


FRAMED_JS = """
async (workflow) => {
  // (comfyui_controlnet_aux is not installed here: no "missing nodes" dialog over the graph)
  await app.loadGraphData(workflow, true, true, workflow.name, {showMissingNodesDialog: false,
                                                                 showMissingModelsDialog: false});
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  const canvas = app.canvas.canvas, rect = canvas.getBoundingClientRect();
  const covered = [];
  let seen = 0;
  for (const n of app.graph.nodes) {
    const y = n.pos[1] - TITLE / 2;
    for (const x of [n.pos[0] + 8, n.pos[0] + n.size[0] / 2, n.pos[0] + n.size[0] - 8]) {
      const [cx, cy] = app.canvas.ds.convertOffsetToCanvas([x, y]);
      const px = rect.left + cx, py = rect.top + cy;
      if (px < 0 || py < 0 || px >= innerWidth || py >= innerHeight) continue;
      if (py > 400 && px > 200) continue;  // the chrome sits along the top and the left edge
      seen++;
      const hit = document.elementFromPoint(px, py);
      if (hit !== canvas) covered.push(`${n.title} at (${Math.round(px)}, ${Math.round(py)}) under ` +
        `${hit && hit.tagName}.${hit && String(hit.className).slice(0, 40)}`);
    }
  }
  return {covered, seen};
}
""".replace("TITLE", str(TITLE_HEIGHT))


@pytest.mark.parametrize("name", sorted(p.name for p in (REPO / "workflows").glob("*.json")
                                        if not p.name.endswith(".api.json")))
def test_shipped_workflows_open_clear_of_the_tab_bar(frontend, name):
    workflow = json.loads((REPO / "workflows" / name).read_text())
    workflow["name"] = name
    result = frontend.evaluate(FRAMED_JS, workflow)
    assert result["seen"] >= 3 and result["covered"] == [], result


def test_error_dialog_names_the_node_by_its_display_name(frontend):
    page = frontend.page
    frontend.evaluate(BUILD_GRAPH_JS, {
        "nodes": [node(1, "SDPoseTest.Pose", [100, 150], {"pose_json": json.dumps(
            [{"people": [], "canvas_width": 64, "canvas_height": 64}])}),
                  node(2, "SDPoseNodes.DrawPose", [500, 150], {"resolution": 16384}, [330, 560]),
                  node(3, "PreviewImage", [900, 150])],
        "links": [[1, 0, 2, "pose_keypoint"], [2, 0, 3, "images"]]})
    queue(frontend)
    dialog = page.locator(".p-dialog").filter(has_text="megapixels")
    dialog.wait_for(timeout=60_000)
    text = dialog.inner_text()
    assert "SDPose Draw Pose" in text and "SDPoseNodes.DrawPose" not in text, text
    page.keyboard.press("Escape")


def test_refused_prompt_dialog_says_what_is_wrong(frontend):
    """A prompt the server refuses before running (here an unknown dropdown value): ComfyUI's dialog names the input
    and the value. (It lists the node by class id, as for every pack: the extension does not patch ComfyUI's API.)"""
    page = frontend.page
    frontend.evaluate(BUILD_GRAPH_JS, {
        "nodes": [node(1, "SDPoseTest.Pose", [100, 150], {"pose_json": json.dumps(
            [{"people": [], "canvas_width": 64, "canvas_height": 64}])}),
                  node(2, "SDPoseNodes.DrawPose", [500, 150], {"resolution": 64}, [330, 560]),
                  node(3, "PreviewImage", [900, 150])],
        "links": [[1, 0, 2, "pose_keypoint"], [2, 0, 3, "images"]]})
    frontend.evaluate("""() => {
      const widget = app.graph.getNodeById(2).widgets.find((w) => w.name === "scale_stick_for_xinsr_cn");
      widget.value = "sideways";
    }""")
    queue(frontend)
    dialog = page.locator(".p-dialog").filter(has_text="sideways")
    dialog.wait_for(timeout=60_000)
    assert "scale_stick_for_xinsr_cn" in dialog.inner_text()
    page.keyboard.press("Escape")


def test_annotate_video_file_shows_the_first_frames_in_its_preview(frontend):
    """SDPose Annotate Video File (input/dance.mp4, 6 frames) shows the poses of its first frames on the node, with
    the frame scrubber, like the Estimator."""
    page = frontend.page
    selector = '[data-sdpose-preview="SDPoseNodes.AnnotateVideoFile"]'
    frontend.evaluate(BUILD_GRAPH_JS, {
        "nodes": [node(1, "SDPoseNodes.ModelLoader", [60, 150], {"model_name": BODY}, [320, 90]),
                  node(2, "SDPoseNodes.AnnotateVideoFile", [420, 150], {
                      "file": "dance.mp4", "filename_prefix": "sdpose/browser_clip", "resolution": 64,
                      "bbox_detector": "None", "flip_test": False, "score_threshold": 0.0}, [360, 900])],
        "links": [[1, 0, 2, "sdpose_model"]]})
    queue(frontend)
    page.wait_for_selector(f'{selector}[data-frames="6"]', timeout=180_000)
    frames = frontend.evaluate("() => app.graph.getNodeById(2).sdposePreview.frames")
    assert len(frames) == 6 and all(len(f["people"]) == 1 for f in frames)
    assert page.locator(f"{selector} [data-person]").count() == 1
