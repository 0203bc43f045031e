"""web/: the pose preview and the keypoint editor in the real ComfyUI front-end, driven in headless Chromium.

One real server (the session's tiny-model ComfyUI), one browser page. The graph is built in the page and queued by
the front-end itself (app.queuePrompt), so the preview is fed by the real websocket 'executed' messages. The editor
is driven with real mouse and keyboard events; the saved file is read back from the server's input folder and fed
through SDPose Load Pose Keypoints -> SDPose Draw Pose. Screenshots go to $SDPOSE_SCREENSHOTS when set.
"""

from __future__ import annotations

import base64
import io
import json
import os
from pathlib import Path

import pytest

from comfy_helpers import BUILD_GRAPH_JS, PACK_NAME, REPO, TEST_HOOKS, WHOLEBODY

BODY = "pose_keypoints_2d"
SAVED = "sdpose/web_edit.json"
ESTIMATOR = '[data-sdpose-preview="SDPoseNodes.Estimator"]'
DRAW = '[data-sdpose-preview="SDPoseNodes.DrawPose"]'
EDITOR = '[data-sdpose="editor"]'


def shot(page, name: str) -> None:
    folder = os.environ.get("SDPOSE_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"))


def node(nid, type_, pos, widgets=None, size=None):
    spec = {"id": nid, "type": type_, "pos": pos, "widgets": widgets or {}}
    if size:
        spec["size"] = size
    return spec


GRAPH = {
    "nodes": [
        node(1, "LoadImage", [10, 10], {"image": "person.png"}),
        node(2, "RepeatImageBatch", [10, 400], {"amount": 2}),
        node(3, "SDPoseNodes.ModelLoader", [10, 520], {"model_name": WHOLEBODY}),
        node(4, "SDPoseNodes.Estimator", [340, 10], {"bbox_detector": "yolox_l.onnx", "resolution": 128,
                                                     "flip_test": False, "score_threshold": 0.0}, [330, 560]),
        node(5, "SDPoseNodes.DrawPose", [700, 10], {"resolution": 0, "overlay_opacity": 0.5}, [330, 560]),
        node(6, "PreviewImage", [1060, 10]),
    ],
    "links": [[1, 0, 2, "image"], [2, 0, 4, "image"], [3, 0, 4, "sdpose_model"],
              [4, "POSE_KEYPOINT", 5, "pose_keypoint"],
              [2, 0, 5, "image"], [5, 0, 6, "images"]],
}

DRAW_FRAME_JS = """
async ({frame, pack}) => {
  const model = await import(`/extensions/${pack}/pose_model.js`);
  const canvas = document.createElement('canvas');
  canvas.width = frame.canvas_width;
  canvas.height = frame.canvas_height;
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#000';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  model.drawPeople(ctx, frame, {scale: 1, x: 0, y: 0}, {minScreen: 0, maxScreen: 1e9, parts: {feet: false}});
  return canvas.toDataURL('image/png');
}
"""

COLORED_PIXELS_JS = """
(selector) => {
  const canvas = document.querySelector(selector + ' canvas');
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let colored = 0;
  for (let i = 0; i < data.length; i += 4) {
    const [r, g, b] = [data[i], data[i + 1], data[i + 2]];
    if (Math.max(r, g, b) - Math.min(r, g, b) > 60) colored++;  // skeleton colours, not the grey background image
  }
  return colored;
}
"""

# The body joint of person 1 in the frame shown that is farthest from every other drawn point (body and feet only:
# the test hides hands and face), so a real mouse press on it grabs exactly that joint.
PICK_JOINT_JS = """
() => {
  const ed = window.SDPose.currentEditor();
  const frame = ed.frame;
  const all = [];
  frame.people.forEach((p, person) => {
    for (const key of ['pose_keypoints_2d', 'foot_keypoints_2d']) {
      const flat = p[key] || [];
      for (let i = 0; i < flat.length / 3; i++)
        if (flat[3*i+2] >= 0.3) all.push({person, key, index: i, x: flat[3*i], y: flat[3*i+1]});
    }
  });
  let best = null;
  for (const a of all) {
    if (a.person !== 0 || a.key !== 'pose_keypoints_2d' || a.index === 14 || a.index === 15) continue;
    let d = Infinity;
    for (const b of all) if (b !== a) d = Math.min(d, Math.hypot(a.x - b.x, a.y - b.y));
    if (!best || d > best.d) best = {...a, d};
  }
  const v = ed.currentView();
  return {...best, scale: v.scale, client: ed.clientPoint(0, 'pose_keypoints_2d', best.index),
          width: frame.canvas_width, height: frame.canvas_height};
}
"""


def drawn_in(page, frame):
    """``frame`` drawn by web/pose_model.js in ``page`` at scale 1 on black, as an RGB array."""
    import numpy as np
    from PIL import Image

    url = page.evaluate(DRAW_FRAME_JS, {"frame": frame, "pack": PACK_NAME})
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB"), dtype=int)


def wait_preview(page, selector: str, frames: int, timeout: float = 120_000) -> None:
    page.wait_for_selector(f'{selector}[data-frames="{frames}"]', timeout=timeout)


def queue(frontend) -> None:
    frontend.evaluate("async () => { await app.queuePrompt(0, 1); }")


def editor_point(frontend, index: int):
    return frontend.evaluate(f"() => window.SDPose.currentEditor().frame.people[0].{BODY}.slice({3 * index}, "
                             f"{3 * index + 3})")


def test_preview_editor_save_and_load_downstream(comfy, yolox, frontend):
    page = frontend.page
    frontend.evaluate("() => { app.canvas.ds.scale = 1; app.canvas.ds.offset = [70, 50]; }")
    frontend.evaluate(BUILD_GRAPH_JS, GRAPH)
    # Before a run the preview only says what it will show; it adds nothing to the prompt or the workflow.
    assert page.locator(f'{ESTIMATOR}[data-frames="0"]').count() == 1
    prompt = frontend.evaluate("async () => (await app.graphToPrompt()).output")
    assert "sdpose_preview" not in prompt["4"]["inputs"] and "sdpose_preview" not in prompt["5"]["inputs"]

    queue(frontend)
    wait_preview(page, ESTIMATOR, 2)
    wait_preview(page, DRAW, 2)
    # The background images load (the preview draws them once loaded: background() returns them then).
    page.wait_for_function("() => [4, 5].every((id) => { const p = app.graph.getNodeById(id).sdposePreview;"
                           " return p.background() && (p.draw(), true); })", timeout=30_000)
    shot(page, "1-preview")
    frames = frontend.evaluate("() => app.graph.getNodeById(4).sdposePreview.frames")
    assert len(frames) == 2 and len(frames[0]["people"]) == len(yolox) == 2
    for selector in (ESTIMATOR, DRAW):
        assert page.locator(f"{selector} [data-person]").count() == 2  # one toggle per person
        with_image = frontend.evaluate(COLORED_PIXELS_JS, selector)
        page.click(f'{selector} [data-sdpose-toggle="image"]')  # skeletons only, on black
        assert with_image > frontend.evaluate(COLORED_PIXELS_JS, selector) > 300, selector

    # Toggles: hide person 1, then the body: fewer skeleton pixels; the frame scrubber moves to frame 2.
    full = frontend.evaluate(COLORED_PIXELS_JS, ESTIMATOR)
    page.click(f'{ESTIMATOR} [data-person="0"]')
    one = frontend.evaluate(COLORED_PIXELS_JS, ESTIMATOR)
    page.click(f'{ESTIMATOR} [data-sdpose-toggle="body"]')
    fewer = frontend.evaluate(COLORED_PIXELS_JS, ESTIMATOR)
    assert full > one > fewer, (full, one, fewer)
    page.click(f'{ESTIMATOR} [data-person="0"]')
    page.click(f'{ESTIMATOR} [data-sdpose-toggle="body"]')
    assert frontend.evaluate(COLORED_PIXELS_JS, ESTIMATOR) == full
    page.click(f"{ESTIMATOR} [data-action=next]")
    assert page.get_attribute(ESTIMATOR, "data-frame") == "1"
    assert page.input_value(f'{ESTIMATOR} [data-sdpose="frame"]') == "1"

    # The editor opens on that frame; hands and face hidden so the mouse grabs body joints only.
    page.click(f"{ESTIMATOR} [data-action=edit]")
    page.wait_for_selector(f'{EDITOR}[data-frame="1"]')
    page.click(f'{EDITOR} [data-sdpose-toggle="hands"]')
    page.click(f'{EDITOR} [data-sdpose-toggle="face"]')
    target = frontend.evaluate(PICK_JOINT_JS)
    before = editor_point(frontend, target["index"])
    # Drag 40 screen pixels towards the middle of the frame, with real mouse events.
    dx = 40 if target["x"] < target["width"] / 2 else -40
    dy = 30 if target["y"] < target["height"] / 2 else -30
    x, y = target["client"]["x"], target["client"]["y"]
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + dx / 2, y + dy / 2, steps=4)
    page.mouse.move(x + dx, y + dy, steps=4)
    page.mouse.up()
    moved = editor_point(frontend, target["index"])
    expected = [before[0] + dx / target["scale"], before[1] + dy / target["scale"]]
    assert moved[0] == pytest.approx(expected[0], abs=0.01) and moved[1] == pytest.approx(expected[1], abs=0.01)
    shot(page, "2-editor-dragged")

    # Undo / redo from the keyboard; the graph's own undo must not react (the workflow keeps its nodes).
    nodes = frontend.evaluate("() => app.graph.nodes.length")
    page.keyboard.press("Control+z")
    assert editor_point(frontend, target["index"]) == before
    page.keyboard.press("Control+y")
    assert editor_point(frontend, target["index"]) == moved
    # Add a person, delete it (it is selected), undo twice: back to the two people, the joint still moved.
    page.click(f"{EDITOR} [data-action=add-person]")
    assert page.get_attribute(EDITOR, "data-people") == "3"
    shot(page, "3-editor-added-person")
    page.click(f"{EDITOR} [data-action=delete-person]")
    assert page.get_attribute(EDITOR, "data-people") == "2"
    page.keyboard.press("Control+z")
    assert page.get_attribute(EDITOR, "data-people") == "3"
    page.keyboard.press("Control+z")
    assert page.get_attribute(EDITOR, "data-people") == "2"
    assert editor_point(frontend, target["index"]) == moved
    frontend.evaluate("() => app.canvas.selectNode(app.graph.getNodeById(6))")
    page.keyboard.press("Delete")  # no joint selected: the editor says so, and ComfyUI deletes no node
    assert frontend.evaluate("() => app.graph.nodes.length") == nodes

    # Save into input/ through the route; a second save without overwrite is refused with a free name offered.
    page.fill(f'{EDITOR} [data-sdpose="filename"]', SAVED)
    page.click(f"{EDITOR} [data-action=save]")
    page.wait_for_selector(f'{EDITOR}[data-saved="{SAVED}"]')
    saved = json.loads((comfy.base / "input" / SAVED).read_text())
    assert len(saved) == 2 and [len(f["people"]) for f in saved] == [2, 2]
    start = 3 * target["index"]
    assert saved[1]["people"][0][BODY][start: start + 2] == pytest.approx(expected, abs=0.01)
    untouched = json.loads(json.dumps(frames))
    untouched[1]["people"][0][BODY][3 * target["index"]: 3 * target["index"] + 2] = \
        saved[1]["people"][0][BODY][3 * target["index"]: 3 * target["index"] + 2]
    assert saved == untouched  # only that joint changed
    page.click(f"{EDITOR} [data-action=save]")
    page.wait_for_selector(f'{EDITOR} [data-sdpose="status"].sdpose-error')
    assert page.input_value(f'{EDITOR} [data-sdpose="filename"]') == "sdpose/web_edit_00001_.json"
    assert not (comfy.base / "input" / "sdpose" / "web_edit_00001_.json").exists()
    shot(page, "4-editor-saved")

    # The Load Pose Keypoints node lists the file and feeds it downstream: draw it again.
    assert SAVED in comfy.get("/object_info/SDPoseNodes.LoadPoseKeypoints")[
        "SDPoseNodes.LoadPoseKeypoints"]["input"]["required"]["file"][1]["options"]
    page.click(f"{EDITOR} [data-action=add-load-node]")
    page.keyboard.press("Escape")
    page.wait_for_selector(EDITOR, state="detached")
    load = frontend.evaluate(f"""async () => {{
      const load = app.graph.nodes.find((n) => n.type === 'SDPoseNodes.LoadPoseKeypoints');
      const file = load.widgets.find((w) => w.name === 'file');
      for (let i = 0; i < 50 && file.value !== {json.dumps(SAVED)}; i++) await new Promise((r) => setTimeout(r, 100));
      const draw = LiteGraph.createNode('SDPoseNodes.DrawPose');
      draw.pos = [load.pos[0] + 360, load.pos[1]];
      app.graph.add(draw);
      load.connect(0, draw, draw.findInputSlot('pose_keypoint'));
      const preview = LiteGraph.createNode('PreviewImage');
      preview.pos = [draw.pos[0] + 360, draw.pos[1]];
      app.graph.add(preview);
      draw.connect(0, preview, 0);
      for (const n of [4, 5, 6]) app.graph.remove(app.graph.getNodeById(n));
      return {{id: load.id, draw: draw.id, value: file.value, values: file.options.values}};
    }}""")
    assert load["value"] == SAVED and SAVED in load["values"]
    queue(frontend)
    page.wait_for_function(f"() => app.graph.getNodeById({load['draw']}).sdposePreview.frames.length === 2",
                           timeout=60_000)
    drawn = frontend.evaluate(f"() => app.graph.getNodeById({load['draw']}).sdposePreview.frames")
    assert drawn == saved
    shot(page, "5-load-and-draw")

    # The Load node's own "edit pose" button (drawn on the graph canvas: a real click there) opens the file.
    button = frontend.evaluate(f"""() => {{
      const load = app.graph.getNodeById({load['id']});
      app.canvas.centerOnNode(load);  // the button is the node's last widget: keep it inside the viewport
      app.canvas.draw(true, true);
      const widget = load.widgets.find((w) => w.type === 'button');
      const [x, y] = app.canvas.ds.convertOffsetToCanvas([load.pos[0] + load.size[0] / 2, load.pos[1] + widget.y + 10]);
      const rect = app.canvas.canvas.getBoundingClientRect();
      return {{x: rect.left + x, y: rect.top + y}};
    }}""")
    page.mouse.click(button["x"], button["y"])
    page.wait_for_selector(f'{EDITOR}[data-people="2"]')
    assert frontend.evaluate("() => window.SDPose.currentEditor().frames") == saved
    assert page.input_value(f'{EDITOR} [data-sdpose="filename"]') == "sdpose/web_edit_edited.json"
    page.keyboard.press("Escape")  # nothing changed: closes at once
    page.wait_for_selector(EDITOR, state="detached")
    assert not [e for e in frontend.errors if "sdpose" in e.lower()], frontend.errors


def test_preview_draws_like_dwpose(frontend):
    """web/pose_model.js draws the golden DWPose poses (tests/data/golden) much as sdpose_core.pose.render does,
    which is
    pixel-identical to comfyui_controlnet_aux (browser anti-aliasing aside)."""
    import numpy as np

    from sdpose_core.pose.render import render_frame

    for name in ("wholebody_three", "body_single"):
        frame = json.loads((REPO / "tests" / "data" / "golden" / f"{name}.pose.json").read_text())
        frame = frame[0] if isinstance(frame, list) else frame
        drawn = drawn_in(frontend.page, frame)
        expected = render_frame(frame, resolution=None, feet=False).astype(int)
        assert drawn.shape == expected.shape
        ours, theirs = drawn.max(-1) > 40, expected.max(-1) > 40
        assert (ours & theirs).sum() / (ours | theirs).sum() > 0.8, name  # the same shapes where they are drawn
        both = ours & theirs
        assert (np.abs(drawn - expected).max(-1) < 60)[both].mean() > 0.85, name  # in the same colours


BACKGROUND_CACHE_JS = """
async ({pack}) => {
  const { BackgroundImages, MAX_IMAGES } = await import(`/extensions/${pack}/backgrounds.js`);
  const url = (i) => {
    const c = document.createElement('canvas');
    c.width = 2 + i;
    c.height = 2;
    return c.toDataURL();
  };
  let loads = 0;
  const cache = new BackgroundImages(() => loads++, 3);
  const sizes = [];
  for (let i = 0; i < 10; i++) { cache.image(url(i)); sizes.push(cache.size); }
  cache.image(url(7));  // shown again: the most recently used
  cache.image(url(10));  // drops the least recently used, 8
  const kept = [...cache.images.keys()].map((u) => [...Array(11).keys()].find((i) => url(i) === u));
  let img = null;
  for (let t = 0; t < 200 && !img; t++) {
    img = cache.frame([url(9), url(10)], 5);  // past the last URL: the last one
    if (!img) await new Promise((r) => setTimeout(r, 25));
  }
  return { max: MAX_IMAGES, sizes, kept, width: img ? img.naturalWidth : 0, loads, none: cache.frame([], 0) };
}
"""


def test_background_cache_stays_capped(frontend):
    """web/backgrounds.js, the one loader of the preview and the editor: at most `max` images, least recently used
    dropped first, loaded images handed out (and a redraw asked for)."""
    result = frontend.evaluate(BACKGROUND_CACHE_JS, {"pack": PACK_NAME})
    assert result["max"] == 64
    assert result["sizes"] == [1, 2, 3, 3, 3, 3, 3, 3, 3, 3]
    assert result["kept"] == [9, 7, 10]
    assert result["width"] == 12 and result["loads"] >= 1 and result["none"] is None


CLEARED_CONTEXT_JS = """
async ({pack}) => {
  const { clearedContext } = await import(`/extensions/${pack}/pose_model.js`);
  const canvas = document.createElement('canvas');
  const ctx = clearedContext(canvas, 30, 20, '#112233');
  ctx.fillStyle = '#ff0000';
  ctx.fillRect(10, 5, 1, 1);  // one CSS pixel
  const px = (x, y) => [...canvas.getContext('2d').getImageData(x, y, 1, 1).data];
  const red = [];
  for (let y = 0; y < canvas.height; y++)
    for (let x = 0; x < canvas.width; x++) if (px(x, y)[0] === 255) red.push([x, y]);
  return { dpr: window.devicePixelRatio, width: canvas.width, height: canvas.height,
           corner: px(canvas.width - 1, canvas.height - 1), red };
}
"""


@pytest.mark.parametrize("dpr", [1, 2])
def test_canvases_draw_in_css_pixels_at_the_screens_density(comfy, frontend, dpr):
    """pose_model.clearedContext, the one canvas set-up of the preview and the editor, in a Chromium page whose
    screen has that pixel density: the backing store has the density (sharp on high-density screens), drawing stays
    in CSS pixels, the background is cleared."""
    page = frontend.browser.new_page(device_scale_factor=dpr)
    try:
        page.goto(comfy.url + TEST_HOOKS)
        result = page.evaluate(CLEARED_CONTEXT_JS, {"pack": PACK_NAME})
    finally:
        page.close()
    assert result["dpr"] == dpr
    assert (result["width"], result["height"]) == (30 * dpr, 20 * dpr)
    assert result["corner"] == [0x11, 0x22, 0x33, 255]
    assert result["red"] == [[10 * dpr + i, 5 * dpr + j] for j in range(dpr) for i in range(dpr)]


def test_routes_are_registered_and_confined(comfy):
    """The editor's routes in the real server (also under /api), refusing what would leave input/."""
    frame = {"people": [], "canvas_width": 64, "canvas_height": 64}
    status, body = comfy.request("POST", "/api/sdpose/keypoints", {"filename": "../escape.json",
                                                                    "pose_keypoint": [frame]})
    assert status == 400 and "'..'" in body["error"]
    assert not (comfy.base / "escape.json").exists()
    status, body = comfy.request("POST", "/sdpose/keypoints",
                                 {"filename": "sdpose/route check", "pose_keypoint": frame})
    assert status == 200 and body["file"] == "sdpose/route check.json"
    status, body = comfy.request("GET", "/sdpose/keypoints?file=sdpose/route%20check.json")
    assert status == 200 and body["pose_keypoint"] == [frame]
    for bad in ("../comfyui.log", "/etc/passwd", "sdpose/../../comfyui.log", "person.png"):
        status, body = comfy.request("GET", "/sdpose/keypoints?file=" + bad)
        assert status == 400, (bad, status, body)
    from sdpose_core import keypoints as k

    for route in ("/sdpose/constants", "/api/sdpose/constants"):
        status, body = comfy.request("GET", route)
        assert status == 200 and body["draw_threshold"] == k.DWPOSE_THRESHOLD
        assert body["limbs"] == [list(p) for p in k.LIMBS] and body["hand_colors"] == [list(c) for c in k.HAND_COLORS]


# One body: the nose just above DWPose's threshold, the right shoulder just below it (raw scores, as ComfyUI-native).
def threshold_frame() -> dict:
    from sdpose_core.keypoints import DWPOSE_THRESHOLD

    body = [0.0] * 54
    body[0:3] = [50.0, 50.0, DWPOSE_THRESHOLD + 0.05]
    body[6:9] = [150.0, 50.0, DWPOSE_THRESHOLD - 0.05]
    return {"people": [{BODY: body, "face_keypoints_2d": None, "hand_left_keypoints_2d": None,
                        "hand_right_keypoints_2d": None}], "canvas_width": 200, "canvas_height": 100}


def lit(image) -> list[bool]:
    """Whether the nose and the right shoulder of threshold_frame() are drawn."""
    return [bool(image[50, x].max() > 40) for x in (50, 150)]


# The extension reads the constants in its init hook, which ComfyUI awaits before it registers the nodes.
EXTENSION_READY_JS = ("() => window.SDPose && window.LiteGraph && "
                      "LiteGraph.registered_node_types['SDPoseNodes.Estimator']")


def test_preview_draws_by_the_librarys_threshold(comfy, frontend):
    """The front end has no copy of DWPose's threshold: it draws by sdpose_core.keypoints' value, as render does, and
    the nodes' score_threshold defaults to it."""
    from sdpose_core.keypoints import DWPOSE_THRESHOLD
    from sdpose_core.pose.render import render_frame

    frontend.page.wait_for_function(EXTENSION_READY_JS, timeout=60_000)
    assert frontend.evaluate("() => window.SDPose.drawThreshold()") == DWPOSE_THRESHOLD
    frame = threshold_frame()
    assert lit(drawn_in(frontend.page, frame)) == lit(render_frame(frame, resolution=None)) == [True, False]
    for node in ("SDPoseNodes.Estimator", "SDPoseNodes.AnnotateVideoFile"):
        inputs = comfy.get(f"/object_info/{node}")[node]["input"]
        assert inputs["optional"]["score_threshold"][1]["default"] == DWPOSE_THRESHOLD, node


def test_preview_without_the_constants_route_shows_every_scored_point(comfy, frontend):
    """If GET /sdpose/constants fails, the extension still loads and draws every point with a positive score (so
    DWPose files, scored 1 or 0, look the same), and the console says why."""
    page = frontend.browser.new_page(viewport={"width": 1200, "height": 800})
    warnings, errors = [], []
    page.on("console", lambda message: warnings.append(message.text) if message.type == "warning" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.route("**/sdpose/constants", lambda route: route.abort())
    try:
        page.goto(comfy.url + TEST_HOOKS)
        page.wait_for_function(EXTENSION_READY_JS, timeout=90_000)
        assert page.evaluate("() => window.SDPose.drawThreshold()") == 0
        assert any("SDPose: could not read /sdpose/constants" in w for w in warnings), warnings
        assert lit(drawn_in(page, threshold_frame())) == [True, True]
        assert page.evaluate("() => { const node = LiteGraph.createNode('SDPoseNodes.Estimator'); app.graph.add(node);"
                             " return Boolean(node.sdposePreview); }")
        assert not [e for e in errors if "sdpose" in e.lower()], errors
    finally:
        page.close()
