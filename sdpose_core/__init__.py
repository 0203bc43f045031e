"""sdpose_core: SDPose human pose estimation (Stable Diffusion 2 U-Net + heatmap head), usable without ComfyUI.

Importing this package is cheap; heavy dependencies load when a function that needs them runs. The Python API:
:class:`SDPoseDetector` (image in, pose image or POSE_KEYPOINT out, in controlnet_aux's shape) on top of
:class:`PoseEstimator` (images and boxes in, keypoints out) and :class:`EstimatorOptions` (its settings).
"""

from __future__ import annotations

from typing import Any

from .errors import CheckpointError, DownloadError, InputError, SDPoseError
from .version import __version__

_LAZY = {
    "load_model": "weights.checkpoint",
    "SDPoseModel": "engine.model",
    "PoseEstimator": "engine.pipeline",
    "PoseResult": "engine.pipeline",
    "estimate": "engine.pipeline",
    "EstimatorOptions": "engine.options",
    "SDPoseDetector": "api",
    "load_estimator": "api",
    "UDPHeatmap": "engine.codec",
    "get_scheme": "engine.schemes",
}

__all__ = ["CheckpointError", "DownloadError", "InputError", "SDPoseError", "__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'sdpose_core' has no attribute '{name}'")
