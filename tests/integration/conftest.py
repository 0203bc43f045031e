"""Fixtures: a tiny-model ComfyUI base directory and a real ComfyUI server on it (see comfy_helpers.py)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from comfy_helpers import (
    HELPER_NODES,
    REPO,
    Frontend,
    browser_missing,
    comfy_folder,
    comfyui_main,
    load_module,
    skip_or_fail,
    start_server,
    stop_server,
    write_inputs,
    write_tiny_single_file,
)


@pytest.fixture(scope="session")
def comfy_base(tmp_path_factory) -> Path:
    if comfyui_main() is None:
        skip_or_fail("ComfyUI is not installed (run .ci/install-comfyui.sh <venv>, or set COMFYUI_MAIN to a "
                    "ComfyUI main.py); the integration tests need a real ComfyUI server.")
    base = comfy_folder(tmp_path_factory.mktemp("comfy"), {"sdpose_test_helpers.py": HELPER_NODES})

    unit = load_module("sdpose_unit_conftest", REPO / "tests" / "conftest.py")
    sdpose = base / "models" / "sdpose"
    sdpose.mkdir(parents=True)
    wholebody = unit.write_tiny_folder(sdpose / "SDPose-Wholebody-tiny", "wholebody", seed=1)
    unit.write_tiny_folder(sdpose / "SDPose-Body-tiny", "body", seed=0)
    (sdpose / "broken.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{\"a\":1}not a safetensors file")
    write_tiny_single_file(base / "models" / "checkpoints" / "sdpose_wholebody_tiny_fp16.safetensors")
    # ComfyUI's single file has no text encoder: its empty-prompt context comes from the cache that any official
    # folder load fills (models/sdpose/.cache by default). Fill it the way a user's first folder load would.
    from sdpose_core.weights.checkpoint import load_model

    load_model(wholebody, cache=sdpose / ".cache")
    for stale in sdpose.glob(".tok-*"):
        shutil.rmtree(stale)
    write_inputs(base / "input")
    return base


@pytest.fixture(scope="session")
def comfy(comfy_base):
    started = time.monotonic()
    server = start_server(comfy_base)
    server.start_seconds = time.monotonic() - started
    yield server
    stop_server(server)




@pytest.fixture(scope="session")
def yolox(comfy_base):
    """models/sdpose/yolox_l.onnx: a YOLOX-shaped ONNX model that always finds two people (tests/test_detect.py)."""
    detect_tests = load_module("sdpose_detect_tests", REPO / "tests" / "test_detect.py")
    input_hw = (320, 320)
    base = detect_tests.blank_base(input_hw)
    boxes = [(20, 40, 120, 300), (150, 30, 230, 310)]  # model-input pixels; the 96x128 image is scaled by 2.5
    for box in boxes:
        detect_tests.put_box(base, input_hw, 32, box, obj=0.9)
    detect_tests.build_model(comfy_base / "models" / "sdpose" / "yolox_l.onnx", input_hw, base, red=False)
    return boxes


@pytest.fixture(scope="module")
def frontend(comfy):
    """The ComfyUI web app in headless Chromium on the session's server, with the pack's extension loaded."""
    why = browser_missing()
    if why:
        skip_or_fail(f"browser test skipped: {why}")
    page = Frontend(comfy)
    page.page.wait_for_function("() => window.SDPose && window.SDPose.openPoseEditor", timeout=30_000)
    yield page
    page.close()
