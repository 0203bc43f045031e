// SDPose web extension for ComfyUI (loaded from the pack's WEB_DIRECTORY, no build step).
// - SDPose Estimator and SDPose Draw Pose get a preview of their last output: the skeletons of each frame (frame
//   scrubber for batches), with people and parts toggles, and an "edit" button that opens the keypoint editor.
// - SDPose Load Pose Keypoints gets an "edit pose" button: the file's pose in the editor.
// The nodes send the frames as ui.openpose_json and small background images as ui.sdpose_backgrounds.

import { app } from "../../scripts/app.js";
import { api } from "../../scripts/api.js";
import { BackgroundImages } from "./backgrounds.js";
import {
  availableParts, clearedContext, drawPeople, fitView, framesFromOutput, getDrawThreshold, personColor,
  setDrawThreshold, setLayout,
} from "./pose_model.js";
import { LOAD_NODE, ROUTE, currentEditor, openPoseEditor, refreshLoadNodes } from "./pose_editor.js";
import { el, ensureStyle, toggle } from "./style.js";

const PREVIEW_NODES = new Set(["SDPoseNodes.Estimator", "SDPoseNodes.DrawPose", "SDPoseNodes.AnnotateVideoFile"]);
const PREVIEW_HEIGHT = 260;
const MAX_PERSON_CHIPS = 16;
const PACK_PREFIX = "SDPoseNodes.";
const DISPLAY_NAMES = new Map(); // node class id -> display name, for error dialogs
const CONSTANTS_ROUTE = "/sdpose/constants"; // nodes/web_api.py: the library's constants the drawing follows
const TEST_HOOKS_FLAG = "sdpose_test_hooks";

function viewURL(ref) {
  if (!ref || !ref.filename) return null;
  const query = new URLSearchParams({ filename: ref.filename, subfolder: ref.subfolder || "", type: ref.type || "temp" });
  return api.apiURL(`/view?${query}`);
}

function widgetValue(node, name) {
  const widget = (node.widgets || []).find((w) => w.name === name);
  return widget ? widget.value : undefined;
}

function noSerialize(widget) {
  widget.serialize = false; // not in the workflow's widgets_values
  if (!widget.options) widget.options = {};
  widget.options.serialize = false; // not in the prompt
  return widget;
}

class PosePreview {
  constructor(node) {
    ensureStyle();
    this.node = node;
    this.frames = [];
    this.backgrounds = [];
    this.index = 0;
    this.parts = { body: true, hands: true, face: true, feet: true, image: true };
    this.hidden = new Set();
    this.images = new BackgroundImages(() => this.draw());

    const button = (name, text, handler, tip) => el("button", { "data-action": name, title: tip || text, onclick: handler, text });
    this.prev = button("prev", "◀", () => this.show(this.index - 1), "Previous frame");
    this.next = button("next", "▶", () => this.show(this.index + 1), "Next frame");
    this.slider = el("input", { type: "range", min: 0, max: 0, step: 1, value: 0, "data-sdpose": "frame",
      oninput: () => this.show(Number(this.slider.value)) });
    this.label = el("span", { "data-sdpose": "frame-label", text: "" });
    this.edit = button("edit", "✎ edit", () => this.openEditor(), "Open this frame in the keypoint editor");
    this.people = el("span", { class: "sdpose-row", "data-sdpose": "people" });
    this.toggles = Object.fromEntries(["body", "hands", "face", "feet", "image"].map((part) =>
      [part, toggle(part, true, (on) => { this.parts[part] = on; this.draw(); }, part)]));
    const toggles = Object.values(this.toggles).map((t) => t.label);
    this.warning = el("div", { class: "sdpose-warning", "data-sdpose": "warning" });
    this.warning.style.display = "none";
    this.canvas = el("canvas", { "data-sdpose": "preview-canvas" });
    this.empty = el("div", { class: "sdpose-empty", text: "Run the workflow to preview the poses here." });
    this.box = el("div", { class: "sdpose-canvas-box" }, this.canvas, this.empty);
    this.controls = [el("div", { class: "sdpose-row" }, this.prev, this.slider, this.next, this.label, this.edit),
      el("div", { class: "sdpose-row" }, ...toggles, this.people)];
    this.root = el("div", { class: "sdpose-preview", "data-sdpose-preview": node.type, "data-frames": 0 },
      this.warning, ...this.controls, this.box);
    this.widget = noSerialize(node.addDOMWidget("sdpose_preview", "sdpose_preview", this.root, {
      serialize: false,
      getValue: () => "",
      setValue: () => {},
      getMinHeight: () => (this.frames.length ? PREVIEW_HEIGHT : 70),
      onDraw: () => this.syncFromStore(),
    }));
    this.resizer = new ResizeObserver(() => this.draw());
    this.resizer.observe(this.box);
    this.update();
  }

  /** The front-end keeps each node's last output (app.nodeOutputs) and restores it when a workflow tab comes back,
   * recreating the nodes: pick it up from there when it is not the output already shown. */
  syncFromStore() {
    const output = app.nodeOutputs && app.nodeOutputs[String(this.node.id)];
    if (output && output !== this.output && "openpose_json" in output) this.setOutput(output);
  }

  setOutput(output) {
    this.output = output;
    const frames = framesFromOutput(output);
    if (!frames.length && !(output && "openpose_json" in output)) return; // not our payload
    const peopleBefore = (this.frames[this.index] || { people: [] }).people.length;
    this.frames = frames;
    this.backgrounds = ((output && output.sdpose_backgrounds) || []).map(viewURL);
    // Parts the model cannot predict (a body-17 model has no hands or face) get no toggle: it would do nothing.
    const parts = availableParts(frames, output && output.sdpose_parts);
    for (const [part, { label }] of Object.entries(this.toggles)) {
      if (part !== "image") label.style.display = parts.has(part) ? "" : "none";
    }
    // The feet show as the node drew them in its IMAGE: ticked only when its draw_feet is on (DWPose never draws
    // feet). The widget holds the value the run used: a change re-runs the node and sends a new output.
    const drawFeet = widgetValue(this.node, "draw_feet");
    if (typeof drawFeet === "boolean") this.showPart("feet", drawFeet);
    const warnings = (output && output.sdpose_warnings) || [];
    this.warning.textContent = warnings.join(" ");
    this.warning.style.display = warnings.length ? "" : "none";
    this.index = Math.min(this.index, Math.max(frames.length - 1, 0));
    if ((this.frames[this.index] || { people: [] }).people.length !== peopleBefore) this.hidden.clear();
    this.update();
    this.fitNode();
  }

  showPart(part, on) {
    this.parts[part] = on;
    this.toggles[part].input.checked = on;
  }

  /** Make the node tall enough for the preview once there is something to show. */
  fitNode() {
    const node = this.node;
    const need = node.computeSize();
    const width = Math.max(node.size[0], need[0], 300);
    const height = Math.max(node.size[1], need[1]);
    if (width !== node.size[0] || height !== node.size[1]) node.setSize([width, height]);
    node.setDirtyCanvas(true, true);
  }

  show(i) {
    this.index = Math.min(Math.max(i, 0), Math.max(this.frames.length - 1, 0));
    this.update();
  }

  update() {
    const n = this.frames.length;
    const frame = this.frames[this.index];
    this.root.dataset.frames = n;
    this.root.dataset.frame = this.index;
    this.root.dataset.people = frame ? frame.people.length : 0;
    this.slider.max = Math.max(n - 1, 0);
    this.slider.value = this.index;
    this.slider.disabled = n <= 1;
    this.prev.disabled = this.index <= 0;
    this.next.disabled = this.index >= n - 1;
    this.edit.disabled = !n;
    this.label.textContent = n ? `${this.index + 1} / ${n}` : "";
    this.empty.style.display = n ? "none" : "";
    for (const row of this.controls) row.style.display = n ? "" : "none";
    this.people.replaceChildren();
    const count = frame ? frame.people.length : 0;
    for (let i = 0; i < Math.min(count, MAX_PERSON_CHIPS); i++) {
      const chip = el("button", { class: `sdpose-chip${this.hidden.has(i) ? " sdpose-off" : ""}`, "data-person": i,
        title: `Show or hide person ${i + 1}`, onclick: () => {
          if (this.hidden.has(i)) this.hidden.delete(i);
          else this.hidden.add(i);
          this.update();
        } }, el("span", { class: "sdpose-swatch", style: `background:${personColor(i)}` }), String(i + 1));
      this.people.append(chip);
    }
    if (count > MAX_PERSON_CHIPS) this.people.append(el("span", { text: `+${count - MAX_PERSON_CHIPS}` }));
    if (frame && !count) this.people.append(el("span", { text: "no person", style: "color:#888" }));
    this.draw();
  }

  background() {
    return this.parts.image ? this.images.frame(this.backgrounds, this.index) : null;
  }

  draw() {
    const w = this.box.clientWidth, h = this.box.clientHeight;
    if (!w || !h) return;
    const ctx = clearedContext(this.canvas, w, h, "#000");
    const frame = this.frames[this.index];
    if (!frame) return;
    const view = fitView(frame, w, h, 2);
    const img = this.background();
    if (img) {
      ctx.globalAlpha = 0.5;
      ctx.drawImage(img, view.x, view.y, frame.canvas_width * view.scale, frame.canvas_height * view.scale);
      ctx.globalAlpha = 1;
    }
    ctx.strokeStyle = "#333";
    ctx.strokeRect(view.x - 0.5, view.y - 0.5, frame.canvas_width * view.scale + 1, frame.canvas_height * view.scale + 1);
    drawPeople(ctx, frame, view, { parts: this.parts, hidden: this.hidden });
  }

  openEditor() {
    if (!this.frames.length) return;
    const title = `Edit pose: ${this.node.title || this.node.type} (#${this.node.id})`;
    openPoseEditor({ frames: this.frames, frame: this.index, backgrounds: this.backgrounds, title, node: this.node,
      filename: "sdpose/edited_pose.json" });
  }

  remove() {
    this.resizer.disconnect();
  }
}

function notify(detail, severity = "error") {
  const toast = app.extensionManager && app.extensionManager.toast;
  if (toast && toast.add) toast.add({ severity, summary: "SDPose", detail, life: 6000 });
  else alert(`SDPose: ${detail}`);
}

async function editLoadedFile(node) {
  const file = widgetValue(node, "file");
  if (!file) return notify("Pick a pose keypoint file first (put .json files in ComfyUI's input folder).");
  const response = await api.fetchApi(`${ROUTE}?${new URLSearchParams({ file })}`);
  let result = {};
  try {
    result = await response.json();
  } catch (_) {
    result = { error: `${response.status} ${response.statusText}` };
  }
  if (!response.ok) return notify(`Cannot open ${file}: ${result.error || response.status}`);
  const plain = file.replace(/ \[output\]$/, "");
  const stem = plain.replace(/\.json$/i, "");
  openPoseEditor({ frames: result.pose_keypoint, title: `Edit pose: ${file}`, node,
    filename: /_edited(_\d+)?$/.test(stem) ? `${stem}.json` : `${stem}_edited.json` });
}

// Draw Pose's scale_stick_for_xinsr_cn was a boolean before 0.2.0; it is now the enable/disable choice of the
// Estimator (and DWPose). Workflows saved with the boolean load with the same setting.
const LEGACY_TOGGLES = { "SDPoseNodes.DrawPose": ["scale_stick_for_xinsr_cn"] };

function upgradeLegacyToggles(node, names) {
  for (const widget of node.widgets || []) {
    if (names.includes(widget.name) && typeof widget.value === "boolean") {
      widget.value = widget.value ? "enable" : "disable";
    }
  }
}

/** Execution-error dialogs name the pack's nodes as users see them ("SDPose Draw Pose"), not by class id. The
 * front-end titles that dialog with the event's node_type, read by its own execution_error listener. This listener is
 * added while ComfyUI loads the extension modules, before the app adds its listeners (they share the event's detail),
 * and renames only the pack's own node types. (A prompt the server refuses before running has no event to listen
 * to: its dialog keeps the class id, as for every pack.) */
api.addEventListener("execution_error", ({ detail }) => {
  if (detail && DISPLAY_NAMES.has(detail.node_type)) detail.node_type = DISPLAY_NAMES.get(detail.node_type);
});

/** DWPose's keypoint threshold and drawing layout from the pack's Python definition. Without them the console says
 * why, and the preview and the editor show every scored point, white, without limbs (pose_model.js). */
async function loadConstants() {
  try {
    const response = await api.fetchApi(CONSTANTS_ROUTE);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const constants = await response.json();
    setDrawThreshold(constants.draw_threshold);
    setLayout(constants);
  } catch (err) {
    console.warn(`SDPose: could not read ${CONSTANTS_ROUTE} (${err.message || err}); the pose preview and editor ` +
      `show every point with a positive score, without limbs or colours.`);
  }
}

app.registerExtension({
  name: "sdpose.PosePreviewAndEditor",

  async init() {
    await loadConstants(); // before the nodes are registered, so before any preview draws
  },

  async beforeRegisterNodeDef(nodeType, nodeData) {
    if (nodeData.name.startsWith(PACK_PREFIX)) DISPLAY_NAMES.set(nodeData.name, nodeData.display_name || nodeData.name);
    if (LEGACY_TOGGLES[nodeData.name]) {
      const configure = nodeType.prototype.onConfigure;
      nodeType.prototype.onConfigure = function () {
        const result = configure ? configure.apply(this, arguments) : undefined;
        upgradeLegacyToggles(this, LEGACY_TOGGLES[nodeData.name]);
        return result;
      };
    }
    if (PREVIEW_NODES.has(nodeData.name)) {
      const created = nodeType.prototype.onNodeCreated;
      nodeType.prototype.onNodeCreated = function () {
        const result = created ? created.apply(this, arguments) : undefined;
        this.sdposePreview = new PosePreview(this);
        return result;
      };
      const executed = nodeType.prototype.onExecuted;
      nodeType.prototype.onExecuted = function (output) {
        const result = executed ? executed.apply(this, arguments) : undefined;
        if (this.sdposePreview) this.sdposePreview.setOutput(output);
        return result;
      };
      const removed = nodeType.prototype.onRemoved;
      nodeType.prototype.onRemoved = function () {
        if (this.sdposePreview) this.sdposePreview.remove();
        return removed ? removed.apply(this, arguments) : undefined;
      };
    } else if (nodeData.name === LOAD_NODE) {
      const created = nodeType.prototype.onNodeCreated;
      nodeType.prototype.onNodeCreated = function () {
        const result = created ? created.apply(this, arguments) : undefined;
        noSerialize(this.addWidget("button", "✎ edit pose", null, () => {
          editLoadedFile(this).catch((err) => notify(String(err.message || err)));
        }));
        return result;
      };
    }
  },
});

// For the browser tests only (tests/integration/), when the page is opened with ?sdpose_test_hooks in its address.
if (new URLSearchParams(window.location.search).has(TEST_HOOKS_FLAG)) {
  window.SDPose = { openPoseEditor, currentEditor, refreshLoadNodes, drawThreshold: getDrawThreshold };
}
