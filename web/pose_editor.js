// SDPose web extension: the keypoint editor dialog.
// Open a pose (all frames of a node's last output, or a file), drag joints, add / delete people and joints, undo and
// redo, then save the edited POSE_KEYPOINT as JSON into ComfyUI's input folder (POST /sdpose/keypoints), where the
// "SDPose Load Pose Keypoints" node lists it. "Save & use in graph" does that and puts the file in the graph in the
// same click: a Load Pose Keypoints node (added once per source node, reused after) takes over the consumers of the
// source's POSE_KEYPOINT (for Draw Pose: feeds its own pose_keypoint input), and the consumers of an Estimator's pose
// IMAGE (a ControlNet, a preview) get a Draw Pose fed by it, drawing with the Estimator's settings. The edit shows in
// the graph as the nodes it goes through; the Estimator keeps DWPose's inputs and outputs unchanged.

import { app } from "../../scripts/app.js";
import { api } from "../../scripts/api.js";
import { BackgroundImages } from "./backgrounds.js";
import {
  BODY, FACE, LEFT_HAND, RIGHT_HAND, clearedContext, clone, drawPeople, drawnPoints, fitAll, personColor, pointName,
  points, restoreBody, shown, shownKeys, templatePerson,
} from "./pose_model.js";
import { el, ensureStyle, toggle } from "./style.js";

export const ROUTE = "/sdpose/keypoints";
const FREE_NAME_ROUTE = "/sdpose/keypoints/free"; // nodes/web_api.py
export const LOAD_NODE = "SDPoseNodes.LoadPoseKeypoints";
const ESTIMATOR = "SDPoseNodes.Estimator";
const DRAW_NODE = "SDPoseNodes.DrawPose";
// Draw Pose's inputs that take an Estimator choice of another name (DWPose's enable/disable; Draw Pose's booleans).
const DRAW_FROM_ESTIMATOR = { draw_body: "detect_body", draw_hands: "detect_hand", draw_face: "detect_face" };
const DEFAULT_NAME = "sdpose/edited_pose.json";
const HIT_RADIUS = 9; // screen pixels
const UNDO_LIMIT = 200;

let current = null;

/** The open editor, or null. */
export function currentEditor() {
  return current;
}

/**
 * Open the editor. options: frames (POSE_KEYPOINT list), frame (index shown first), backgrounds (image URL per frame,
 * the last one repeats), filename (suggested save name), title, node (the node it was opened from), onSaved(result).
 */
export function openPoseEditor(options) {
  if (current) current.close(true);
  current = new PoseEditor(options);
  return current;
}

/** Ask the server for the names Load Pose Keypoints lists and update every such node in the graph. */
export async function refreshLoadNodes(select) {
  const response = await api.fetchApi(`/object_info/${encodeURIComponent(LOAD_NODE)}`);
  if (!response.ok) return;
  const info = (await response.json())[LOAD_NODE];
  const spec = info && info.input && info.input.required && info.input.required.file;
  // V3 nodes describe a dropdown as ["COMBO", {options: [...]}], V1 nodes as [[...]].
  const values = spec && (spec[0] === "COMBO" ? spec[1] && spec[1].options : spec[0]);
  if (!Array.isArray(values)) return;
  for (const node of app.graph.nodes || app.graph._nodes || []) {
    if (node.type !== LOAD_NODE) continue;
    const widget = (node.widgets || []).find((w) => w.name === "file");
    if (!widget) continue;
    widget.options.values = values;
    if (select && select.node === node) widget.value = select.file;
  }
  app.graph.setDirtyCanvas(true, true);
}

function linkById(graph, id) {
  return graph.links.get ? graph.links.get(id) : graph.links[id];
}

/** Where output `slot` of `node` goes: [{node, slot}] (input slots of the nodes it feeds). */
function consumers(graph, node, slot) {
  return [...((node.outputs[slot] && node.outputs[slot].links) || [])].map((id) => linkById(graph, id))
    .map((link) => link && { node: graph.getNodeById(link.target_id), slot: link.target_slot })
    .filter((c) => c && c.node);
}

/** The node of `type` an earlier "Save & use in graph" added for `source` (marked by properties[mark]), or null. */
function editNode(graph, type, mark, source) {
  return graph.nodes.find((n) => n.type === type && n.properties && n.properties[mark] === source.id) || null;
}

/** Give the consumers of the Estimator's pose IMAGE a Draw Pose fed by `load`: the one added by an earlier edit, or a
 * new one drawing with the Estimator's settings (its widgets copied, detect_* as draw_*; a setting fed by a link is
 * fed by the same link). Returns the Draw Pose, or null when nothing takes the pose IMAGE. */
function drawInPlaceOf(graph, estimator, load) {
  const output = estimator.findOutputSlot("IMAGE");
  const targets = output >= 0 ? consumers(graph, estimator, output) : [];
  let draw = editNode(graph, DRAW_NODE, "sdpose_draw_of", estimator);
  if (!targets.length && !draw) return null;
  if (!draw) {
    draw = window.LiteGraph.createNode(DRAW_NODE);
    if (!draw) return null;
    draw.pos = [load.pos[0] + load.size[0] + 40, load.pos[1]];
    graph.add(draw);
    draw.properties = { ...(draw.properties || {}), sdpose_draw_of: estimator.id };
    copyDrawingSettings(graph, estimator, draw);
  }
  load.connect(0, draw, draw.findInputSlot("pose_keypoint"));
  for (const { node, slot } of targets) draw.connect(0, node, slot);
  return draw;
}

function copyDrawingSettings(graph, estimator, draw) {
  for (const widget of draw.widgets || []) {
    const name = DRAW_FROM_ESTIMATOR[widget.name] || widget.name;
    const from = (estimator.widgets || []).find((w) => w.name === name);
    if (!from) continue;
    widget.value = name === widget.name ? from.value : from.value === "enable";
    const input = (estimator.inputs || []).find((i) => i.name === name && i.link != null);
    const link = input && name === widget.name && linkById(graph, input.link);
    const origin = link && graph.getNodeById(link.origin_id);
    const slot = draw.findInputSlot(widget.name);
    if (origin && slot >= 0) origin.connect(link.origin_slot, draw, slot);
  }
}

class PoseEditor {
  constructor({ frames, frame = 0, backgrounds = [], filename, title, node, onSaved }) {
    ensureStyle();
    this.frames = clone(frames || []);
    if (!this.frames.length) this.frames = [{ people: [], canvas_width: 512, canvas_height: 512 }];
    this.index = Math.min(Math.max(frame | 0, 0), this.frames.length - 1);
    this.backgrounds = backgrounds;
    this.node = node || null;
    this.onSaved = onSaved;
    // No image behind the pose (a file from Load Pose Keypoints, Draw Pose on black): the image toggle starts off.
    this.parts = { body: true, hands: true, face: true, feet: true, image: backgrounds.some(Boolean) };
    this.selected = null; // {person, key?, index?}
    this.hover = null;
    this.undoStack = [];
    this.redoStack = [];
    this.view = null; // {scale, x, y}; null = fit
    this.dirty = false;
    this.saved = null;
    this.closeArmed = false;
    this.images = new BackgroundImages(() => this.draw());
    this.build(title || "SDPose keypoint editor", filename || DEFAULT_NAME);
    this.nameReady = this.offerFreeName(this.nameInput.value);
    this.suppressGraphKeys(true);
    this.showFrame(this.index);
    this.backdrop.focus();
  }

  // ------------------------------------------------------------------------------------------------ DOM
  build(title, filename) {
    const action = (name, text, handler, tip) => el("button", { "data-action": name, title: tip || text, onclick: handler, text });
    this.prevButton = action("prev", "◀", () => this.showFrame(this.index - 1), "Previous frame (←)");
    this.nextButton = action("next", "▶", () => this.showFrame(this.index + 1), "Next frame (→)");
    this.slider = el("input", { type: "range", min: 0, max: this.frames.length - 1, step: 1, value: this.index,
      "data-sdpose": "editor-frame", oninput: () => this.showFrame(Number(this.slider.value)) });
    this.frameLabel = el("span", { "data-sdpose": "editor-frame-label" });
    const toggles = ["body", "hands", "face", "feet", "image"].map((part) => toggle(part, this.parts[part], (on) => {
      this.parts[part] = on;
      if (this.selected && this.selected.key && !shownKeys(this.parts).has(this.selected.key)) this.selected = { person: this.selected.person };
      this.draw();
    }, part).label);
    this.addButton = action("add-person", "+ person", () => this.addPerson(), "Add a person (a standing figure to drag into place)");
    this.deletePersonButton = action("delete-person", "− person", () => this.deletePerson(), "Delete the selected person (Shift+Del)");
    this.deleteJointButton = action("delete-joint", "− joint", () => this.deleteJoint(), "Delete the selected joint (Del)");
    this.restoreButton = action("restore-joints", "restore joints", () => this.restoreJoints(), "Put the selected person's missing body joints back, to drag into place");
    this.undoButton = action("undo", "undo", () => this.undo(), "Undo (Ctrl+Z)");
    this.redoButton = action("redo", "redo", () => this.redo(), "Redo (Ctrl+Y, Ctrl+Shift+Z)");
    const fit = action("fit", "fit", () => { this.view = null; this.draw(); }, "Fit the frame and every joint (double-click)");
    this.nameInput = el("input", { type: "text", value: filename, "data-sdpose": "filename", spellcheck: false,
      title: "File name in ComfyUI's input folder (sub-folders allowed), e.g. sdpose/edited_pose.json" });
    this.overwriteBox = el("input", { type: "checkbox", "data-sdpose": "overwrite" });
    this.onlyFrameBox = el("input", { type: "checkbox", "data-sdpose": "only-frame" });
    this.saveButton = action("save", "Save to input/", () => this.save(), "Save the edited pose as JSON into ComfyUI's input folder (Ctrl+S)");
    this.useButton = action("save-use", "Save & use in graph", () => this.saveAndUse(),
      "Save, then load the file with an 'SDPose Load Pose Keypoints' node wired to where this pose went");
    this.addLoadButton = action("add-load-node", "+ Load node", () => this.addLoadNode(), "Add a 'SDPose Load Pose Keypoints' node that loads the saved file");
    this.addLoadButton.style.display = "none";
    this.status = el("span", { class: "sdpose-status", "data-sdpose": "status" });
    this.canvas = el("canvas", { "data-sdpose": "editor-canvas" });
    this.stage = el("div", { class: "sdpose-stage" }, this.canvas);
    const panel = el("div", { class: "sdpose-editor", role: "dialog", "aria-label": title },
      el("div", { class: "sdpose-row" }, el("h3", { text: title }), el("span", { class: "sdpose-grow" }),
        el("span", { class: "sdpose-help", text: "drag joints · wheel zooms · drag the background pans · Del deletes a joint · Ctrl+Z / Ctrl+Y" }),
        action("close", "✕", () => this.close(), "Close (Esc)")),
      el("div", { class: "sdpose-row" }, this.prevButton, this.slider, this.nextButton, this.frameLabel,
        el("span", { class: "sdpose-sep" }), ...toggles, el("span", { class: "sdpose-sep" }), this.addButton,
        this.deletePersonButton, this.deleteJointButton, this.restoreButton, el("span", { class: "sdpose-sep" }),
        this.undoButton, this.redoButton, fit),
      this.stage,
      el("div", { class: "sdpose-row" }, this.status),
      el("div", { class: "sdpose-row" }, el("span", { class: "sdpose-grow" }), el("label", { text: "file in input/" }), this.nameInput,
        el("label", { class: "sdpose-toggle", title: "Replace the file if it exists" }, this.overwriteBox, "overwrite"),
        el("label", { class: "sdpose-toggle", title: "Save only the frame shown (else every frame, one file)" }, this.onlyFrameBox, "this frame only"),
        this.saveButton, this.useButton, this.addLoadButton));
    this.backdrop = el("div", { class: "sdpose-backdrop", tabindex: -1, "data-sdpose": "editor" }, panel);
    // A click beside the dialog closes it only when nothing is unsaved (Esc or ✕ twice discard the changes).
    this.backdrop.addEventListener("pointerdown", (e) => {
      if (e.target !== this.backdrop) return;
      if (this.dirty) this.setStatus("Unsaved changes: save them, or press Esc or ✕ twice to discard them.", "error");
      else this.close();
    });
    for (const type of ["keydown", "keyup", "keypress"]) this.backdrop.addEventListener(type, (e) => this.onKey(e));
    // The dialog is modal: keys typed while the focus is outside it (a button that got disabled drops the focus to
    // <body>) are the editor's too, never ComfyUI's shortcuts.
    this.outsideKey = (e) => { if (!this.backdrop.contains(e.target)) this.onKey(e); };
    for (const type of ["keydown", "keyup", "keypress"]) document.addEventListener(type, this.outsideKey, true);
    panel.addEventListener("click", (e) => {
      if (e.target instanceof HTMLButtonElement || e.target instanceof HTMLLabelElement) this.backdrop.focus({ preventScroll: true });
    });
    this.backdrop.addEventListener("wheel", (e) => e.stopPropagation(), { passive: true });
    this.canvas.addEventListener("pointerdown", (e) => this.onPointerDown(e));
    this.canvas.addEventListener("pointermove", (e) => this.onPointerMove(e));
    this.canvas.addEventListener("pointerup", (e) => this.onPointerUp(e));
    this.canvas.addEventListener("pointercancel", (e) => this.onPointerUp(e));
    this.canvas.addEventListener("wheel", (e) => this.onWheel(e), { passive: false });
    this.canvas.addEventListener("dblclick", () => { this.view = null; this.draw(); });
    this.canvas.addEventListener("contextmenu", (e) => e.preventDefault());
    document.body.appendChild(this.backdrop);
    this.resizer = new ResizeObserver(() => this.draw());
    this.resizer.observe(this.stage);
  }

  /** While the editor is open, ComfyUI's graph undo/redo tracker ignores keys (it listens on window, capture). */
  suppressGraphKeys(on) {
    const ComfyApp = app.constructor;
    if (on) {
      const previous = ComfyApp.maskeditor_is_opended;
      this.restoreHook = () => { ComfyApp.maskeditor_is_opended = previous; };
      ComfyApp.maskeditor_is_opended = () => current === this || (typeof previous === "function" && previous());
    } else if (this.restoreHook) {
      this.restoreHook();
      this.restoreHook = null;
    }
  }

  close(force = false) {
    if (!force && this.dirty && !this.closeArmed) {
      this.closeArmed = true;
      this.setStatus("Unsaved changes: close again to discard them, or save.", "error");
      return false;
    }
    this.resizer.disconnect();
    for (const type of ["keydown", "keyup", "keypress"]) document.removeEventListener(type, this.outsideKey, true);
    this.backdrop.remove();
    this.suppressGraphKeys(false);
    if (current === this) current = null;
    return true;
  }

  setStatus(text, kind = "") {
    this.status.textContent = text;
    this.status.className = `sdpose-status${kind ? ` sdpose-${kind}` : ""}`;
    this.status.title = text;
  }

  // ------------------------------------------------------------------------------------------------ state
  get frame() {
    return this.frames[this.index];
  }

  showFrame(i) {
    this.index = Math.min(Math.max(i, 0), this.frames.length - 1);
    this.selected = null;
    this.hover = null;
    this.slider.value = this.index;
    this.draw();
  }

  changed(before, frameIndex = this.index) {
    this.undoStack.push({ frame: frameIndex, data: before });
    if (this.undoStack.length > UNDO_LIMIT) this.undoStack.shift();
    this.redoStack = [];
    this.dirty = true;
    this.closeArmed = false;
  }

  snapshot() {
    return JSON.stringify(this.frame);
  }

  undo() {
    this.step(this.undoStack, this.redoStack, "undone");
  }

  redo() {
    this.step(this.redoStack, this.undoStack, "redone");
  }

  step(from, to, word) {
    const entry = from.pop();
    if (!entry) return;
    to.push({ frame: entry.frame, data: JSON.stringify(this.frames[entry.frame]) });
    this.frames[entry.frame] = JSON.parse(entry.data);
    this.dirty = true;
    if (entry.frame !== this.index) this.showFrame(entry.frame);
    this.selected = this.selected && this.selected.person < this.frame.people.length ? { person: this.selected.person } : null;
    this.setStatus(`${word[0].toUpperCase()}${word.slice(1)}.`);
    this.draw();
  }

  visiblePeople() {
    return this.frame.people.map((_, i) => i);
  }

  addPerson() {
    const before = this.snapshot();
    const frame = this.frame;
    const heights = frame.people.map((p) => {
      const ys = points(p, BODY).filter((q) => shown(q[2])).map((q) => q[1]);
      return ys.length >= 2 ? (Math.max(...ys) - Math.min(...ys)) / 0.9 : 0;
    }).filter((h) => h > 8).sort((a, b) => a - b);
    const height = Math.min(heights.length ? heights[heights.length >> 1] : frame.canvas_height * 0.6, frame.canvas_height * 0.95);
    const shift = ((frame.people.length % 5) - 2) * 0.12 * frame.canvas_width;
    const cx = Math.min(Math.max(frame.canvas_width / 2 + shift, height * 0.2), frame.canvas_width - height * 0.2);
    frame.people.push(templatePerson(cx, (frame.canvas_height - height * 0.95) / 2, height));
    this.changed(before);
    this.selected = { person: frame.people.length - 1 };
    this.setStatus(`Added person ${frame.people.length}: drag its joints into place.`);
    this.draw();
  }

  deletePerson() {
    if (!this.selected) return this.setStatus("Select a person first (click one of its joints).", "error");
    const before = this.snapshot();
    const index = this.selected.person;
    this.frame.people.splice(index, 1);
    this.changed(before);
    this.selected = null;
    this.setStatus(`Deleted person ${index + 1}.`);
    this.draw();
  }

  deleteJoint() {
    const s = this.selected;
    if (!s || s.key == null) return this.setStatus("Select a joint first (click it).", "error");
    const before = this.snapshot();
    const person = this.frame.people[s.person];
    const flat = person[s.key];
    flat.splice(3 * s.index, 3, 0, 0, 0);
    if (s.key !== BODY && !points(person, s.key).some((p) => shown(p[2]))) person[s.key] = null;
    this.changed(before);
    this.setStatus(`Deleted ${pointName(s.key, s.index)} of person ${s.person + 1}.`);
    this.selected = { person: s.person };
    this.draw();
  }

  restoreJoints() {
    if (!this.selected) return this.setStatus("Select a person first (click one of its joints).", "error");
    const before = this.snapshot();
    const n = restoreBody(this.frame.people[this.selected.person], this.frame);
    if (!n) return this.setStatus("This person has every body joint.");
    this.changed(before);
    this.setStatus(`Put back ${n} body joint(s) of person ${this.selected.person + 1}: drag them into place.`);
    this.draw();
  }

  movePoint(target, x, y) {
    const frame = this.frame;
    const person = frame.people[target.person];
    x = Math.min(Math.max(x, 1), frame.canvas_width - 1);
    y = Math.min(Math.max(y, 1), frame.canvas_height - 1);
    person[target.key][3 * target.index] = x;
    person[target.key][3 * target.index + 1] = y;
    // OpenPose keeps the eyes twice: body 14/15 and face 68/69 (DWPose's 70-point face). Move them together.
    const face = person[FACE];
    if (target.key === BODY && (target.index === 14 || target.index === 15) && Array.isArray(face) && face.length === 210) {
      const j = 3 * (target.index === 14 ? 68 : 69);
      if (shown(face[j + 2])) { face[j] = x; face[j + 1] = y; }
    } else if (target.key === FACE && target.index >= 68) {
      const body = person[BODY];
      const j = 3 * (target.index === 68 ? 14 : 15);
      if (Array.isArray(body) && shown(body[j + 2])) { body[j] = x; body[j + 1] = y; }
    }
  }

  // ------------------------------------------------------------------------------------------------ view
  currentView() {
    const w = this.stage.clientWidth, h = this.stage.clientHeight;
    return this.view || fitAll(this.frame, w, h, 12);
  }

  toImage(clientX, clientY) {
    const rect = this.canvas.getBoundingClientRect();
    const v = this.currentView();
    return [(clientX - rect.left - v.x) / v.scale, (clientY - rect.top - v.y) / v.scale];
  }

  /** Client (page) coordinates of a point: what a real mouse must hit to grab it (used by the browser test). */
  clientPoint(person, key, index) {
    const rect = this.canvas.getBoundingClientRect();
    const v = this.currentView();
    const p = this.frame.people[person][key];
    return { x: rect.left + v.x + p[3 * index] * v.scale, y: rect.top + v.y + p[3 * index + 1] * v.scale };
  }

  hitTest(clientX, clientY) {
    const rect = this.canvas.getBoundingClientRect();
    const v = this.currentView();
    const sx = clientX - rect.left, sy = clientY - rect.top;
    const keys = shownKeys(this.parts);
    const frame = this.frame;
    let best = null;
    frame.people.forEach((person, i) => {
      for (const p of drawnPoints(person, keys, frame)) {
        const d = Math.hypot(v.x + p.x * v.scale - sx, v.y + p.y * v.scale - sy);
        const bias = this.selected && this.selected.person === i ? 0.5 : 0; // prefer the selected person
        if (d <= HIT_RADIUS && (!best || d - bias < best.d)) best = { person: i, key: p.key, index: p.index, d: d - bias };
      }
    });
    return best && { person: best.person, key: best.key, index: best.index };
  }

  background() {
    return this.parts.image ? this.images.frame(this.backgrounds, this.index) : null;
  }

  draw() {
    const frame = this.frame;
    const n = this.frames.length;
    this.frameLabel.textContent = `frame ${this.index + 1} / ${n}`;
    this.slider.max = n - 1;
    this.prevButton.disabled = this.index <= 0;
    this.nextButton.disabled = this.index >= n - 1;
    this.slider.disabled = n <= 1;
    this.undoButton.disabled = !this.undoStack.length;
    this.redoButton.disabled = !this.redoStack.length;
    this.deletePersonButton.disabled = this.restoreButton.disabled = !this.selected;
    this.deleteJointButton.disabled = !(this.selected && this.selected.key != null);
    this.backdrop.dataset.frame = this.index;
    this.backdrop.dataset.people = frame.people.length;

    const w = this.stage.clientWidth, h = this.stage.clientHeight;
    const ctx = clearedContext(this.canvas, w, h, "#111");
    const v = this.currentView();
    const fw = frame.canvas_width * v.scale, fh = frame.canvas_height * v.scale;
    ctx.fillStyle = "#000";
    ctx.fillRect(v.x, v.y, fw, fh);
    const img = this.background();
    if (img) {
      ctx.globalAlpha = 0.55;
      ctx.drawImage(img, v.x, v.y, fw, fh);
      ctx.globalAlpha = 1;
    }
    ctx.strokeStyle = "#444";
    ctx.lineWidth = 1;
    ctx.strokeRect(v.x - 0.5, v.y - 0.5, fw + 1, fh + 1);
    const selected = this.selected ? this.selected.person : null;
    drawPeople(ctx, frame, v, { parts: this.parts, selected, minScreen: 1, maxScreen: 1.25 });

    // Handles: every draggable point of the selected person, then labels, hover and selection rings.
    const keys = shownKeys(this.parts);
    frame.people.forEach((person, i) => {
      const body = points(person, BODY);
      const anchor = [1, 0, 2, 5].map((k) => body[k]).find((p) => p && shown(p[2])) ||
        [...drawnPoints(person, keys, frame)].map((p) => [p.x, p.y])[0];
      if (anchor) {
        const label = String(i + 1);
        const x = v.x + anchor[0] * v.scale + 8, y = v.y + anchor[1] * v.scale - 20;
        ctx.font = "bold 12px sans-serif";
        ctx.fillStyle = personColor(i);
        ctx.fillRect(x, y, ctx.measureText(label).width + 8, 16);
        ctx.fillStyle = "#fff";
        ctx.fillText(label, x + 4, y + 12);
      }
      if (i !== selected) return;
      ctx.strokeStyle = personColor(i);
      ctx.lineWidth = 1.5;
      for (const p of drawnPoints(person, keys, frame)) {
        ctx.beginPath();
        ctx.arc(v.x + p.x * v.scale, v.y + p.y * v.scale, p.key === BODY ? 7 : 5, 0, 2 * Math.PI);
        ctx.stroke();
      }
    });
    for (const [target, color, radius] of [[this.hover, "#fff", 9], [this.selected, "#ffd400", 10]]) {
      if (!target || target.key == null) continue;
      const p = this.frame.people[target.person] && this.frame.people[target.person][target.key];
      if (!p) continue;
      ctx.beginPath();
      ctx.arc(v.x + p[3 * target.index] * v.scale, v.y + p[3 * target.index + 1] * v.scale, radius, 0, 2 * Math.PI);
      ctx.strokeStyle = color;
      ctx.lineWidth = 2;
      ctx.stroke();
    }
  }

  // ------------------------------------------------------------------------------------------------ input
  onPointerDown(e) {
    e.preventDefault();
    e.stopPropagation();
    this.backdrop.focus({ preventScroll: true });
    this.canvas.setPointerCapture(e.pointerId);
    const hit = e.button === 0 ? this.hitTest(e.clientX, e.clientY) : null;
    if (hit) {
      this.selected = hit;
      // Keep the grab offset: the joint moves with the mouse instead of jumping under it.
      const [gx, gy] = this.toImage(e.clientX, e.clientY);
      const flat = this.frame.people[hit.person][hit.key];
      const offset = [flat[3 * hit.index] - gx, flat[3 * hit.index + 1] - gy];
      this.drag = { target: hit, before: this.snapshot(), moved: false, offset };
      this.canvas.style.cursor = "grabbing";
      this.setStatus(this.describe(hit));
    } else {
      const v = this.currentView();
      this.pan = { x: e.clientX, y: e.clientY, view: { ...v }, moved: false };
    }
    this.draw();
  }

  onPointerMove(e) {
    if (this.drag) {
      const [x, y] = this.toImage(e.clientX, e.clientY);
      this.movePoint(this.drag.target, x + this.drag.offset[0], y + this.drag.offset[1]);
      this.drag.moved = true;
      this.setStatus(this.describe(this.drag.target));
      this.draw();
      return;
    }
    if (this.pan) {
      const dx = e.clientX - this.pan.x, dy = e.clientY - this.pan.y;
      if (Math.abs(dx) + Math.abs(dy) > 3) this.pan.moved = true;
      if (this.pan.moved) {
        this.view = { scale: this.pan.view.scale, x: this.pan.view.x + dx, y: this.pan.view.y + dy };
        this.draw();
      }
      return;
    }
    const hit = this.hitTest(e.clientX, e.clientY);
    const same = (a, b) => (!a && !b) || (a && b && a.person === b.person && a.key === b.key && a.index === b.index);
    if (!same(hit, this.hover)) {
      this.hover = hit;
      this.canvas.style.cursor = hit ? "grab" : "default";
      if (hit) this.setStatus(this.describe(hit));
      this.draw();
    }
  }

  onPointerUp(e) {
    if (this.canvas.hasPointerCapture(e.pointerId)) this.canvas.releasePointerCapture(e.pointerId);
    if (this.drag) {
      if (this.drag.moved) this.changed(this.drag.before);
      this.drag = null;
      this.canvas.style.cursor = "grab";
    } else if (this.pan) {
      if (!this.pan.moved && e.button === 0) {
        this.selected = null;
        this.setStatus("");
      }
      this.pan = null;
    }
    this.draw();
  }

  onWheel(e) {
    e.preventDefault();
    e.stopPropagation();
    const rect = this.canvas.getBoundingClientRect();
    const v = this.currentView();
    const k = Math.exp(-Math.max(Math.min(e.deltaY, 200), -200) * 0.0015);
    const sx = e.clientX - rect.left, sy = e.clientY - rect.top;
    const fit = fitAll(this.frame, this.stage.clientWidth, this.stage.clientHeight, 12).scale;
    const scale = Math.min(Math.max(v.scale * k, fit * 0.25), fit * 40);
    const f = scale / v.scale;
    this.view = { scale, x: sx - (sx - v.x) * f, y: sy - (sy - v.y) * f };
    this.draw();
  }

  onKey(e) {
    // Every key stays in the dialog: ComfyUI's shortcuts (Del deletes nodes, Ctrl+Z undoes the graph) must not fire.
    e.stopPropagation();
    if (e.type !== "keydown") return;
    const inField = e.target instanceof HTMLInputElement && e.target.type === "text";
    const ctrl = e.ctrlKey || e.metaKey;
    const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
    if (key === "Escape") {
      e.preventDefault();
      this.close();
    } else if (inField) {
      if (key === "Enter") this.save();
    } else if (ctrl && key === "z" && !e.shiftKey) {
      e.preventDefault();
      this.undo();
    } else if (ctrl && (key === "y" || (key === "z" && e.shiftKey))) {
      e.preventDefault();
      this.redo();
    } else if (ctrl && key === "s") {
      e.preventDefault();
      this.save();
    } else if (key === "Delete" || key === "Backspace") {
      e.preventDefault();
      if (e.shiftKey) this.deletePerson();
      else this.deleteJoint();
    } else if (key === "ArrowLeft" || key === "ArrowRight") {
      if (e.target instanceof HTMLInputElement) return;
      e.preventDefault();
      this.showFrame(this.index + (key === "ArrowLeft" ? -1 : 1));
    }
  }

  describe(target) {
    const person = this.frame.people[target.person];
    const p = person && person[target.key];
    if (!p) return "";
    const x = p[3 * target.index], y = p[3 * target.index + 1];
    return `person ${target.person + 1} · ${pointName(target.key, target.index)} · (${x.toFixed(1)}, ${y.toFixed(1)})`;
  }

  // ------------------------------------------------------------------------------------------------ save
  /** Put a free name in the file field: `name` when no file has it yet, else the server's next free one, so a second
   * edit saves at the first click. A name typed meanwhile is kept. Save waits for this. */
  async offerFreeName(name) {
    try {
      const response = await api.fetchApi(`${FREE_NAME_ROUTE}?${new URLSearchParams({ filename: name })}`);
      const result = await response.json();
      if (response.ok && result.filename && this.nameInput.value === name) this.nameInput.value = result.filename;
    } catch (err) {
      console.warn("SDPose: could not ask for a free file name", err);
    } finally {
      this.backdrop.dataset.nameReady = "";
    }
  }

  async save() {
    await this.nameReady;
    const filename = this.nameInput.value.trim();
    const pose = this.onlyFrameBox.checked ? [this.frame] : this.frames;
    this.saveButton.disabled = true;
    this.setStatus("Saving…");
    try {
      const response = await api.fetchApi(ROUTE, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ filename, pose_keypoint: pose, overwrite: this.overwriteBox.checked }),
      });
      let result = {};
      try {
        result = await response.json();
      } catch (_) {
        result = { error: `${response.status} ${response.statusText}` };
      }
      if (!response.ok) {
        if (response.status === 409 && result.suggestion) {
          this.nameInput.value = result.suggestion;
          this.setStatus(`${result.error} Saved nothing; Save again to use '${result.suggestion}'.`, "error");
        } else {
          this.setStatus(`Not saved: ${result.error || response.status}`, "error");
        }
        return null;
      }
      this.saved = result;
      this.dirty = false;
      this.closeArmed = false;
      this.overwriteBox.checked = false;
      this.backdrop.dataset.saved = result.file;
      this.setStatus(`Saved input/${result.file} (${result.frames} frame${result.frames === 1 ? "" : "s"}): ` +
        "pick it in SDPose Load Pose Keypoints.", "ok");
      this.addLoadButton.style.display = "";
      const fromLoad = this.node && this.node.type === LOAD_NODE ? { node: this.node, file: result.file } : null;
      await refreshLoadNodes(fromLoad).catch((err) => console.warn("SDPose: could not refresh the file lists", err));
      if (this.onSaved) this.onSaved(result);
      return result;
    } catch (err) {
      this.setStatus(`Not saved: ${err.message || err}`, "error");
      return null;
    } finally {
      this.saveButton.disabled = false;
    }
  }

  async saveAndUse() {
    const result = await this.save();
    if (result) this.useInGraph(result);
    return result;
  }

  /** Put the saved file in the graph: update the Load node it came from, or add (once per source node) a Load node
   * that takes over the consumers of the source's POSE_KEYPOINT output; for Draw Pose, it feeds its input. The
   * consumers of an Estimator's pose IMAGE get a Draw Pose (added once, drawing as the Estimator does) fed by it. */
  async useInGraph(result) {
    const graph = app.graph;
    const source = this.node && graph.getNodeById(this.node.id) === this.node ? this.node : null;
    let load = source && source.type === LOAD_NODE ? source : null;
    if (!load && source) load = editNode(graph, LOAD_NODE, "sdpose_edit_of", source);
    if (!load) {
      load = window.LiteGraph.createNode(LOAD_NODE);
      if (!load) return this.setStatus("SDPose Load Pose Keypoints is not available.", "error");
      load.pos = source ? [source.pos[0], source.pos[1] + source.size[1] + 60]
        : [...app.canvas.ds.offset].map((o) => -o + 100);
      graph.add(load);
      if (source) load.properties = { ...(load.properties || {}), sdpose_edit_of: source.id };
    }
    await refreshLoadNodes({ node: load, file: result.file });
    const widget = (load.widgets || []).find((w) => w.name === "file");
    if (widget) widget.value = result.file;
    let draw = null;
    if (source && source !== load) {
      const output = source.findOutputSlot("POSE_KEYPOINT");
      if (output >= 0) {
        for (const { node, slot } of consumers(graph, source, output)) load.connect(0, node, slot);
      } else {
        const input = source.findInputSlot("pose_keypoint");
        if (input >= 0) load.connect(0, source, input);
      }
      if (source.type === ESTIMATOR) draw = drawInPlaceOf(graph, source, load);
    }
    graph.setDirtyCanvas(true, true);
    this.backdrop.dataset.loadNode = load.id;
    if (draw) this.backdrop.dataset.drawNode = draw.id;
    const names = (node) => consumers(graph, node, 0).map((c) => c.node)
      .filter((n, i, all) => all.indexOf(n) === i).map((n) => `${n.title || n.type} #${n.id}`).join(", ");
    const feeds = names(load);
    const drawn = draw && names(draw);
    this.setStatus(`Saved input/${result.file}; SDPose Load Pose Keypoints #${load.id} loads it` +
      (feeds ? ` and feeds ${feeds}.` : " (connect its POSE_KEYPOINT where you need it).") +
      (drawn ? ` ${draw.title || draw.type} #${draw.id} draws it for ${drawn}.` : ""), "ok");
    return load;
  }

  addLoadNode() {
    if (!this.saved) return;
    const node = window.LiteGraph.createNode(LOAD_NODE);
    if (!node) return this.setStatus("SDPose Load Pose Keypoints is not available.", "error");
    const anchor = this.node;
    node.pos = anchor ? [anchor.pos[0], anchor.pos[1] + anchor.size[1] + 60] : [...app.canvas.ds.offset].map((o) => -o + 100);
    app.graph.add(node);
    const widget = (node.widgets || []).find((w) => w.name === "file");
    refreshLoadNodes({ node, file: this.saved.file }).then(() => { if (widget) widget.value = this.saved.file; });
    this.setStatus(`Added a Load Pose Keypoints node for ${this.saved.file}: connect its POSE_KEYPOINT.`, "ok");
  }
}
