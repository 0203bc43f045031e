// SDPose web extension: the styles of the pose preview and the keypoint editor (ComfyUI's theme variables).

const CSS = `
.sdpose-preview { display: flex; flex-direction: column; gap: 4px; width: 100%; height: 100%; box-sizing: border-box;
  font: 12px sans-serif; color: var(--input-text, #ddd); }
.sdpose-row { display: flex; flex-wrap: wrap; align-items: center; gap: 4px; min-height: 22px; }
.sdpose-row .sdpose-grow { flex: 1 1 auto; }
.sdpose-row input[type=range] { flex: 1 1 60px; min-width: 40px; }
.sdpose-preview button, .sdpose-editor button { background: var(--comfy-input-bg, #222); color: var(--input-text, #ddd);
  border: 1px solid var(--border-color, #555); border-radius: 4px; padding: 1px 7px; cursor: pointer; font: inherit; }
.sdpose-preview button:hover, .sdpose-editor button:hover { border-color: var(--fg-color, #fff); }
.sdpose-preview button:disabled, .sdpose-editor button:disabled { opacity: 0.4; cursor: default; }
.sdpose-toggle { display: inline-flex; align-items: center; gap: 2px; cursor: pointer; user-select: none; }
.sdpose-chip { display: inline-flex; align-items: center; gap: 3px; padding: 0 5px !important; }
.sdpose-chip .sdpose-swatch { width: 9px; height: 9px; border-radius: 50%; display: inline-block; }
.sdpose-chip.sdpose-off { opacity: 0.35; text-decoration: line-through; }
.sdpose-canvas-box { position: relative; flex: 1 1 auto; min-height: 60px; background: #000; border-radius: 4px;
  overflow: hidden; }
.sdpose-canvas-box canvas { position: absolute; inset: 0; width: 100%; height: 100%; }
.sdpose-empty { position: absolute; inset: 0; display: flex; align-items: center; justify-content: center;
  color: #888; text-align: center; padding: 4px; pointer-events: none; }
.sdpose-backdrop { position: fixed; inset: 0; z-index: 10000; background: rgba(0, 0, 0, 0.6); display: flex;
  align-items: center; justify-content: center; outline: none; }
.sdpose-editor { width: min(1400px, 94vw); height: 92vh; display: flex; flex-direction: column; gap: 6px;
  background: var(--comfy-menu-bg, #202020); color: var(--fg-color, #ddd); border: 1px solid var(--border-color, #555);
  border-radius: 8px; padding: 8px 10px; box-sizing: border-box; font: 13px sans-serif; }
.sdpose-editor h3 { margin: 0; font-size: 14px; font-weight: 600; }
.sdpose-editor .sdpose-sep { width: 1px; align-self: stretch; background: var(--border-color, #555); margin: 0 4px; }
.sdpose-editor .sdpose-stage { position: relative; flex: 1 1 auto; background: #111; border-radius: 4px;
  overflow: hidden; touch-action: none; }
.sdpose-editor .sdpose-stage canvas { position: absolute; inset: 0; width: 100%; height: 100%; }
.sdpose-editor input[type=text] { background: var(--comfy-input-bg, #222); color: var(--input-text, #ddd);
  border: 1px solid var(--border-color, #555); border-radius: 4px; padding: 2px 6px; font: inherit; min-width: 260px; }
.sdpose-status { flex: 1 1 auto; min-height: 16px; color: var(--descrip-text, #aaa); }
.sdpose-status.sdpose-error { color: #ff7070; }
.sdpose-status.sdpose-ok { color: #7fdc7f; }
.sdpose-warning { color: #ffcc55; background: rgba(255, 190, 60, 0.12); border: 1px solid rgba(255, 190, 60, 0.5);
  border-radius: 4px; padding: 2px 6px; font-size: 11px; }
.sdpose-help { color: var(--descrip-text, #999); font-size: 11px; }
`;

export function ensureStyle() {
  if (document.getElementById("sdpose-style")) return;
  const style = document.createElement("style");
  style.id = "sdpose-style";
  style.textContent = CSS;
  document.head.appendChild(style);
}

/** document.createElement with attributes ({class, text, on*: handler, dataset props as data-*}) and children. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value == null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key in node && typeof value !== "string") node[key] = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) if (child != null) node.append(child);
  return node;
}

/** A labelled checkbox; returns {label, input}. */
export function toggle(text, checked, onChange, name) {
  const input = el("input", { type: "checkbox", checked, "data-sdpose-toggle": name || text, onchange: () => onChange(input.checked) });
  const label = el("label", { class: "sdpose-toggle", title: `Show ${text}` }, input, text);
  return { label, input };
}
