"""SDPose for ComfyUI: "SDPose Estimator" (a drop-in for DWPose Estimator) and friends, as ComfyUI V3 nodes.

ComfyUI imports this file at start-up and awaits ``comfy_entrypoint``. Both stay cheap: no model is loaded, nothing is
downloaded, and the heavy dependencies (diffusers, transformers, onnxruntime, OpenCV) are imported only when a node
runs; a missing one then fails that node with the pip command to run, never ComfyUI itself.
"""

import logging
import sys

WEB_DIRECTORY = "./web"
LOG = logging.getLogger("sdpose_nodes")


def _register_server_parts() -> None:
    """models/sdpose/ in ComfyUI's model folders, and the web extension's routes (web/ -> nodes/web_api.py)."""
    from .nodes.common import register_folders

    register_folders()
    if getattr(getattr(sys.modules.get("server"), "PromptServer", None), "instance", None) is not None:
        try:
            from .nodes import routes  # noqa: F401
        except Exception:
            LOG.exception("SDPose web routes could not be registered")


async def comfy_entrypoint():
    """The SDPose ComfyExtension; None (ComfyUI skips the pack, the log says why) when the nodes cannot load."""
    try:
        from .nodes.extension import SDPoseExtension

        _register_server_parts()
        return SDPoseExtension()
    except Exception:  # never take ComfyUI down with us; the log says why the SDPose nodes are missing
        LOG.exception("SDPose nodes could not be loaded")
        return None


__all__ = ["WEB_DIRECTORY", "comfy_entrypoint"]
