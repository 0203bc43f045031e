"""The module paths of releases up to 0.2.0, kept importable after the package was grouped into subpackages.

``import sdpose_core.checkpoint`` (or ``from sdpose_core.render import draw_people``) gives the module at its new home
(:mod:`sdpose_core.weights.checkpoint`, :mod:`sdpose_core.pose.render`): the same module object, so attributes set on
it are seen by the library. ``sdpose_core.video`` and ``sdpose_core.cli`` are packages now and re-export what the old
modules held.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
from types import ModuleType

MOVED: dict[str, str] = {
    "model": "engine.model",
    "head": "engine.head",
    "schemes": "engine.schemes",
    "codec": "engine.codec",
    "crop": "engine.crop",
    "pipeline": "engine.pipeline",
    "detect": "engine.detect",
    "cpu": "engine.cpu",
    "checkpoint": "weights.checkpoint",
    "comfy_layout": "weights.comfy_layout",
    "export": "weights.export",
    "strict": "weights.strict",
    "openpose": "formats.openpose",
    "coco": "formats.coco",
    "track": "motion.track",
    "smooth": "motion.smooth",
    "zero_lag": "motion.zero_lag",
    "gaps": "motion.gaps",
    "clip_tracks": "motion.clip_tracks",
    "render": "pose.render",
    "people": "pose.people",
    "retarget": "pose.retarget",
    "face": "pose.face",
    "batch": "cli.batch",
    "job": "cli.job",
    "work": "cli.work",
    "ray_engine": "cli.ray_engine",
    "retarget_cli": "cli.retarget",
}
# Functions that left their 0.2.0 module for another layer: found there when the module is imported by its old path.
MOVED_ATTRIBUTES: dict[str, dict[str, str]] = {
    "face": {"write_face_video": "video.face_video"},
    "render": {"draw_command": "cli.draw"},
}


class _Alias(importlib.abc.Loader):
    """Loads an old name as the module that now holds its code."""

    def __init__(self, package: str, old: str) -> None:
        self.package, self.old, self.target = package, old, f"{package}.{MOVED[old]}"

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        module = importlib.import_module(self.target)
        self.spec = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        module.__spec__ = self.spec  # the import system stamped the old name's spec on it: give the module its own back
        moved = MOVED_ATTRIBUTES.get(self.old, {})
        if moved and not hasattr(module, "__getattr__"):
            package = self.package

            def forward(name: str) -> object:
                if name in moved:
                    return getattr(importlib.import_module(f"{package}.{moved[name]}"), name)
                raise AttributeError(f"module '{module.__name__}' has no attribute '{name}'")

            module.__getattr__ = forward


class MovedModuleFinder(importlib.abc.MetaPathFinder):
    """Finds ``<package>.<old name>`` for each entry of :data:`MOVED`."""

    def __init__(self, package: str) -> None:
        self.package = package

    def find_spec(self, fullname: str, path: object = None,
                  target: object = None) -> importlib.machinery.ModuleSpec | None:
        parent, _, name = fullname.rpartition(".")
        if parent != self.package or name not in MOVED:
            return None
        return importlib.machinery.ModuleSpec(fullname, _Alias(self.package, name))


def install(package: str) -> None:
    """Make the old module paths of ``package`` importable (once per process)."""
    if not any(isinstance(f, MovedModuleFinder) and f.package == package for f in sys.meta_path):
        sys.meta_path.append(MovedModuleFinder(package))
