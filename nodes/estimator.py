"""SDPose Estimator: the drop-in for comfyui_controlnet_aux's "DWPose Estimator" (DWPreprocessor).

Same inputs with the same meaning (image, detect_hand/body/face, resolution, bbox_detector,
scale_stick_for_xinsr_cn), same outputs (IMAGE, POSE_KEYPOINT), plus the SDPose model and SDPose's own options.
As in DWPose, detect_* choose what is drawn; POSE_KEYPOINT always carries every part the model predicts.
With SDPose Video Options connected, the IMAGE batch is one clip: tracked (people keep their order and gain
OpenPose's ``person_id``), optionally smoothed, optionally detected every N frames.
"""

from __future__ import annotations

import json

from comfy_api.latest import io

from ..sdpose_core.choices import MAX_RESOLUTION
from ..sdpose_core.engine.options import CROP_MODES, EstimatorOptions
from ..sdpose_core.keypoints import DWPOSE_THRESHOLD
from . import common, preview, v3
from .keypoints_io import missing_parts_input
from .video_options import VideoOptionsIO

NODE_BATCH_SIZE = 4  # smaller than the library's 8: a ComfyUI GPU also holds other models
# The node inputs that set EstimatorOptions fields, for its messages.
OPTION_INPUTS = {"flip": "flip_test", "crop_mode": "crop_mode", "threshold": "score_threshold",
                 "batch_size": "batch_size"}


def node_options(flip_test: bool = EstimatorOptions.flip, crop_mode: str = EstimatorOptions.crop_mode,
                 score_threshold: float = EstimatorOptions.threshold,
                 batch_size: int = NODE_BATCH_SIZE) -> EstimatorOptions:
    """The Estimator's widgets as checked :class:`EstimatorOptions` (crop size from $SDPOSE_INPUT_SIZE)."""
    return EstimatorOptions(input_size=common.input_size(), flip=flip_test, crop_mode=crop_mode,
                            threshold=score_threshold, batch_size=batch_size).check(OPTION_INPUTS)


def option_inputs() -> list:
    """DWPose's options and SDPose's own, in DWPreprocessor's order: shared by the Estimator and the video node."""
    return [
        v3.Choice("detect_hand", options=v3.ENABLE, default="enable", optional=True,
                       tooltip="Draw the hands (WholeBody models)."),
        v3.Choice("detect_body", options=v3.ENABLE, default="enable", optional=True, tooltip="Draw the body."),
        v3.Choice("detect_face", options=v3.ENABLE, default="enable", optional=True,
                       tooltip="Draw the face (WholeBody models)."),
        io.Int.Input("resolution", default=512, min=64, max=MAX_RESOLUTION, step=64, optional=True,
                     tooltip="Short side of the output IMAGE in pixels, as in DWPose."),
        v3.Choice("bbox_detector", options=common.list_detectors(), default=common.default_detector(), optional=True,
                       tooltip="Person detector. yolox_l.onnx is DWPose's (taken from models/sdpose/ or "
                               "comfyui_controlnet_aux, else downloaded when chosen); None poses the whole image as "
                               "one person (the default until a detector is installed). "
                               "Ignored when bounding_box, mask or segs is connected."),
        v3.Choice("scale_stick_for_xinsr_cn", options=v3.XINSR, default="disable", optional=True,
                       tooltip="Thicker limbs for xinsir's SDXL OpenPose ControlNet."),
        io.Boolean.Input("flip_test", default=EstimatorOptions.flip, optional=True,
                         tooltip="Also run the mirrored crop and average (the paper's setting; about twice the time)."),
        v3.Choice("crop_mode", options=list(CROP_MODES), default=CROP_MODES[0], optional=True,
                       tooltip="topdown: aspect-preserving crop the model was trained on. stretch: squash the box to "
                               "the model input (what the demo and ComfyUI's native node do)."),
        io.Float.Input("score_threshold", default=EstimatorOptions.threshold, min=0.0, max=1.0, step=0.01,
                       optional=True,
                       tooltip=f"Keypoints scoring below this are left out (DWPose: {DWPOSE_THRESHOLD})."),
        io.Int.Input("batch_size", default=NODE_BATCH_SIZE, min=1, max=256, optional=True,
                     tooltip="Person crops per model call; lower it if you run out of memory."),
    ]


def draw_options(detect_hand: str, detect_body: str, detect_face: str, resolution: int, xinsr: str) -> dict:
    """``render_frame`` keywords from DWPose's toggles (DWPose never draws feet)."""
    return dict(resolution=resolution, body=detect_body == "enable", hands=detect_hand == "enable",
                face=detect_face == "enable", feet=False, xinsr=xinsr == "enable")


def pose_estimator(sdpose_model, bbox_detector: str, options: EstimatorOptions, use_detector: bool = True):
    """The library's estimator (``PoseEstimator.from_options``) on the loaded model, with the detector chosen in
    ComfyUI's folders, checking for ComfyUI's interrupt between model calls. Every node that poses uses it."""
    import comfy.model_management as mm
    import torch

    from ..sdpose_core.engine.memory import activation_bytes
    from ..sdpose_core.engine.pipeline import PoseEstimator, person_detector

    detector = None
    if use_detector:
        path = common.resolve_detector(bbox_detector)
        if path is not None:
            common.require(common.DETECTOR_PACKAGES)
            detector = person_detector(path, path.parent)
    element = torch.finfo(sdpose_model.dtype).bits // 8
    vae_chunk = getattr(sdpose_model.module.sdpose, "vae_chunk", 4)
    model = sdpose_model.load(activation_bytes(options.batch_size, options.flip, options.input_size, element,
                                               vae_chunk))

    def check(_count: int) -> None:  # ComfyUI's cancel, between model calls and before each frame's detection
        mm.throw_exception_if_processing_interrupted()

    return PoseEstimator.from_options(model, options, detector=detector, on_batch=check, on_frame=check)


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
                io.Image.Input("image", tooltip="The images to pose (a batch is posed frame by frame, or as one clip "
                               "with video_options)."),
                v3.SDPoseModel.Input("sdpose_model", tooltip="From SDPose Model Loader."),
                *option_inputs(),
                *v3.people_inputs(),
                io.Boolean.Input("draw_feet", default=False, optional=True, tooltip=(
                    "Also output (foot_keypoints_2d, as ComfyUI-native SDPose) and draw the foot points (WholeBody "
                    "models): Retarget Pose's feet and wan_animate toes need them. DWPose has no feet.")),
                *v3.drawing_inputs(),
                v3.BoundingBox.Input("bounding_box", optional=True, tooltip=(
                    "Person boxes per frame (RT-DETR Detect, YOLO nodes). Replaces bbox_detector; boxes labelled "
                    "other than 'person' are ignored.")),
                VideoOptionsIO.Input("video_options", optional=True, tooltip=(
                    "From SDPose Video Options: pose the IMAGE batch as a video clip (tracking, smoothing, detection "
                    "every N frames). Unconnected: every frame on its own.")),
                missing_parts_input(),
                *v3.box_inputs(),
            ],
            outputs=[
                io.Image.Output(display_name="IMAGE",
                                tooltip="The poses drawn in DWPose's style on black, short side = resolution."),
                v3.PoseKeypoint.Output(display_name="POSE_KEYPOINT", tooltip=(
                    "OpenPose JSON per frame, as DWPose emits it (pixels of the input image).")),
            ],
        )

    @classmethod
    def validate_inputs(cls, score_threshold=None) -> bool | str:
        return v3.number_problem(cls, score_threshold=score_threshold)

    @classmethod
    def execute(cls, image, sdpose_model, detect_hand="enable", detect_body="enable", detect_face="enable",
                resolution=512, bbox_detector=common.DETECTOR_FILE, scale_stick_for_xinsr_cn="disable",
                flip_test=EstimatorOptions.flip, crop_mode=EstimatorOptions.crop_mode,
                score_threshold=EstimatorOptions.threshold, batch_size=NODE_BATCH_SIZE, max_people=0,
                people_order="largest", draw_feet=False, bounding_box=None, video_options=None,
                missing_parts="null", mask=None, segs=None, min_mask_area=64, segs_labels="person",
                **style) -> io.NodeOutput:
        common.require(common.CORE_PACKAGES, common.DRAW_PACKAGES)
        import comfy.model_management as mm
        import comfy.utils
        import numpy as np
        import torch

        from ..sdpose_core.engine.pipeline import pose_frame
        from ..sdpose_core.pose.render import check_batch, render_frame
        from .boxes import person_boxes

        options = node_options(flip_test, crop_mode, score_threshold, batch_size)
        frames = int(image.shape[0])
        check_batch([(int(image.shape[2]), int(image.shape[1]))] * frames, resolution)  # before any work
        boxes = person_boxes(frames, bounding_box, mask, segs, min_mask_area, segs_labels,
                             size=(int(image.shape[1]), int(image.shape[2])))
        estimator = pose_estimator(sdpose_model, bbox_detector, options, use_detector=boxes is None)
        progress = comfy.utils.ProgressBar(frames)
        draw = {**draw_options(detect_hand, detect_body, detect_face, resolution, scale_stick_for_xinsr_cn),
                "feet": draw_feet, **v3.drawing_style(**style)}
        results = estimator(image, boxes) if video_options is None else video_options.annotate(estimator, image, boxes)
        poses = []
        for result in results:
            mm.throw_exception_if_processing_interrupted()
            poses.append(pose_frame(result, threshold=score_threshold, feet=draw_feet))
            progress.update(1)
        if max_people:
            from ..sdpose_core.pose.people import limit_people

            poses = limit_people(poses, max_people, people_order, threshold=score_threshold)
        drawn = []
        for frame in poses:
            mm.throw_exception_if_processing_interrupted()
            drawn.append(render_frame(frame, **draw))
        if missing_parts == "zeros":
            from ..sdpose_core.formats.openpose import zero_missing_parts

            poses = zero_missing_parts(poses)
        pose_image = torch.from_numpy(np.stack(drawn).astype(np.float32) / 255.0)
        ui = {"openpose_json": [json.dumps(poses, indent=4)], **preview.background_ui(image),  # web/ preview
              **preview.model_ui(sdpose_model.scheme.num_keypoints, detect_hand, detect_face)}
        return io.NodeOutput(pose_image, poses, ui=ui)


NODES = [SDPoseEstimator]
