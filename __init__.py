"""SDPose for ComfyUI: "SDPose Estimator" (a drop-in for DWPose Estimator) and friends.

ComfyUI imports this file at start-up. It stays cheap: no model is loaded, nothing is downloaded, and the heavy
dependencies (torch models, diffusers, transformers, onnxruntime, OpenCV) are imported only when a node runs; a
missing one then fails that node with the pip command to run, never ComfyUI itself.
"""

import logging
import sys

WEB_DIRECTORY = "./web"
NODE_CLASS_MAPPINGS: dict = {}
NODE_DISPLAY_NAME_MAPPINGS: dict = {}

try:
    from .nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS  # noqa: F811
except Exception:  # never take ComfyUI down with us; the log says why the SDPose nodes are missing
    logging.getLogger("sdpose_nodes").exception("SDPose nodes could not be loaded")
else:
    try:
        import folder_paths  # noqa: F401  (only inside ComfyUI)
    except ImportError:
        pass
    else:
        from .nodes.common import register_folders

        register_folders()
        # The web extension's routes (web/ -> nodes/web_api.py), only inside a running ComfyUI server.
        if getattr(getattr(sys.modules.get("server"), "PromptServer", None), "instance", None) is not None:
            try:
                from .nodes import routes  # noqa: F401
            except Exception:
                logging.getLogger("sdpose_nodes").exception("SDPose web routes could not be registered")

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS", "WEB_DIRECTORY"]
