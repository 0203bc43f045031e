"""Without diffusers and onnxruntime ComfyUI still starts with the pack loaded; using a node says what to install."""

from __future__ import annotations

import shutil

import pytest

from comfy_helpers import BODY, comfy_folder, estimator, loader, start_server, stop_server

LOAD = {"class_type": "LoadImage", "inputs": {"image": "person.png"}}


@pytest.fixture(scope="module")
def bare_comfy(comfy_base, tmp_path_factory):
    base = comfy_folder(tmp_path_factory.mktemp("comfy-missing"))
    (base / "models" / "sdpose").mkdir(parents=True)
    # a copy: a link that leads out of models/sdpose/ is neither listed nor loaded (nodes/common.py, listing)
    shutil.copytree(comfy_base / "models" / "sdpose" / BODY, base / "models" / "sdpose" / BODY)
    (base / "input").mkdir()
    (base / "input" / "person.png").symlink_to(comfy_base / "input" / "person.png")
    server = start_server(base, block_modules=("diffusers", "onnxruntime"))
    yield server
    stop_server(server)


def test_comfyui_starts_and_the_node_names_the_missing_package(bare_comfy):
    info = bare_comfy.get("/object_info")
    assert "SDPoseNodes.Estimator" in info and "SDPoseNodes.ModelLoader" in info
    entry = bare_comfy.run({"1": LOAD, "2": loader(BODY), "3": estimator(["1", 0], ["2", 0]),
                            "4": {"class_type": "PreviewImage", "inputs": {"images": ["3", 0]}}})
    assert entry["status"]["status_str"] == "error"
    [error] = [m[1] for m in entry["status"]["messages"] if m[0] == "execution_error"]
    assert error["node_type"] == "SDPoseNodes.ModelLoader"
    assert "pip install diffusers" in error["exception_message"]
    assert "requirements.txt" in error["exception_message"]
    assert bare_comfy.alive()
