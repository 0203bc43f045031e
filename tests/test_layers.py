"""The package's shape: one-way layers, no import cycles, and no import-time magic."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

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
    "api": {"foundation", "formats", "engine", "weights", "motion", "pose", "video"},
    "cli": {"foundation", "formats", "engine", "weights", "motion", "pose", "video", "api"},
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


# The module paths of 0.2.0 (sdpose_core.render, ...) were kept by an import hook until 0.4.0; they are gone.
OLD_PATHS = ("model", "head", "schemes", "codec", "crop", "pipeline", "detect", "cpu", "checkpoint", "comfy_layout",
             "export", "strict", "openpose", "coco", "track", "smooth", "zero_lag", "gaps", "clip_tracks", "render",
             "people", "retarget", "face", "batch", "job", "work", "ray_engine", "retarget_cli")


def test_importing_the_package_changes_no_import_machinery_and_old_paths_are_gone():
    """``import sdpose_core`` adds no finder to ``sys.meta_path``; a 0.2.0 path is a plain ModuleNotFoundError."""
    code = ("import importlib, sys\nbefore = list(sys.meta_path)\nimport sdpose_core\n"
            "assert sys.meta_path == before, sys.meta_path\n"
            f"missing = []\nfor old in {OLD_PATHS!r}:\n"
            "    try:\n        importlib.import_module('sdpose_core.' + old)\n"
            "    except ModuleNotFoundError:\n        missing.append(old)\n"
            "print(len(missing))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == str(len(OLD_PATHS)), done.stdout + done.stderr


def test_a_module_holds_the_same_names_whatever_was_imported_before():
    """Module contents never depend on import history: each module imported first in a fresh interpreter has the
    same public names as after importing everything else first."""
    modules = sorted(module_name(p) for p in PACKAGE.rglob("*.py") if p.name != "__main__.py")
    modules = [m for m in modules if not m.endswith("ray_engine")]  # imports ray when asked to run, not before
    first = ("sdpose_core.pose.render", "sdpose_core.pose.face", "sdpose_core.formats.openpose")
    code = ("import importlib\n"
            f"mods, first = {modules!r}, {first!r}\n"
            "alone = {f: set(dir(importlib.import_module(f))) for f in first}\n"
            "for other in mods: importlib.import_module(other)\n"
            "subs = {o.rpartition('.')[2] for o in mods}\n"
            "print(sorted(n for f in first for n in set(dir(importlib.import_module(f))) - alone[f] - subs))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stdout + done.stderr


LIGHT = ("sdpose_core", "sdpose_core.cli", "sdpose_core.video.options", "sdpose_core.engine.options",
         "sdpose_core.formats.openpose",
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
