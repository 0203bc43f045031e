"""SDPose Estimator: the drop-in for comfyui_controlnet_aux's "DWPose Estimator" (DWPreprocessor).

Same inputs with the same meaning (image, detect_hand/body/face, resolution, bbox_detector,
scale_stick_for_xinsr_cn), same outputs (IMAGE, POSE_KEYPOINT), plus the SDPose model and SDPose's own options.
As in DWPose, detect_* choose what is drawn; POSE_KEYPOINT always carries every part the model predicts.
With SDPose Video Options connected, the IMAGE batch is one clip: tracked (people keep their order and gain
OpenPose's ``person_id``), optionally smoothed, optionally detected every N frames.
"""

from __future__ import annotations

import json
import threading

from . import common, preview
from .video_options import VIDEO_OPTIONS_TYPE

ENABLE = ["enable", "disable"]
_DETECTORS: dict[str, object] = {}
_DETECTORS_LOCK = threading.Lock()


def _detector(path):
    """One cached onnxruntime session (the last detector used)."""
    from ..sdpose_core.detect import YoloxDetector
    from ..sdpose_core.pipeline import numpy_detector

    key = str(path)
    with _DETECTORS_LOCK:
        if key not in _DETECTORS:
            _DETECTORS.clear()
            _DETECTORS[key] = numpy_detector(YoloxDetector(path))
        return _DETECTORS[key]


def activation_bytes(batch_size: int, flip: bool, size: tuple[int, int], element_size: int, vae_chunk: int) -> int:
    """A generous estimate of the working memory of one batch, so ComfyUI can offload other models first."""
    w, h = size
    crops = batch_size * (2 if flip else 1)
    vae = min(crops, vae_chunk) * w * h * 128 * element_size * 4  # full-resolution VAE encoder activations
    unet = crops * (w // 8) * (h // 8) * 320 * element_size * 40  # U-Net activations at 1/8 resolution
    return int(vae + unet)


class SDPoseEstimator:
    DESCRIPTION = ("Human pose estimation with SDPose, a drop-in for 'DWPose Estimator': the same inputs and outputs "
                   "(a pose IMAGE for OpenPose ControlNets and POSE_KEYPOINT in DWPose's format), more robust on "
                   "paintings, anime and stylized video.")
    CATEGORY = common.CATEGORY
    RETURN_TYPES = ("IMAGE", "POSE_KEYPOINT")
    RETURN_NAMES = ("IMAGE", "POSE_KEYPOINT")
    OUTPUT_TOOLTIPS = ("The poses drawn in DWPose's style on black, short side = resolution.",
                       "OpenPose JSON per frame, as DWPose emits it (pixels of the input image).")
    FUNCTION = "estimate_pose"
    OUTPUT_NODE = True  # its preview is an output: ComfyUI then re-sends the cached preview on unchanged runs

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "image": ("IMAGE",),
                "sdpose_model": (common.MODEL_TYPE, {"tooltip": "From SDPose Model Loader."}),
            },
            "optional": {
                "detect_hand": (ENABLE, {"default": "enable", "tooltip": "Draw the hands (WholeBody models)."}),
                "detect_body": (ENABLE, {"default": "enable", "tooltip": "Draw the body."}),
                "detect_face": (ENABLE, {"default": "enable", "tooltip": "Draw the face (WholeBody models)."}),
                "resolution": ("INT", {"default": 512, "min": 64, "max": 16384, "step": 64,
                                       "tooltip": "Short side of the output IMAGE in pixels, as in DWPose."}),
                "bbox_detector": (common.list_detectors(), {
                    "default": common.DETECTOR_FILE,
                    "tooltip": "Person detector. yolox_l.onnx is DWPose's (taken from models/sdpose/ or "
                               "comfyui_controlnet_aux, else downloaded); None poses the whole image as one person. "
                               "Ignored when bounding_box is connected."}),
                "scale_stick_for_xinsr_cn": (["disable", "enable"], {
                    "default": "disable", "tooltip": "Thicker limbs for xinsir's SDXL OpenPose ControlNet."}),
                "flip_test": ("BOOLEAN", {"default": True, "tooltip": "Also run the mirrored crop and average "
                                          "(the paper's setting; about twice the time)."}),
                "crop_mode": (["topdown", "stretch"], {
                    "default": "topdown", "tooltip": "topdown: aspect-preserving crop the model was trained on. "
                    "stretch: squash the box to the model input (what the demo and ComfyUI's native node do)."}),
                "score_threshold": ("FLOAT", {"default": 0.3, "min": 0.0, "max": 1.0, "step": 0.01,
                                              "tooltip": "Keypoints scoring below this are left out (DWPose: 0.3)."}),
                "batch_size": ("INT", {"default": 4, "min": 1, "max": 256,
                                       "tooltip": "Person crops per model call; lower it if you run out of memory."}),
                "bounding_box": ("BOUNDING_BOX", {
                    "forceInput": True,
                    "tooltip": "Person boxes per frame (RT-DETR Detect, YOLO nodes). Replaces bbox_detector; "
                               "boxes labelled other than 'person' are ignored."}),
                "video_options": (VIDEO_OPTIONS_TYPE, {
                    "tooltip": "From SDPose Video Options: pose the IMAGE batch as a video clip (tracking, "
                               "smoothing, detection every N frames). Unconnected: every frame on its own."}),
            },
        }

    def estimate_pose(self, image, sdpose_model, detect_hand="enable", detect_body="enable", detect_face="enable",
                      resolution=512, bbox_detector=common.DETECTOR_FILE, scale_stick_for_xinsr_cn="disable",
                      flip_test=True, crop_mode="topdown", score_threshold=0.3, batch_size=4, bounding_box=None,
                      video_options=None, **_dwpose_only):  # DWPose's pose_estimator: our model is sdpose_model
        common.require(common.CORE_PACKAGES, common.DRAW_PACKAGES)
        import numpy as np
        import torch

        import comfy.model_management as mm
        import comfy.utils

        from ..sdpose_core.pipeline import PoseEstimator
        from ..sdpose_core.render import check_batch, render_frame
        from ..sdpose_core.video import annotate_frames, pose_frame
        from .boxes import boxes_per_frame

        frames = int(image.shape[0])
        check_batch([(int(image.shape[2]), int(image.shape[1]))] * frames, resolution)  # before any work
        boxes = None if bounding_box is None else boxes_per_frame(bounding_box, frames)
        detector = None
        if boxes is None:
            path = common.resolve_detector(bbox_detector)
            if path is not None:
                common.require(common.DETECTOR_PACKAGES)
                detector = _detector(path)

        size = common.input_size()
        element = torch.finfo(sdpose_model.dtype).bits // 8
        vae_chunk = getattr(sdpose_model.module.sdpose, "vae_chunk", 4)
        model = sdpose_model.load(activation_bytes(batch_size, flip_test, size, element, vae_chunk))
        progress = comfy.utils.ProgressBar(frames)

        def on_batch(_crops: int) -> None:
            mm.throw_exception_if_processing_interrupted()

        estimator = PoseEstimator(model, input_size=size, flip=flip_test, crop_mode=crop_mode,
                                  batch_size=batch_size, detector=detector, on_batch=on_batch)
        draw = dict(body=detect_body == "enable", hands=detect_hand == "enable", face=detect_face == "enable",
                    feet=False, xinsr=scale_stick_for_xinsr_cn == "enable")
        if video_options is None:
            results = estimator(image, boxes)
        else:
            results = annotate_frames(estimator, image, fps=video_options.fps, options=video_options.options,
                                      boxes=boxes)
        poses, drawn = [], []
        for result in results:
            mm.throw_exception_if_processing_interrupted()
            frame = pose_frame(result, threshold=score_threshold)
            poses.append(frame)
            drawn.append(render_frame(frame, resolution=resolution, **draw))
            progress.update(1)
        pose_image = torch.from_numpy(np.stack(drawn).astype(np.float32) / 255.0)
        ui = {"openpose_json": [json.dumps(poses, indent=4)], **preview.background_ui(image),  # web/ preview
              **preview.model_ui(sdpose_model.scheme.num_keypoints, detect_hand, detect_face)}
        return {"ui": ui, "result": (pose_image, poses)}


NODE_CLASS_MAPPINGS = {"SDPoseNodes.Estimator": SDPoseEstimator}
NODE_DISPLAY_NAME_MAPPINGS = {"SDPoseNodes.Estimator": "SDPose Estimator"}
