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

from comfy_api.latest import io

from ..sdpose_core.keypoints import DWPOSE_THRESHOLD
from . import common, preview, v3
from .video_options import VideoOptionsIO

_DETECTORS: dict[str, object] = {}
_DETECTORS_LOCK = threading.Lock()


def _detector(path):
    """One cached onnxruntime session (the last detector used)."""
    from ..sdpose_core.engine.detect import YoloxDetector
    from ..sdpose_core.engine.pipeline import numpy_detector

    key = str(path)
    with _DETECTORS_LOCK:
        if key not in _DETECTORS:
            _DETECTORS.clear()
            _DETECTORS[key] = numpy_detector(YoloxDetector(path))
        return _DETECTORS[key]


def option_inputs() -> list:
    """DWPose's options and SDPose's own, in DWPreprocessor's order: shared by the Estimator and the video node."""
    return [
        io.Combo.Input("detect_hand", options=v3.ENABLE, default="enable", optional=True,
                       tooltip="Draw the hands (WholeBody models)."),
        io.Combo.Input("detect_body", options=v3.ENABLE, default="enable", optional=True, tooltip="Draw the body."),
        io.Combo.Input("detect_face", options=v3.ENABLE, default="enable", optional=True,
                       tooltip="Draw the face (WholeBody models)."),
        io.Int.Input("resolution", default=512, min=64, max=16384, step=64, optional=True,
                     tooltip="Short side of the output IMAGE in pixels, as in DWPose."),
        io.Combo.Input("bbox_detector", options=common.list_detectors(), default=common.DETECTOR_FILE, optional=True,
                       tooltip="Person detector. yolox_l.onnx is DWPose's (taken from models/sdpose/ or "
                               "comfyui_controlnet_aux, else downloaded); None poses the whole image as one person. "
                               "Ignored when bounding_box is connected."),
        io.Combo.Input("scale_stick_for_xinsr_cn", options=v3.XINSR, default="disable", optional=True,
                       tooltip="Thicker limbs for xinsir's SDXL OpenPose ControlNet."),
        io.Boolean.Input("flip_test", default=True, optional=True,
                         tooltip="Also run the mirrored crop and average (the paper's setting; about twice the time)."),
        io.Combo.Input("crop_mode", options=["topdown", "stretch"], default="topdown", optional=True,
                       tooltip="topdown: aspect-preserving crop the model was trained on. stretch: squash the box to "
                               "the model input (what the demo and ComfyUI's native node do)."),
        io.Float.Input("score_threshold", default=DWPOSE_THRESHOLD, min=0.0, max=1.0, step=0.01, optional=True,
                       tooltip=f"Keypoints scoring below this are left out (DWPose: {DWPOSE_THRESHOLD})."),
        io.Int.Input("batch_size", default=4, min=1, max=256, optional=True,
                     tooltip="Person crops per model call; lower it if you run out of memory."),
    ]


def option_problem(node, detect_hand=None, detect_body=None, detect_face=None, bbox_detector=None,
                   scale_stick_for_xinsr_cn=None, crop_mode=None) -> bool | str:
    """The choices of :func:`option_inputs` checked (see ``v3.choice_problem``)."""
    return v3.choice_problem(node, detect_hand=detect_hand, detect_body=detect_body, detect_face=detect_face,
                             bbox_detector=bbox_detector, scale_stick_for_xinsr_cn=scale_stick_for_xinsr_cn,
                             crop_mode=crop_mode)


def draw_options(detect_hand: str, detect_body: str, detect_face: str, resolution: int, xinsr: str) -> dict:
    """``render_frame`` keywords from DWPose's toggles (DWPose never draws feet)."""
    return dict(resolution=resolution, body=detect_body == "enable", hands=detect_hand == "enable",
                face=detect_face == "enable", feet=False, xinsr=xinsr == "enable")


def pose_estimator(sdpose_model, bbox_detector: str, flip_test: bool, crop_mode: str, batch_size: int,
                   use_detector: bool = True):
    """A PoseEstimator on the loaded model, checking for ComfyUI's interrupt between model calls."""
    import torch

    import comfy.model_management as mm

    from ..sdpose_core.engine.memory import activation_bytes
    from ..sdpose_core.engine.pipeline import PoseEstimator

    detector = None
    if use_detector:
        path = common.resolve_detector(bbox_detector)
        if path is not None:
            common.require(common.DETECTOR_PACKAGES)
            detector = _detector(path)
    size = common.input_size()
    element = torch.finfo(sdpose_model.dtype).bits // 8
    vae_chunk = getattr(sdpose_model.module.sdpose, "vae_chunk", 4)
    model = sdpose_model.load(activation_bytes(batch_size, flip_test, size, element, vae_chunk))

    def on_batch(_crops: int) -> None:
        mm.throw_exception_if_processing_interrupted()

    return PoseEstimator(model, input_size=size, flip=flip_test, crop_mode=crop_mode, batch_size=batch_size,
                         detector=detector, on_batch=on_batch)


class SDPoseEstimator(io.ComfyNode):
    """The drop-in for DWPose Estimator: IMAGE batch -> pose IMAGE + POSE_KEYPOINT."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return v3.schema(
            node_id="SDPoseNodes.Estimator",
            display_name="SDPose Estimator",
            is_output_node=True,  # its preview is an output: ComfyUI re-sends it on cached runs
            description=("Human pose estimation with SDPose, a drop-in for 'DWPose Estimator': the same inputs and "
                         "outputs (a pose IMAGE for OpenPose ControlNets and POSE_KEYPOINT in DWPose's format), more "
                         "robust on paintings, anime and stylized video."),
            inputs=[
                io.Image.Input("image"),
                v3.SDPoseModel.Input("sdpose_model", tooltip="From SDPose Model Loader."),
                *option_inputs(),
                *v3.people_inputs(),
                io.Boolean.Input("draw_feet", default=False, optional=True, tooltip=(
                    "Also draw the foot points (WholeBody models). DWPose never draws feet.")),
                *v3.drawing_inputs(),
                v3.BoundingBox.Input("bounding_box", optional=True, tooltip=(
                    "Person boxes per frame (RT-DETR Detect, YOLO nodes). Replaces bbox_detector; boxes labelled "
                    "other than 'person' are ignored.")),
                VideoOptionsIO.Input("video_options", optional=True, tooltip=(
                    "From SDPose Video Options: pose the IMAGE batch as a video clip (tracking, smoothing, detection "
                    "every N frames). Unconnected: every frame on its own.")),
            ],
            outputs=[
                io.Image.Output(display_name="IMAGE",
                                tooltip="The poses drawn in DWPose's style on black, short side = resolution."),
                v3.PoseKeypoint.Output(display_name="POSE_KEYPOINT", tooltip=(
                    "OpenPose JSON per frame, as DWPose emits it (pixels of the input image).")),
            ],
        )

    @classmethod
    def validate_inputs(cls, detect_hand=None, detect_body=None, detect_face=None, bbox_detector=None,
                        scale_stick_for_xinsr_cn=None, crop_mode=None, people_order=None) -> bool | str:
        problem = option_problem(cls, detect_hand, detect_body, detect_face, bbox_detector, scale_stick_for_xinsr_cn,
                                 crop_mode)
        return problem if problem is not True else v3.choice_problem(cls, people_order=people_order)

    @classmethod
    def execute(cls, image, sdpose_model, detect_hand="enable", detect_body="enable", detect_face="enable",
                resolution=512, bbox_detector=common.DETECTOR_FILE, scale_stick_for_xinsr_cn="disable",
                flip_test=True, crop_mode="topdown", score_threshold=DWPOSE_THRESHOLD, batch_size=4, max_people=0,
                people_order="largest", draw_feet=False, bounding_box=None, video_options=None,
                **style) -> io.NodeOutput:
        common.require(common.CORE_PACKAGES, common.DRAW_PACKAGES)
        import numpy as np
        import torch

        import comfy.model_management as mm
        import comfy.utils

        from ..sdpose_core.pose.render import check_batch, render_frame
        from ..sdpose_core.engine.pipeline import pose_frame
        from .boxes import boxes_per_frame

        frames = int(image.shape[0])
        check_batch([(int(image.shape[2]), int(image.shape[1]))] * frames, resolution)  # before any work
        boxes = None if bounding_box is None else boxes_per_frame(bounding_box, frames)
        estimator = pose_estimator(sdpose_model, bbox_detector, flip_test, crop_mode, batch_size,
                                   use_detector=boxes is None)
        progress = comfy.utils.ProgressBar(frames)
        draw = {**draw_options(detect_hand, detect_body, detect_face, resolution, scale_stick_for_xinsr_cn),
                "feet": draw_feet, **v3.drawing_style(**style)}
        results = estimator(image, boxes) if video_options is None else video_options.annotate(estimator, image, boxes)
        poses = []
        for result in results:
            mm.throw_exception_if_processing_interrupted()
            poses.append(pose_frame(result, threshold=score_threshold))
            progress.update(1)
        if max_people:
            from ..sdpose_core.pose.people import limit_people

            poses = limit_people(poses, max_people, people_order, threshold=score_threshold)
        drawn = [render_frame(frame, **draw) for frame in poses]
        pose_image = torch.from_numpy(np.stack(drawn).astype(np.float32) / 255.0)
        ui = {"openpose_json": [json.dumps(poses, indent=4)], **preview.background_ui(image),  # web/ preview
              **preview.model_ui(sdpose_model.scheme.num_keypoints, detect_hand, detect_face)}
        return io.NodeOutput(pose_image, poses, ui=ui)


NODES = [SDPoseEstimator]
