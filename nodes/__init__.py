"""The SDPose ComfyUI nodes. Each module is one concept; all pose logic lives in sdpose_core.

The node modules are written in ComfyUI's V3 schema and import ``comfy_api``, so they load inside ComfyUI only
(see :mod:`.extension`); the pure helpers (``common``, ``boxes``) import anywhere.
"""
