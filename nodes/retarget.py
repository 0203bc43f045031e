"""SDPose Retarget Pose: the driving pose clip with the reference character's proportions, and its drawing."""

from __future__ import annotations

from comfy_api.latest import io

from ..sdpose_core.choices import FACE_RADIUS, JOINT_RADIUS, RETARGET_ANCHORS, STICK_WIDTH
from ..sdpose_core.keypoints import DWPOSE_THRESHOLD
from . import common, v3


def _pose_reference_image(image, sdpose_model, bbox_detector: str, threshold: float) -> dict:
    """The first reference frame posed with the SDPose model (as the Estimator does, flip test on)."""
    import torch

    from ..sdpose_core.engine.memory import activation_bytes
    from ..sdpose_core.engine.pipeline import PoseEstimator
    from ..sdpose_core.engine.pipeline import pose_frame
    from .estimator import _detector

    path = common.resolve_detector(bbox_detector)
    if path is not None:
        common.require(common.DETECTOR_PACKAGES)
    size = common.input_size()
    element = torch.finfo(sdpose_model.dtype).bits // 8
    vae_chunk = getattr(sdpose_model.module.sdpose, "vae_chunk", 4)
    model = sdpose_model.load(activation_bytes(1, True, size, element, vae_chunk))
    estimator = PoseEstimator(model, input_size=size, detector=_detector(path) if path is not None else None)
    return pose_frame(next(iter(estimator(image[:1]))), threshold=threshold)


class SDPoseRetargetPose(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return v3.schema(
            node_id="SDPoseNodes.RetargetPose",
            display_name="SDPose Retarget Pose",
            description="Retargets a driving pose clip to the reference character's body: every bone takes the "
                        "reference's length and the driving direction, hands and face the reference's size, and "
                        "the clip is placed on the reference's neck (or ground). For AnimateAnyone, MimicMotion, "
                        "UniAnimate, MusePose and Wan-Animate pose inputs.",
            inputs=[
                v3.PoseKeypoint.Input("driving_pose", tooltip="POSE_KEYPOINT of the driving clip (SDPose Estimator "
                                   "with SDPose Video Options, DWPose, OpenPose JSON)."),
                io.Combo.Input("anchor", options=list(RETARGET_ANCHORS), default=RETARGET_ANCHORS[0], tooltip=(
                    "neck: frame 0's neck on the reference's neck; feet: the feet on the reference's ground line.")),
                io.Int.Input("reference_person", default=0, min=0, max=1000),
                io.Int.Input("fill_gaps", default=5, min=0, max=300, tooltip="Fill keypoint and person dropouts of "
                             "up to this many frames (tracked clips) before retargeting; 0 = off."),
                io.Boolean.Input("zero_lag_smoothing", default=False, tooltip="Smooth the driving clip with the "
                                 "offline forward-backward One-Euro filter (no lag) before retargeting."),
                io.Float.Input("frame_rate", default=30.0, min=1.0, max=240.0, step=0.5),
                io.Int.Input("resolution", default=512, min=0, max=16384, step=64, tooltip="Short side of the "
                             "drawn IMAGE; 0 = the reference's size."),
                io.Int.Input("stick_width", default=STICK_WIDTH, min=1, max=64),
                io.Int.Input("point_size", default=JOINT_RADIUS, min=1, max=64),
                io.Int.Input("face_point_size", default=FACE_RADIUS, min=1, max=64),
                io.Boolean.Input("draw_head", default=True),
                io.Boolean.Input("draw_feet", default=False),
                io.Boolean.Input("scale_strokes", default=False, tooltip="Sizes are for a 512 px short side and "
                                 "scale with the image."),
                v3.PoseKeypoint.Input("reference_pose", optional=True, tooltip="The reference's POSE_KEYPOINT (first "
                                   "frame). Or connect reference_image and sdpose_model instead."),
                io.Image.Input("reference_image", optional=True, tooltip="The reference character (first image), "
                               "posed with sdpose_model."),
                v3.SDPoseModel.Input("sdpose_model", optional=True),
                io.Combo.Input("bbox_detector", options=common.list_detectors(), default=common.DETECTOR_FILE,
                               optional=True, tooltip="Person detector for reference_image (None: the whole image)."),
                io.Float.Input("score_threshold", default=DWPOSE_THRESHOLD, min=0.0, max=1.0, step=0.01,
                               optional=True, tooltip="Keypoints of reference_image scoring below this are left out "
                                                      f"(DWPose: {DWPOSE_THRESHOLD})."),
            ],
            outputs=[v3.PoseKeypoint.Output(display_name="POSE_KEYPOINT"), io.Image.Output(display_name="IMAGE")],
        )

    @classmethod
    def validate_inputs(cls, anchor=None, bbox_detector=None) -> bool | str:
        return v3.choice_problem(cls, anchor=anchor, bbox_detector=bbox_detector)

    @classmethod
    def execute(cls, driving_pose, anchor="neck", reference_person=0, fill_gaps=5, zero_lag_smoothing=False,
                frame_rate=30.0, resolution=512, stick_width=4, point_size=4, face_point_size=3, draw_head=True,
                draw_feet=False, scale_strokes=False, reference_pose=None, reference_image=None, sdpose_model=None,
                bbox_detector=common.DETECTOR_FILE, score_threshold=DWPOSE_THRESHOLD) -> io.NodeOutput:
        common.require(common.DRAW_PACKAGES)
        import numpy as np
        import torch

        from ..sdpose_core.motion.gaps import fill_gaps as fill
        from ..sdpose_core.pose.render import render_frame
        from ..sdpose_core.pose.retarget import retarget
        from ..sdpose_core.motion.zero_lag import smooth_clip

        if (reference_pose is None) == (reference_image is None):
            raise common.InputError("Connect either reference_pose (a POSE_KEYPOINT) or reference_image (with "
                                    "sdpose_model), not both and not neither.")
        if reference_image is not None:
            if sdpose_model is None:
                raise common.InputError("reference_image needs sdpose_model (SDPose Model Loader) to pose it.")
            common.require(common.CORE_PACKAGES)
            reference_pose = _pose_reference_image(reference_image, sdpose_model, bbox_detector, score_threshold)
        driving = fill(driving_pose, fill_gaps) if fill_gaps else driving_pose
        if zero_lag_smoothing:
            driving = smooth_clip(driving, frame_rate)
        frames = retarget(driving, reference_pose, anchor=anchor, reference_person_index=reference_person)
        if not frames:
            raise common.InputError("driving_pose holds no frames; there is nothing to retarget.")
        style = dict(stick_width=stick_width, point_size=point_size, face_point_size=face_point_size,
                     head=draw_head, scale_strokes=scale_strokes)
        drawn = [render_frame(f, resolution=resolution or None, feet=draw_feet, **style) for f in frames]
        return io.NodeOutput(frames, torch.from_numpy(np.stack(drawn).astype(np.float32) / 255.0))


NODES = [SDPoseRetargetPose]
