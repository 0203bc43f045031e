"""The package's shape: one-way layers, no import cycles, and the module paths of 0.2.0 still importable."""

from __future__ import annotations

import ast
import json
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from sdpose_core.legacy import MOVED

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "sdpose_core"

# What each group of sdpose_core may import (besides itself). Top-level modules are the foundation.
ALLOWED = {
    "foundation": set(),
    "formats": {"foundation"},
    "engine": {"foundation", "formats"},
    "weights": {"foundation", "engine"},
    "motion": {"foundation", "formats"},
    "pose": {"foundation", "formats", "motion"},
    "video": {"foundation", "formats", "engine", "motion", "pose"},
    "cli": {"foundation", "formats", "engine", "weights", "motion", "pose", "video"},
}
ENTRY_POINTS = {"sdpose_core", "sdpose_core.__main__"}  # the lazy top-level API and `python -m`


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def group(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and (PACKAGE / parts[1]).is_dir()) else "foundation"


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at the top or inside functions, relative imports resolved."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)  # `from . import x` names a module
    return found


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: {m for m in imports(path) if m in modules and m != name} for name, path in modules.items()}


def test_library_never_imports_nodes_train_or_comfyui():
    for path in PACKAGE.rglob("*.py"):
        bad = {m for m in imports(path) if m.split(".")[0] in {"nodes", "train", "comfy", "comfy_api", "folder_paths"}}
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_groups_import_only_lower_layers():
    problems = []
    for module, deps in graph().items():
        if module in ENTRY_POINTS:
            continue
        mine = group(module)
        problems += [f"{module} ({mine}) imports {dep} ({group(dep)})" for dep in deps
                     if group(dep) != mine and group(dep) not in ALLOWED[mine]]
    assert not problems, "\n".join(problems)


def test_no_import_cycles():
    edges = {m: d for m, d in graph().items() if m not in ENTRY_POINTS}
    for module, deps in edges.items():  # a package's __init__ importing its own modules is how re-exports work
        if PACKAGE.joinpath(*module.split(".")[1:], "__init__.py").exists():
            edges[module] = set()
    state: dict[str, int] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for dep in sorted(edges.get(module, ())):
            if state.get(dep) == 1:
                pytest.fail("import cycle: " + " -> ".join(path[path.index(dep):] + [dep]))
            if dep not in state:
                visit(dep, path + [dep])
        state[module] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])


@pytest.mark.parametrize("old", sorted(MOVED))
def test_old_module_paths_give_the_moved_module(old):
    moved = importlib.import_module(f"sdpose_core.{old}")
    home = importlib.import_module(f"sdpose_core.{MOVED[old]}")
    assert moved is home
    assert home.__spec__.name == f"sdpose_core.{MOVED[old]}"
    assert not (PACKAGE / f"{old}.py").exists(), "a real module would shadow the alias"


def test_old_imports_in_a_fresh_interpreter():
    code = ("from sdpose_core.render import draw_people; from sdpose_core.checkpoint import load_model; "
            "from sdpose_core.video import annotate_video, ClipOptions, read_frames; "
            "from sdpose_core.cli import main, parse_size; import sdpose_core.openpose as o; import sdpose_core; "
            "assert sdpose_core.openpose is o and o.__name__ == 'sdpose_core.formats.openpose'; "
            "assert sdpose_core.load_model is load_model; "
            "from sdpose_core.face import write_face_video, face_boxes; from sdpose_core.render import draw_command; "
            "from sdpose_core.video.face_video import write_face_video as w; from sdpose_core.cli.draw import "
            "draw_command as d; assert (write_face_video, draw_command) == (w, d); print('ok')")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_project_code_uses_the_new_paths():
    old = tuple(f"sdpose_core.{name}" for name in MOVED)
    users = [p for d in ("sdpose_core", "nodes", "train", "bench", "tests") for p in (ROOT / d).rglob("*.py")]
    offenders = []
    for path in users:
        if path.name == "test_layers.py":
            continue
        for module in imports(path):
            if module.startswith("sdpose_core.") and any(module == o or module.startswith(o + ".") for o in old):
                offenders.append(f"{path.relative_to(ROOT)}: {module}")
    assert not offenders, "\n".join(offenders)


LIGHT = ("sdpose_core", "sdpose_core.cli", "sdpose_core.video.options", "sdpose_core.formats.openpose",
         "sdpose_core.motion.limits", "sdpose_core.sizes", "sdpose_core.choices")


@pytest.mark.parametrize("modules,heavy", [
    (LIGHT, ("torch", "cv2", "av", "diffusers")),
    (("sdpose_core.keypoints",), ("numpy", "torch", "cv2")),  # the nodes import it at load time
])
def test_the_command_line_and_the_light_modules_load_without_heavy_libraries(modules, heavy):
    """`python -m sdpose_core --help` and the modules the nodes read defaults from stay light: no torch, no video
    libraries until a command runs (importing torch alone takes seconds); the keypoint layout not even numpy."""
    parser = "from sdpose_core.cli.main import build_parser\nbuild_parser()\n" if modules == LIGHT else ""
    code = (f"import sys\nfor m in {modules!r}: __import__(m)\n{parser}"
            f"print(sorted(m for m in {heavy!r} if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stdout + done.stderr


def test_every_public_name_of_the_old_modules_is_still_there():
    """Each public name the modules defined before the regrouping (functions, classes, constants: listed in
    tests/data/public_names_0.2.json) is an attribute of the module imported by its old path. Two were removed on
    purpose: ``comfy_layout.diffusers_to_comfy`` (writing single files, test-only now) and the unused
    ``images.find_images``."""
    listed = json.loads((ROOT / "tests" / "data" / "public_names_0.2.json").read_text())["modules"]
    missing = []
    for old, names in listed.items():
        module = importlib.import_module("sdpose_core" if old == "__init__" else f"sdpose_core.{old}")
        missing += [f"sdpose_core.{old}.{name}" for name in names if not hasattr(module, name)]
    assert not missing, missing


def test_old_paths_and_moved_functions_inside_the_pack_as_comfyui_imports_it():
    """ComfyUI imports the repository as a package, so the library is ``<pack>.sdpose_core``: old paths and the
    functions forwarded from them resolve inside it, not in a top-level ``sdpose_core``."""
    from pack import import_pack

    name = import_pack().__name__
    face = importlib.import_module(f"{name}.sdpose_core.face")
    render = importlib.import_module(f"{name}.sdpose_core.render")
    assert face.__name__ == f"{name}.sdpose_core.pose.face"
    assert face.write_face_video is importlib.import_module(f"{name}.sdpose_core.video.face_video").write_face_video
    assert render.draw_command is importlib.import_module(f"{name}.sdpose_core.cli.draw").draw_command
    assert not hasattr(render, "no_such_function")
