"""The pack as ComfyUI imports it, without a server: cheap import, the V3 entry point, the nodes' helpers."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from comfy_helpers import REPO, comfyui_main, skip_or_fail
from pack import import_pack

HEAVY = ("torch", "diffusers", "transformers", "onnxruntime", "cv2", "safetensors", "huggingface_hub")
# What ComfyUI itself has not imported yet when it loads custom nodes: the pack must not import these either.
MODEL_LIBRARIES = ("diffusers", "transformers", "onnxruntime", "cv2", "huggingface_hub", "accelerate")
NODE_IDS = ["SDPoseNodes.AnnotateVideoFile", "SDPoseNodes.DrawPose", "SDPoseNodes.Estimator",
            "SDPoseNodes.FaceCrops", "SDPoseNodes.LoadPoseKeypoints", "SDPoseNodes.ModelLoader",
            "SDPoseNodes.RetargetPose", "SDPoseNodes.SavePoseKeypoints", "SDPoseNodes.SelectPeople",
            "SDPoseNodes.VideoOptions"]
IMPORT_PACK = f"""
import importlib.util, sys
spec = importlib.util.spec_from_file_location("pack", {str(REPO / "__init__.py")!r},
                                              submodule_search_locations=[{str(REPO)!r}])
pack = importlib.util.module_from_spec(spec); sys.modules["pack"] = pack; spec.loader.exec_module(pack)
"""


def comfyui_dir() -> Path:
    main = comfyui_main()
    if main is None:
        skip_or_fail("ComfyUI is not installed; the V3 nodes import ComfyUI's comfy_api.")
    return main.parent


def run_python(script: str) -> dict:
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "could not be loaded" not in out.stderr, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def import_comfy_pack():
    """The pack as ComfyUI imports it, with ComfyUI on sys.path."""
    return import_pack(comfyui=comfyui_dir())


def test_import_outside_comfyui_loads_nothing_heavy():
    """Plain Python (no ComfyUI): the pack module imports in no time and only declares its entry point."""
    result = run_python(f"""
import json, sys, time
start = time.perf_counter()
{IMPORT_PACK}
print(json.dumps({{"seconds": time.perf_counter() - start, "heavy": [m for m in {HEAVY!r} if m in sys.modules],
                  "exports": sorted(pack.__all__), "web": pack.WEB_DIRECTORY,
                  "v1": hasattr(pack, "NODE_CLASS_MAPPINGS")}}))
""")
    assert result["heavy"] == [], result
    assert result["exports"] == ["WEB_DIRECTORY", "comfy_entrypoint"] and result["web"] == "./web"
    assert result["v1"] is False  # ComfyUI ignores comfy_entrypoint when a pack exports NODE_CLASS_MAPPINGS


def test_entrypoint_lists_the_v3_nodes_without_loading_model_libraries():
    """As ComfyUI loads it (comfy_api already imported): the entry point's nodes, no model library, under 1 s."""
    result = run_python(f"""
import asyncio, json, sys, time
sys.path.insert(0, {str(comfyui_dir())!r})
import comfy_api.latest, folder_paths  # ComfyUI has imported these before it loads custom nodes
from comfy_api.latest import ComfyExtension, io
before = set(sys.modules)
start = time.perf_counter()
{IMPORT_PACK}
extension = asyncio.run(pack.comfy_entrypoint())
nodes = asyncio.run(extension.get_node_list())
schemas = [n.GET_SCHEMA() for n in nodes]
seconds = time.perf_counter() - start
print(json.dumps({{"seconds": seconds, "extension": isinstance(extension, ComfyExtension),
                  "v3": all(issubclass(n, io.ComfyNode) for n in nodes),
                  "ids": sorted(s.node_id for s in schemas), "names": {{s.node_id: s.display_name for s in schemas}},
                  "new": sorted(m for m in {MODEL_LIBRARIES!r} if m in sys.modules and m not in before)}}))
""")
    assert result["extension"] and result["v3"] and result["ids"] == NODE_IDS, result
    assert all(name.startswith("SDPose ") for name in result["names"].values())
    assert result["new"] == [], result


def test_search_aliases_reach_comfyui_where_its_schema_has_them():
    """Every node has aliases ("openpose", "dwpose", "pose" for the Estimator); a Schema with search_aliases
    (ComfyUI newer than 0.3.75) gets them, and one without (0.3.75) still builds every node."""
    pack = import_comfy_pack()
    extension = importlib.import_module(f"{pack.__name__}.nodes.extension")
    v3 = importlib.import_module(f"{pack.__name__}.nodes.v3")
    import dataclasses

    from comfy_api.latest import io

    nodes = [n for module in extension.NODE_MODULES for n in module.NODES]
    assert sorted(v3.SEARCH_ALIASES) == NODE_IDS
    assert {"openpose", "dwpose", "pose"} <= set(v3.SEARCH_ALIASES["SDPoseNodes.Estimator"])
    assert all(n.define_schema().node_id in v3.SEARCH_ALIASES for n in nodes)

    @dataclasses.dataclass
    class NewerSchema(io.Schema):
        search_aliases: list = None

    original = v3.io.Schema
    v3.io.Schema = NewerSchema
    try:
        assert v3.supports_search_aliases()
        for node in nodes:
            schema = node.define_schema()
            assert schema.search_aliases == v3.SEARCH_ALIASES[schema.node_id]
    finally:
        v3.io.Schema = original
    assert v3.supports_search_aliases() == ("search_aliases" in {f.name for f in dataclasses.fields(io.Schema)})


def keypoints_module():
    import_comfy_pack()
    return importlib.import_module("sdpose_pack.nodes.keypoints_io")


@pytest.fixture(scope="module")
def boxes():
    import_comfy_pack()
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
    keypoints_io = keypoints_module()
    with pytest.raises(Exception) as info:
        keypoints_io.save_target(prefix, tmp_path)
    assert type(info.value).__name__ == "InputError"


def test_save_prefix_inside_and_symlink_escape(tmp_path):
    keypoints_io = keypoints_module()
    root = tmp_path / "out"
    root.mkdir()
    assert keypoints_io.save_target("sdpose/pose", root) == (root / "sdpose", "pose")
    (root / "link").symlink_to(tmp_path, target_is_directory=True)
    with pytest.raises(Exception, match="outside"):
        keypoints_io.save_target("link/pose", root)


def test_numbered_names_never_reuse_a_file(tmp_path):
    """One scheme for every output, ComfyUI's: SaveImage's PNGs, the pack's JSON and videos number on from each
    other (the counter is folder_paths.get_save_image_path's)."""
    keypoints_module()
    files = importlib.import_module("sdpose_pack.nodes.files")
    (tmp_path / "pose_00001_.json").write_text("old")
    (tmp_path / "pose_00007_.json").write_text("old")
    (tmp_path / "pose_00003_.png").write_text("old")  # ComfyUI's SaveImage, same prefix
    (tmp_path / "other_00009_.json").write_text("old")
    assert files.first_free(tmp_path, "pose") == 8
    path, used = files.create_numbered(tmp_path, "pose", 7, ".json", "new")  # a racing writer's number is skipped
    assert (path.name, used) == ("pose_00008_.json", 8) and (tmp_path / "pose_00007_.json").read_text() == "old"
    series = files.series(tmp_path / "pose_00001_.json")
    assert [p.name for p in series] == ["pose_00001_.json", "pose_00007_.json", "pose_00008_.json"]
