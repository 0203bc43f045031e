"""The SDPose ComfyUI nodes. Each module is one concept; all pose logic lives in sdpose_core."""

from __future__ import annotations

from . import draw, estimator, keypoints_io, model_loader, video_options

NODE_CLASS_MAPPINGS: dict = {}
NODE_DISPLAY_NAME_MAPPINGS: dict = {}
for _module in (model_loader, estimator, video_options, draw, keypoints_io):
    NODE_CLASS_MAPPINGS.update(_module.NODE_CLASS_MAPPINGS)
    NODE_DISPLAY_NAME_MAPPINGS.update(_module.NODE_DISPLAY_NAME_MAPPINGS)
