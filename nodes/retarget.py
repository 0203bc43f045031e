"""SDPose Retarget Pose: the driving pose clip with the reference character's proportions, and its drawing."""

from __future__ import annotations

from comfy_api.latest import io

from ..sdpose_core.choices import (
    DRAW_STYLES,
    FACE_RADIUS,
    JOINT_RADIUS,
    MAX_RESOLUTION,
    MAX_STROKE,
    RETARGET_ANCHORS,
    RETARGET_FILL_GAPS,
    RETARGET_MAX_FILL_GAPS,
    RETARGET_SMOOTH,
    STICK_WIDTH,
)
from ..sdpose_core.keypoints import DWPOSE_THRESHOLD
from . import common, v3
from .draw import style_input


def _pose_reference_image(image, sdpose_model, bbox_detector: str, threshold: float, boxes=None) -> dict:
    """The first reference frame posed with the SDPose model (as the Estimator does, flip test on); ``boxes``: the
    person boxes per frame from another detector node (nodes/boxes.py), else ``bbox_detector`` finds them."""
    from ..sdpose_core.engine.pipeline import pose_frame
    from .estimator import node_options, pose_estimator

    options = node_options(score_threshold=threshold, batch_size=1)
    estimator = pose_estimator(sdpose_model, bbox_detector, options, use_detector=boxes is None)
    return pose_frame(next(iter(estimator(image[:1], None if boxes is None else boxes[:1]))), threshold=threshold)


class SDPoseRetargetPose(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return v3.schema(
            node_id="SDPoseNodes.RetargetPose",
            display_name="SDPose Retarget Pose",
            description="Retargets a driving pose clip to the reference character's body: every bone takes the "
                        "reference's length, foreshortened as the driving bone is, and the driving direction; "
                        "hands and face the reference's size; the clip is placed on the reference's neck (or "
                        "ground) with the feet kept on the ground. Short dropouts are filled first. For "
                        "AnimateAnyone, MimicMotion, UniAnimate, MusePose and Wan-Animate pose inputs.",
            inputs=[
                v3.PoseKeypoint.Input("driving_pose", tooltip="POSE_KEYPOINT of the driving clip (SDPose Estimator "
                                   "with SDPose Video Options, DWPose, OpenPose JSON)."),
                v3.Choice("anchor", options=list(RETARGET_ANCHORS), default=RETARGET_ANCHORS[0], tooltip=(
                    "neck: frame 0's neck on the reference's neck; feet: the feet on the reference's ground line.")),
                io.Int.Input("reference_person", default=0, min=0, max=1000, tooltip=(
                    "Which person of the reference pose gives the body: their place in its list (0 = first).")),
                io.Int.Input("fill_gaps", default=RETARGET_FILL_GAPS, min=0, max=RETARGET_MAX_FILL_GAPS,
                             tooltip="Fill keypoint and person dropouts of up to this many frames (tracked clips) "
                             "before retargeting; 0 = off."),
                io.Boolean.Input("zero_lag_smoothing", default=RETARGET_SMOOTH, tooltip="Smooth the driving clip "
                                 "with the offline forward-backward One-Euro filter (no lag) before retargeting."),
                io.Float.Input("frame_rate", default=30.0, min=1.0, max=240.0, step=0.5, tooltip=(
                    "Frames per second of the driving clip; times zero_lag_smoothing.")),
                io.Int.Input("resolution", default=512, min=0, max=MAX_RESOLUTION, step=64, tooltip="Short side of the "
                             "drawn IMAGE; 0 = the reference's size."),
                io.Int.Input("stick_width", default=STICK_WIDTH, min=1, max=MAX_STROKE,
                             tooltip=v3.DRAWING_TIPS["stick_width"]),
                io.Int.Input("point_size", default=JOINT_RADIUS, min=1, max=MAX_STROKE,
                             tooltip=v3.DRAWING_TIPS["point_size"]),
                io.Int.Input("face_point_size", default=FACE_RADIUS, min=1, max=MAX_STROKE,
                             tooltip=v3.DRAWING_TIPS["face_point_size"]),
                io.Boolean.Input("draw_head", default=True, tooltip=v3.DRAWING_TIPS["draw_head"]),
                io.Boolean.Input("draw_feet", default=False, tooltip="Also draw the foot points, where present."),
                io.Boolean.Input("scale_strokes", default=False, tooltip=v3.DRAWING_TIPS["scale_strokes"]),
                v3.PoseKeypoint.Input("reference_pose", optional=True, tooltip="The reference's POSE_KEYPOINT (first "
                                   "frame). Or connect reference_image and sdpose_model instead."),
                io.Image.Input("reference_image", optional=True, tooltip="The reference character (first image), "
                               "posed with sdpose_model."),
                v3.SDPoseModel.Input("sdpose_model", optional=True,
                                     tooltip="From SDPose Model Loader; poses reference_image."),
                v3.Choice("bbox_detector", options=common.list_detectors(), default=common.default_detector(),
                               optional=True, tooltip="Person detector for reference_image (None: the whole image). "
                                                      "Ignored when bounding_box, mask or segs is connected."),
                io.Float.Input("score_threshold", default=DWPOSE_THRESHOLD, min=0.0, max=1.0, step=0.01,
                               optional=True, tooltip="Keypoints of reference_image scoring below this are left out "
                                                      f"(DWPose: {DWPOSE_THRESHOLD})."),
                io.Boolean.Input("draw_body", default=True, optional=True,
                                 tooltip="Draw the body's limbs and joints (if the style draws them)."),
                io.Boolean.Input("draw_hands", default=True, optional=True,
                                 tooltip="Draw the hands, where the keypoints have them (if the style draws them)."),
                io.Boolean.Input("draw_face", default=True, optional=True,
                                 tooltip="Draw the face dots, where present (if the style draws them)."),
                style_input(),
                v3.BoundingBox.Input("bounding_box", optional=True, tooltip=(
                    "Person boxes of reference_image from a detector node (RT-DETR, YOLO); replaces bbox_detector.")),
                *v3.box_inputs(),
            ],
            outputs=[v3.PoseKeypoint.Output(display_name="POSE_KEYPOINT"), io.Image.Output(display_name="IMAGE")],
        )

    @classmethod
    def validate_inputs(cls, frame_rate=None, score_threshold=None) -> bool | str:
        return v3.number_problem(cls, frame_rate=frame_rate, score_threshold=score_threshold)

    @classmethod
    def execute(cls, driving_pose, anchor="neck", reference_person=0, fill_gaps=RETARGET_FILL_GAPS,
                zero_lag_smoothing=RETARGET_SMOOTH, frame_rate=30.0, resolution=512, stick_width=STICK_WIDTH,
                point_size=JOINT_RADIUS, face_point_size=FACE_RADIUS, draw_head=True, draw_feet=False,
                scale_strokes=False, reference_pose=None, reference_image=None, sdpose_model=None,
                bbox_detector=common.DETECTOR_FILE, score_threshold=DWPOSE_THRESHOLD, draw_body=True, draw_hands=True,
                draw_face=True, style=DRAW_STYLES[0], bounding_box=None, mask=None, segs=None, min_mask_area=64,
                segs_labels="person") -> io.NodeOutput:
        common.require(common.DRAW_PACKAGES)
        import numpy as np
        import torch

        from ..sdpose_core.pose.render import check_batch
        from ..sdpose_core.pose.retarget_clip import RetargetOptions, retarget_clip

        if (reference_pose is None) == (reference_image is None):
            raise common.InputError("Connect either reference_pose (a POSE_KEYPOINT) or reference_image (with "
                                    "sdpose_model), not both and not neither.")
        if reference_image is not None:
            if sdpose_model is None:
                raise common.InputError("reference_image needs sdpose_model (SDPose Model Loader) to pose it.")
            common.require(common.CORE_PACKAGES)
            from .boxes import person_boxes

            first = mask if mask is None or len(mask.shape) != 3 else mask[:1]  # MASK: [frames,] height, width
            boxes = person_boxes(1, bounding_box, first, segs, min_mask_area,
                                 segs_labels, size=(int(reference_image.shape[1]), int(reference_image.shape[2])))
            reference_pose = _pose_reference_image(reference_image, sdpose_model, bbox_detector, score_threshold,
                                                   boxes)
        options = RetargetOptions(anchor=anchor, reference_person=reference_person, fill_gaps=fill_gaps,
                                  smooth=zero_lag_smoothing, frame_rate=frame_rate)
        draw = dict(resolution=resolution or None, stick_width=stick_width, point_size=point_size,
                    face_point_size=face_point_size, head=draw_head, scale_strokes=scale_strokes, style=style,
                    body=draw_body, hands=draw_hands, face=draw_face, feet=draw_feet)
        frames, drawings = retarget_clip(driving_pose, reference_pose, options, draw)
        if not frames:
            raise common.InputError("driving_pose holds no frames; there is nothing to retarget.")
        check_batch([(f["canvas_width"], f["canvas_height"]) for f in frames], resolution or None)  # before drawing
        import comfy.model_management as mm

        drawn = []
        for image in drawings:  # ComfyUI's cancel between frames
            mm.throw_exception_if_processing_interrupted()
            drawn.append(image)
        return io.NodeOutput(frames, torch.from_numpy(np.stack(drawn).astype(np.float32) / 255.0))


NODES = [SDPoseRetargetPose]
