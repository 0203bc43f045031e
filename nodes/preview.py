"""What the pose preview and the keypoint editor (web/) get from a node run, next to its outputs.

The nodes already send POSE_KEYPOINT as ``ui.openpose_json`` (DWPose's key). The Estimator adds ``ui.sdpose_parts``
(the parts its model predicts) and ``ui.sdpose_warnings`` (shown on the node). This adds ``ui.sdpose_backgrounds``:
small JPEG copies of the frames the poses belong to, in ComfyUI's temp folder (``temp/sdpose/``, emptied when
ComfyUI starts), one ``{"filename", "subfolder", "type": "temp"}`` per image frame, which the front-end shows
behind the skeletons via ComfyUI's ``/view`` route. A failure here never fails the node: the preview then has no
background.
"""

from __future__ import annotations

import json
import os
import uuid

from ..sdpose_core.keypoints import NUM_BODY, NUM_WHOLEBODY
from . import common

BACKGROUND_KEY = "sdpose_backgrounds"
PARTS_KEY, WARNINGS_KEY = "sdpose_parts", "sdpose_warnings"
BODY_ONLY = NUM_BODY  # COCO body keypoints: no hands, face or feet
THUMB_SIDE = 512  # longer side of the background copies, in pixels
SUBFOLDER = "sdpose"
CHUNK = 16  # frames shrunk at a time


def pose_ui(frames) -> dict:
    """``ui.openpose_json`` as the estimator (and DWPose) send it: the frames as one JSON text."""
    return {"openpose_json": [json.dumps(frames)]}


def model_ui(num_keypoints: int, detect_hand: str, detect_face: str) -> dict:
    """What the model can show (``ui.sdpose_parts``, so the preview hides toggles that would do nothing) and a
    warning when detect_hand / detect_face ask a body-only model for parts it does not predict."""
    if num_keypoints != BODY_ONLY:
        return {PARTS_KEY: ["body", "hands", "face", "feet"]}
    asked = [name for name, value in (("detect_hand", detect_hand), ("detect_face", detect_face)) if value == "enable"]
    ui: dict = {PARTS_KEY: ["body"]}
    if asked:
        warning = (f"This is a body-only model ({NUM_BODY} keypoints): it finds no hands or face, so "
                   f"{' and '.join(asked)} change nothing. Load a WholeBody model ({NUM_WHOLEBODY} keypoints) for "
                   "hands and face.")
        common.LOG.warning("SDPose Estimator: %s", warning)
        ui[WARNINGS_KEY] = [warning]
    return ui


def background_ui(image) -> dict:
    """``{BACKGROUND_KEY: [...]}`` for an IMAGE batch [B, H, W, 3] in 0..1; ``{}`` when none could be written."""
    if image is None:
        return {}
    try:
        import folder_paths
        import numpy as np
        import torch
        from PIL import Image

        target = os.path.join(folder_paths.get_temp_directory(), SUBFOLDER)
        os.makedirs(target, exist_ok=True)
        run = uuid.uuid4().hex[:12]
        frames, height, width = int(image.shape[0]), int(image.shape[1]), int(image.shape[2])
        scale = min(1.0, THUMB_SIDE / max(height, width))
        size = (max(1, round(height * scale)), max(1, round(width * scale)))
        entries = []
        for start in range(0, frames, CHUNK):
            # Shrink on the tensor's device first: converting and encoding full frames costs ~10x more.
            chunk = image[start:start + CHUNK, ..., :3].detach().float().movedim(-1, 1)
            if scale < 1.0:
                chunk = torch.nn.functional.interpolate(chunk, size=size, mode="area")
            pixels = (chunk.clamp(0, 1) * 255.0 + 0.5).to(torch.uint8).movedim(1, -1).cpu().numpy()
            for offset, frame in enumerate(pixels):
                name = f"bg_{run}_{start + offset:05d}.jpg"
                Image.fromarray(np.ascontiguousarray(frame)).save(os.path.join(target, name), quality=80)
                entries.append({"filename": name, "subfolder": SUBFOLDER, "type": "temp"})
        return {BACKGROUND_KEY: entries}
    except Exception:  # noqa: BLE001  (the preview is a convenience: never fail the node for it)
        common.LOG.warning("SDPose: could not write the preview backgrounds", exc_info=True)
        return {}
