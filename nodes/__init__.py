"""The SDPose ComfyUI nodes. Each module is one concept; all pose logic lives in sdpose_core."""

from __future__ import annotations

import importlib.util

from . import draw, estimator, keypoints_io, model_loader, video_options

NODE_CLASS_MAPPINGS: dict = {}
NODE_DISPLAY_NAME_MAPPINGS: dict = {}
_modules = [model_loader, estimator, video_options, draw, keypoints_io]
if importlib.util.find_spec("comfy_api") is not None:  # nodes in ComfyUI's V3 schema: only inside ComfyUI
    from . import face_crops, retarget, select_people

    _modules += [retarget, face_crops, select_people]
for _module in _modules:
    NODE_CLASS_MAPPINGS.update(_module.NODE_CLASS_MAPPINGS)
    NODE_DISPLAY_NAME_MAPPINGS.update(_module.NODE_DISPLAY_NAME_MAPPINGS)
