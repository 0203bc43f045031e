"""The pack as ComfyUI imports it, without a server: cheap import, and the nodes' pure helpers."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

from comfy_helpers import REPO

HEAVY = ("torch", "diffusers", "transformers", "onnxruntime", "cv2", "safetensors", "huggingface_hub")


def import_pack(name: str = "sdpose_pack"):
    """Import the repository as a package, the way ComfyUI imports a custom node folder."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REPO / "__init__.py", submodule_search_locations=[str(REPO)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_import_loads_no_model_library_and_registers_six_nodes():
    script = f"""
import importlib.util, json, sys, time
start = time.perf_counter()
spec = importlib.util.spec_from_file_location("pack", {str(REPO / "__init__.py")!r},
                                              submodule_search_locations=[{str(REPO)!r}])
pack = importlib.util.module_from_spec(spec); sys.modules["pack"] = pack; spec.loader.exec_module(pack)
print(json.dumps({{"seconds": time.perf_counter() - start, "heavy": [m for m in {HEAVY!r} if m in sys.modules],
                  "nodes": sorted(pack.NODE_CLASS_MAPPINGS), "names": pack.NODE_DISPLAY_NAME_MAPPINGS,
                  "web": pack.WEB_DIRECTORY}}))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["heavy"] == [] and result["seconds"] < 1.0, result
    assert result["nodes"] == ["SDPoseNodes.DrawPose", "SDPoseNodes.Estimator", "SDPoseNodes.LoadPoseKeypoints",
                               "SDPoseNodes.ModelLoader", "SDPoseNodes.SavePoseKeypoints",
                               "SDPoseNodes.VideoOptions"]
    assert set(result["names"]) == set(result["nodes"]) and result["web"] == "./web"
    assert "could not be loaded" not in out.stderr


@pytest.fixture(scope="module")
def boxes():
    import_pack()
    return importlib.import_module("sdpose_pack.nodes.boxes")


def test_bounding_box_shapes(boxes):
    a = {"x": 1, "y": 2, "width": 30, "height": 40, "label": "person", "score": 0.5}
    b = {"x": 5, "y": 6, "width": 10, "height": 20}
    car = {"x": 0, "y": 0, "width": 9, "height": 9, "label": "car"}
    assert boxes.boxes_per_frame([[a, b, car], []], 2) == [[[1, 2, 30, 40, 0.5], [5, 6, 10, 20, 1.0]], []]
    assert boxes.boxes_per_frame([a], 3) == [[[1, 2, 30, 40, 0.5]]] * 3  # a flat list: every frame
    assert boxes.boxes_per_frame(a, 2) == [[[1, 2, 30, 40, 0.5]]] * 2  # one dict: every frame
    assert boxes.boxes_per_frame([[b]], 2) == [[[5, 6, 10, 20, 1.0]]] * 2  # one frame's list: every frame
    assert boxes.boxes_per_frame([], 2) == [[], []]  # nothing detected anywhere
    assert boxes.boxes_per_frame([[1, 2, 3, 4]], 1) == [[[1, 2, 3, 4, 1.0]]]  # plain [x, y, w, h]
    assert boxes.boxes_per_frame([[{**b, "width": 0}]], 1) == [[]]  # a sliver: nobody there
    assert boxes.boxes_per_frame([[{**a, "label": "Person"}]], 1) == [[[1, 2, 30, 40, 0.5]]]


@pytest.mark.parametrize("bad, message", [
    ([[{"x": 1, "y": 2, "width": 3}]], "missing height"),
    ([[{"x": 1, "y": 2, "width": 3, "height": float("nan")}]], "finite number"),
    ([[{"x": "1", "y": 2, "width": 3, "height": 4}]], "finite number"),
    ([[], [], []], "3 frames but the image batch has 2"),
    ("boxes", "expected a list"),
    ([[["a", "b"]]], "expected a dict"),
])
def test_bounding_box_errors_name_the_problem(boxes, bad, message):
    with pytest.raises(Exception) as info:
        boxes.boxes_per_frame(bad, 2)
    assert type(info.value).__name__ == "InputError" and message in str(info.value)


@pytest.mark.parametrize("prefix", ["../x", "/abs/x", "a/../../x", "", "dir/", "a\\..\\..\\x"])
def test_save_prefix_cannot_leave_the_output_folder(tmp_path, prefix):
    keypoints_io = import_pack().nodes.keypoints_io
    with pytest.raises(Exception) as info:
        keypoints_io.save_target(prefix, tmp_path)
    assert type(info.value).__name__ == "InputError"


def test_save_prefix_inside_and_symlink_escape(tmp_path):
    keypoints_io = import_pack().nodes.keypoints_io
    root = tmp_path / "out"
    root.mkdir()
    assert keypoints_io.save_target("sdpose/pose", root) == (root / "sdpose", "pose")
    (root / "link").symlink_to(tmp_path, target_is_directory=True)
    with pytest.raises(Exception, match="outside"):
        keypoints_io.save_target("link/pose", root)


def test_numbered_names_never_reuse_a_file(tmp_path):
    keypoints_io = import_pack().nodes.keypoints_io
    (tmp_path / "pose_00001_.json").write_text("old")
    (tmp_path / "pose_00007_.json").write_text("old")
    (tmp_path / "other_00009_.json").write_text("old")
    counter = keypoints_io._next_counter(tmp_path, "pose")
    assert counter == 8
    path, used = keypoints_io._create_exclusive(tmp_path, "pose", 7)  # a racing writer's number is skipped
    assert (path.name, used) == ("pose_00008_.json", 8) and (tmp_path / "pose_00007_.json").read_text() == "old"
    series = keypoints_io.sequence_files(tmp_path / "pose_00001_.json")
    assert [p.name for p in series] == ["pose_00001_.json", "pose_00007_.json", "pose_00008_.json"]
