"""The repository imported as a package, the way ComfyUI imports a custom node folder (the nodes use relative
imports): one helper for every test that needs the pack's own modules."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[1]


def import_pack(name: str = "sdpose_pack", comfyui: Path | None = None) -> ModuleType:
    """The pack as module ``name`` (imported once per process); ``comfyui``: a ComfyUI folder to put on sys.path
    first, for the node modules that import ComfyUI's ``comfy_api``."""
    if comfyui is not None and str(comfyui) not in sys.path:
        sys.path.insert(0, str(comfyui))
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO / "__init__.py",
                                                      submodule_search_locations=[str(REPO)])
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]
