"""The pack as a ComfyUI V3 extension: the node list ComfyUI's ``comfy_entrypoint`` hands over.

Importing this imports ``comfy_api`` (ComfyUI's, already loaded when custom nodes load) and the node modules;
no model, no heavy library.
"""

from __future__ import annotations

from comfy_api.latest import ComfyExtension, io
from typing_extensions import override

from . import (
    draw,
    estimator,
    face_crops,
    keypoints_io,
    model_loader,
    retarget,
    select_people,
    video_file,
    video_options,
)

NODE_MODULES = (model_loader, estimator, video_options, draw, keypoints_io, video_file, retarget, face_crops,
                select_people)


class SDPoseExtension(ComfyExtension):
    @override
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        return [node for module in NODE_MODULES for node in module.NODES]
