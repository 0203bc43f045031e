"""The pack's socket types for nodes written in ComfyUI's V3 schema (``comfy_api.latest``).

Imported only inside ComfyUI (``comfy_api`` is ComfyUI's); the names match the V1 nodes' type strings.
"""

from __future__ import annotations

from comfy_api.latest import io

from .common import MODEL_TYPE

PoseKeypoint = io.Custom("POSE_KEYPOINT")
BoundingBox = io.Custom("BOUNDING_BOX")
SDPoseModel = io.Custom(MODEL_TYPE)
