// SDPose web extension: POSE_KEYPOINT data helpers and DWPose-style drawing on a 2D canvas.
// Pure module (no ComfyUI imports): shared by the node preview (sdpose.js) and the keypoint editor (pose_editor.js).

export const BODY = "pose_keypoints_2d";
export const FACE = "face_keypoints_2d";
export const LEFT_HAND = "hand_left_keypoints_2d";
export const RIGHT_HAND = "hand_right_keypoints_2d";
export const FEET = "foot_keypoints_2d";
export const PERSON_KEYS = [BODY, FACE, LEFT_HAND, RIGHT_HAND];

// Parts as the toggles name them -> the POSE_KEYPOINT keys they cover.
export const PART_GROUPS = { body: [BODY], hands: [LEFT_HAND, RIGHT_HAND], face: [FACE], feet: [FEET] };

export const BODY_NAMES = ["nose", "neck", "right shoulder", "right elbow", "right wrist", "left shoulder",
  "left elbow", "left wrist", "right hip", "right knee", "right ankle", "left hip", "left knee", "left ankle",
  "right eye", "left eye", "right ear", "left ear"];
export const FOOT_NAMES = ["left big toe", "left small toe", "left heel", "right big toe", "right small toe",
  "right heel"];

// DWPose's drawing (comfyui_controlnet_aux util.draw_bodypose / draw_handpose): limbs as pairs of OpenPose-18
// points, their colours, hand edges and their colours. The pack's one definition (sdpose_core.keypoints) is served
// at GET /sdpose/constants and set by sdpose.js (setLayout) before any node exists; until then (or when that request
// fails) points are drawn white, without limbs or hand lines.
export let LIMBS = [];
export let BODY_COLORS = [];
export let HAND_EDGES = [];
export let HAND_COLORS = [];

const isPairs = (value, width) => Array.isArray(value) && value.every(
  (row) => Array.isArray(row) && row.length === width && row.every((v) => Number.isInteger(v) && v >= 0));

/** The drawing layout from /sdpose/constants ({limbs, body_colors, hand_edges, hand_colors}), checked. */
export function setLayout(constants) {
  const { limbs, body_colors: body, hand_edges: edges, hand_colors: hand } = constants || {};
  if (!isPairs(limbs, 2) || !isPairs(body, 3) || !isPairs(edges, 2) || !isPairs(hand, 3)
      || body.length < limbs.length || hand.length < edges.length) {
    throw new Error("the drawing layout must hold limbs, body_colors, hand_edges and hand_colors as integer lists");
  }
  [LIMBS, BODY_COLORS, HAND_EDGES, HAND_COLORS] = [limbs, body, edges, hand];
}
// Colours that tell people apart in the toggles and the editor's selection.
export const PERSON_COLORS = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6",
  "#bfef45", "#fabed4", "#469990", "#dcbeff", "#9a6324"];

// A standing figure in OpenPose-18 order, x and y in units of its height (the editor's "add person").
export const TEMPLATE_BODY = [[0.0, 0.06], [0.0, 0.17], [-0.11, 0.17], [-0.15, 0.33], [-0.18, 0.48], [0.11, 0.17],
  [0.15, 0.33], [0.18, 0.48], [-0.07, 0.5], [-0.08, 0.73], [-0.09, 0.95], [0.07, 0.5], [0.08, 0.73], [0.09, 0.95],
  [-0.025, 0.04], [0.025, 0.04], [-0.055, 0.05], [0.055, 0.05]];

const rgb = (c = [255, 255, 255], k = 1) => `rgb(${Math.floor(c[0] * k)},${Math.floor(c[1] * k)},${Math.floor(c[2] * k)})`;

export function personColor(i) {
  return PERSON_COLORS[i % PERSON_COLORS.length];
}

// DWPose's keypoint threshold, from the pack (sdpose_core.keypoints.DWPOSE_THRESHOLD, served at GET
// /sdpose/constants and set by sdpose.js before any node exists): a point shows when c > 0 and c >= it, as
// sdpose_core.pose.render draws it. Until then, or when that request fails, it is 0: every point with a positive
// score shows, so DWPose files (c is 1 or 0) look the same and the editor never drops a part it does not show.
let drawThreshold = 0;

export function getDrawThreshold() {
  return drawThreshold;
}

export function setDrawThreshold(value) {
  if (typeof value !== "number" || !(value >= 0 && value <= 1)) {
    const shownValue = typeof value === "number" ? value : JSON.stringify(value);
    throw new Error(`the draw threshold must be a number in 0..1, got ${shownValue}`);
  }
  drawThreshold = value;
}

export function shown(c) {
  return c > 0 && c >= drawThreshold;
}

// sdpose_core.pose.render draws feet only inside the canvas (0 <= int(x) < width), hand and face points only where
// int(x) > 0 and int(y) > 0, as DWPose does.
function insideCanvas(frame, x, y) {
  if (!frame) return true;
  const ix = Math.trunc(x), iy = Math.trunc(y);
  return ix >= 0 && iy >= 0 && ix < (frame.canvas_width || Infinity) && iy < (frame.canvas_height || Infinity);
}

/** The frames of a node's UI output: `openpose_json` texts (the estimator, DWPose, the draw node). */
export function framesFromOutput(output) {
  const frames = [];
  for (const text of (output && output.openpose_json) || []) {
    let data;
    try {
      data = typeof text === "string" ? JSON.parse(text) : text;
    } catch (err) {
      console.warn("SDPose: unreadable openpose_json", err);
      continue;
    }
    for (const frame of Array.isArray(data) ? data : [data]) {
      if (frame && typeof frame === "object" && Array.isArray(frame.people)) frames.push(frame);
    }
  }
  return frames;
}

/** Points of one part as [[x, y, c], ...] (empty when absent). */
export function points(person, key) {
  const flat = person && person[key];
  const out = [];
  if (!Array.isArray(flat)) return out;
  for (let i = 0; i + 2 < flat.length; i += 3) out.push([flat[i], flat[i + 1], flat[i + 2]]);
  return out;
}

export function pointName(key, index) {
  if (key === BODY) return BODY_NAMES[index] || `body ${index}`;
  if (key === FEET) return FOOT_NAMES[index] || `foot ${index}`;
  if (key === LEFT_HAND) return `left hand ${index}`;
  if (key === RIGHT_HAND) return `right hand ${index}`;
  if (key === FACE) return index >= 68 ? (index === 68 ? "face: right eye" : "face: left eye") : `face ${index}`;
  return `${key} ${index}`;
}

export function clone(value) {
  return JSON.parse(JSON.stringify(value));
}

/** Which keys a set of part toggles ({body, hands, face, feet}) shows. */
export function shownKeys(parts) {
  const keys = new Set();
  for (const [group, list] of Object.entries(PART_GROUPS)) if (!parts || parts[group] !== false) list.forEach((k) => keys.add(k));
  return keys;
}

/**
 * Draw one frame's people, DWPose style, through a view {scale, x, y} (canvas px = x + scale * image px).
 * options: parts ({body, hands, face, feet}), hidden (Set of person indices not drawn), selected (person index:
 * the others are dimmed), minScreen / maxScreen (sizes are DWPose's in image pixels, kept between these multiples
 * of a few screen pixels so they stay visible when small and precise when zoomed in).
 */
export function drawPeople(ctx, frame, view, options = {}) {
  const keys = shownKeys(options.parts);
  const hidden = options.hidden || new Set();
  const minScreen = options.minScreen ?? 0.5, maxScreen = options.maxScreen ?? 2;
  const px = (imagePixels, screenPixels) =>
    Math.min(Math.max(imagePixels * view.scale, screenPixels * minScreen), screenPixels * maxScreen);
  const X = (x) => view.x + x * view.scale;
  const Y = (y) => view.y + y * view.scale;
  (frame.people || []).forEach((person, index) => {
    if (hidden.has(index)) return;
    ctx.save();
    if (options.selected != null && options.selected !== index) ctx.globalAlpha = 0.45;
    if (keys.has(BODY)) {
      const body = points(person, BODY);
      if (body.length >= 18) {
        const half = px(4, 3);
        LIMBS.forEach(([a, b], i) => {
          if (!shown(body[a][2]) || !shown(body[b][2])) return;
          const [xa, ya] = body[a], [xb, yb] = body[b];
          const length = Math.hypot(X(xa) - X(xb), Y(ya) - Y(yb));
          ctx.beginPath();
          ctx.ellipse((X(xa) + X(xb)) / 2, (Y(ya) + Y(yb)) / 2, Math.max(length / 2, 0.5), half,
            Math.atan2(Y(ya) - Y(yb), X(xa) - X(xb)), 0, 2 * Math.PI);
          ctx.fillStyle = rgb(BODY_COLORS[i], 0.6);
          ctx.fill();
        });
        body.forEach(([x, y, c], i) => {
          if (!shown(c) || i >= 18) return;
          ctx.beginPath();
          ctx.arc(X(x), Y(y), px(4, 4), 0, 2 * Math.PI);
          ctx.fillStyle = rgb(BODY_COLORS[i]);
          ctx.fill();
        });
      }
    }
    if (keys.has(FEET)) {
      points(person, FEET).forEach(([x, y, c], i) => {
        if (!shown(c) || !insideCanvas(frame, x, y)) return;
        ctx.beginPath();
        ctx.arc(X(x), Y(y), px(4, 4), 0, 2 * Math.PI);
        ctx.fillStyle = rgb(BODY_COLORS[i]);
        ctx.fill();
      });
    }
    for (const key of [LEFT_HAND, RIGHT_HAND]) {
      if (!keys.has(key)) continue;
      const hand = points(person, key);
      if (hand.length < 21) continue;
      const on = hand.map(([x, y, c]) => shown(c) && Math.trunc(x) > 0 && Math.trunc(y) > 0); // DWPose: int(x) > 0
      ctx.lineWidth = px(2, 2);
      HAND_EDGES.forEach(([a, b], i) => {
        if (!on[a] || !on[b]) return;
        ctx.beginPath();
        ctx.moveTo(X(hand[a][0]), Y(hand[a][1]));
        ctx.lineTo(X(hand[b][0]), Y(hand[b][1]));
        ctx.strokeStyle = rgb(HAND_COLORS[i]);
        ctx.stroke();
      });
      hand.forEach(([x, y], i) => {
        if (!on[i]) return;
        ctx.beginPath();
        ctx.arc(X(x), Y(y), px(4, 3), 0, 2 * Math.PI);
        ctx.fillStyle = "rgb(0,0,255)";
        ctx.fill();
      });
    }
    if (keys.has(FACE)) {
      points(person, FACE).forEach(([x, y, c]) => {
        if (!shown(c) || Math.trunc(x) <= 0 || Math.trunc(y) <= 0) return;
        ctx.beginPath();
        ctx.arc(X(x), Y(y), px(3, 2), 0, 2 * Math.PI);
        ctx.fillStyle = "rgb(255,255,255)";
        ctx.fill();
      });
    }
    ctx.restore();
  });
}

/** Size the canvas to w x h CSS pixels at the screen's pixel density and clear it to `background`; returns its 2D
 * context, drawing in CSS pixels (sharp lines on high-density screens for the preview and the editor alike). */
export function clearedContext(canvas, w, h, background) {
  const dpr = window.devicePixelRatio || 1;
  const pw = Math.round(w * dpr), ph = Math.round(h * dpr);
  if (canvas.width !== pw || canvas.height !== ph) {
    canvas.width = pw;
    canvas.height = ph;
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.fillStyle = background;
  ctx.fillRect(0, 0, w, h);
  return ctx;
}

/** The view {scale, x, y} that fits a box (default: the canvas_width x canvas_height frame) into w x h, centred. */
export function fitView(frame, w, h, pad = 0, box = null) {
  const b = box || { x0: 0, y0: 0, x1: frame.canvas_width || 1, y1: frame.canvas_height || 1 };
  const bw = Math.max(b.x1 - b.x0, 1), bh = Math.max(b.y1 - b.y0, 1);
  const scale = Math.max(Math.min((w - 2 * pad) / bw, (h - 2 * pad) / bh), 1e-6);
  return { scale, x: (w - bw * scale) / 2 - b.x0 * scale, y: (h - bh * scale) / 2 - b.y0 * scale };
}

/** The box {x0, y0, x1, y1} holding the frame's canvas and every shown point of every person (joints may lie
 * outside the image: an edited or estimated joint beyond the border). */
export function poseBounds(frame) {
  const b = { x0: 0, y0: 0, x1: frame.canvas_width || 1, y1: frame.canvas_height || 1 };
  for (const person of frame.people || []) {
    for (const key of [...PERSON_KEYS, FEET]) {
      for (const [x, y, c] of points(person, key)) {
        if (!shown(c) || !Number.isFinite(x) || !Number.isFinite(y)) continue;
        b.x0 = Math.min(b.x0, x); b.y0 = Math.min(b.y0, y); b.x1 = Math.max(b.x1, x); b.y1 = Math.max(b.y1, y);
      }
    }
  }
  return b;
}

/** fitView over poseBounds: the whole image and every joint in view. */
export function fitAll(frame, w, h, pad = 0) {
  return fitView(frame, w, h, pad, poseBounds(frame));
}

/** Which part toggles a node's output can use: ui.sdpose_parts when the node says (the model's parts), else the
 * parts any person of any frame carries. Body is always there. */
export function availableParts(frames, declared) {
  if (Array.isArray(declared)) return new Set(["body", ...declared]);
  const parts = new Set(["body"]);
  for (const frame of frames) {
    for (const person of frame.people || []) {
      for (const [group, keys] of Object.entries(PART_GROUPS)) {
        if (keys.some((k) => Array.isArray(person[k]) && person[k].length)) parts.add(group);
      }
    }
  }
  return parts;
}

/** The part points drawn for a person (used to hit-test and to list joints). */
export function* drawnPoints(person, keys, frame = null) {
  for (const key of [BODY, FEET, LEFT_HAND, RIGHT_HAND, FACE]) {
    if (!keys.has(key)) continue;
    const list = points(person, key);
    const hand = key === LEFT_HAND || key === RIGHT_HAND;
    for (let i = 0; i < list.length; i++) {
      const [x, y, c] = list[i];
      if (!shown(c)) continue;
      if ((hand || key === FACE) && (Math.trunc(x) <= 0 || Math.trunc(y) <= 0)) continue;
      if (key === FEET && !insideCanvas(frame, x, y)) continue;
      if (key === BODY && i >= 18) continue;
      yield { key, index: i, x, y };
    }
  }
}

/** A new person: the template figure, `height` pixels tall, its neck at (cx, top + 0.17 * height). */
export function templatePerson(cx, top, height) {
  const body = [];
  for (const [x, y] of TEMPLATE_BODY) body.push(cx + x * height, top + y * height, 1.0);
  return { [BODY]: body, [FACE]: null, [LEFT_HAND]: null, [RIGHT_HAND]: null };
}

/** Put the missing body joints of a person where the template says, fitted (scale + shift) to the present ones. */
export function restoreBody(person, frame) {
  const body = points(person, BODY);
  if (body.length < 18) {
    const h = (frame.canvas_height || 100) * 0.6;
    Object.assign(person, { [BODY]: templatePerson((frame.canvas_width || 100) / 2, (frame.canvas_height || 100) * 0.2, h)[BODY] });
    return 18;
  }
  const present = body.slice(0, 18).map((p, i) => (shown(p[2]) ? i : -1)).filter((i) => i >= 0);
  let scale = (frame.canvas_height || 100) * 0.6, dx = (frame.canvas_width || 100) / 2, dy = (frame.canvas_height || 100) * 0.2;
  if (present.length >= 2) {
    const tx = present.map((i) => TEMPLATE_BODY[i][0]), ty = present.map((i) => TEMPLATE_BODY[i][1]);
    const ax = present.map((i) => body[i][0]), ay = present.map((i) => body[i][1]);
    const mean = (v) => v.reduce((s, a) => s + a, 0) / v.length;
    const mtx = mean(tx), mty = mean(ty), max = mean(ax), may = mean(ay);
    let num = 0, den = 0;
    for (let k = 0; k < present.length; k++) {
      num += (tx[k] - mtx) * (ax[k] - max) + (ty[k] - mty) * (ay[k] - may);
      den += (tx[k] - mtx) ** 2 + (ty[k] - mty) ** 2;
    }
    if (den > 0 && num > 0) scale = num / den;
    dx = max - scale * mtx;
    dy = may - scale * mty;
  } else if (present.length === 1) {
    const i = present[0];
    dx = body[i][0] - scale * TEMPLATE_BODY[i][0];
    dy = body[i][1] - scale * TEMPLATE_BODY[i][1];
  }
  const w = frame.canvas_width || Infinity, h = frame.canvas_height || Infinity;
  let restored = 0;
  const flat = person[BODY];
  for (let i = 0; i < 18; i++) {
    if (shown(body[i][2])) continue;
    flat[3 * i] = Math.min(Math.max(dx + scale * TEMPLATE_BODY[i][0], 0), w - 1);
    flat[3 * i + 1] = Math.min(Math.max(dy + scale * TEMPLATE_BODY[i][1], 0), h - 1);
    flat[3 * i + 2] = 1.0;
    restored++;
  }
  return restored;
}
