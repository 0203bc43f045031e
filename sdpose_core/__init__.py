"""sdpose_core: SDPose human pose estimation (Stable Diffusion 2 U-Net + heatmap head), usable without ComfyUI.

Importing this package is cheap; heavy dependencies load when a function that needs them runs.
"""

from __future__ import annotations

from typing import Any

from .errors import CheckpointError, DownloadError, InputError, SDPoseError
from .legacy import install as _install_legacy_paths

__version__ = "0.3.0"

_LAZY = {
    "load_model": "weights.checkpoint",
    "SDPoseModel": "engine.model",
    "PoseEstimator": "engine.pipeline",
    "PoseResult": "engine.pipeline",
    "estimate": "engine.pipeline",
    "UDPHeatmap": "engine.codec",
    "get_scheme": "engine.schemes",
}

_install_legacy_paths(__name__)

__all__ = ["CheckpointError", "DownloadError", "InputError", "SDPoseError", "__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'sdpose_core' has no attribute '{name}'")
