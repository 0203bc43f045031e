"""SDPose Draw Pose: POSE_KEYPOINT -> IMAGE in DWPose's look (or another model's style), on black or over frames."""

from __future__ import annotations

from comfy_api.latest import io

from ..sdpose_core.choices import BODY_LAYOUTS, DRAW_STYLES, MAX_RESOLUTION
from . import common, preview, v3
from .keypoints_io import body_layout_input


def style_input() -> io.Combo.Input:
    """The ``style`` choice of every node that draws poses (``sdpose_core.pose.render.STYLES``)."""
    return v3.Choice("style", options=list(DRAW_STYLES), default=DRAW_STYLES[0], optional=True, tooltip=(
        "What the pose image looks like, for the model it feeds. dwpose: DWPose's pixels (OpenPose ControlNets, "
        "AnimateAnyone, MimicMotion). unianimate: body and hands, no face (UniAnimate, MusePose were trained "
        "without face dots). wan_animate: Wan2.2's own drawing for Wan-Animate (toes, strokes scaled with the "
        "image, no face; the size controls do not apply). The part toggles can only remove parts."))


class SDPoseDrawPose(io.ComfyNode):
    """POSE_KEYPOINT -> IMAGE, drawn as DWPose draws, on black or over frames."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return v3.schema(
            node_id="SDPoseNodes.DrawPose",
            display_name="SDPose Draw Pose",
            is_output_node=True,  # its preview is an output: ComfyUI re-sends it on cached runs
            description=("Draws POSE_KEYPOINT (from SDPose, DWPose, ComfyUI's native SDPose, OpenPose JSON) the way "
                         "DWPose draws it, for OpenPose ControlNets and pose-guided video models."),
            inputs=[
                v3.PoseKeypoint.Input("pose_keypoint", tooltip=(
                    "The poses to draw (SDPose Estimator, DWPose, Load Pose Keypoints, OpenPose JSON).")),
                io.Boolean.Input("draw_body", default=True, tooltip="Draw the body's limbs and joints."),
                io.Boolean.Input("draw_hands", default=True, tooltip="Draw the hands, where the keypoints have them."),
                io.Boolean.Input("draw_face", default=True,
                                 tooltip="Draw the face's 68 dots, where the keypoints have them."),
                io.Boolean.Input("draw_feet", default=False, tooltip=(
                    "Foot points, where the keypoints carry them (ComfyUI-native SDPose). DWPose never draws feet.")),
                io.Int.Input("resolution", default=512, min=0, max=MAX_RESOLUTION, step=64,
                             tooltip="Short side of the output in pixels; 0 keeps the canvas size."),
                # The same choice as the Estimator's (and DWPose's); workflows saved with a boolean here still load.
                io.Combo.Input("scale_stick_for_xinsr_cn", options=v3.XINSR, default="disable",
                               tooltip="Thicker limbs for xinsir's SDXL OpenPose ControlNet."),
                io.Image.Input("image", optional=True, tooltip=(
                    "Draw over these frames instead of black (same size as the canvas).")),
                io.Float.Input("overlay_opacity", default=1.0, min=0.0, max=1.0, step=0.05, optional=True, tooltip=(
                    "With image: how opaque the drawing is over the frames, 0 (invisible) to 1 (solid).")),
                *v3.drawing_inputs(),
                style_input(),
                body_layout_input(),
            ],
            outputs=[io.Image.Output(display_name="IMAGE")],
        )

    @classmethod
    def validate_inputs(cls, scale_stick_for_xinsr_cn=None, overlay_opacity=None) -> bool | str:
        choice = v3.choice_problem("scale_stick_for_xinsr_cn", v3.legacy_toggle(scale_stick_for_xinsr_cn), v3.XINSR)
        return choice if choice is not True else v3.number_problem(cls, overlay_opacity=overlay_opacity)

    @classmethod
    def execute(cls, pose_keypoint, draw_body=True, draw_hands=True, draw_face=True, draw_feet=False, resolution=512,
                scale_stick_for_xinsr_cn="disable", image=None, overlay_opacity=1.0, style=DRAW_STYLES[0],
                body_layout=BODY_LAYOUTS[0], **controls) -> io.NodeOutput:
        common.require(common.DRAW_PACKAGES)
        import numpy as np
        import torch

        from ..sdpose_core.formats.openpose import load_pose_keypoint
        from ..sdpose_core.pose.render import check_batch, render_frame

        frames = load_pose_keypoint(pose_keypoint, body_layout=body_layout)
        if not frames:
            raise common.InputError("pose_keypoint holds no frames; there is nothing to draw.")
        check_batch([(f["canvas_width"], f["canvas_height"]) for f in frames], resolution or None)  # before drawing
        backgrounds = [None] * len(frames)
        if image is not None:
            count = int(image.shape[0])
            if count not in (1, len(frames)):
                raise common.InputError(f"image has {count} frames but pose_keypoint has {len(frames)}; "
                                        "give one image, or one per pose frame.")
            backgrounds = [image[i if count > 1 else 0].cpu().numpy() for i in range(len(frames))]
        xinsr = v3.legacy_toggle(scale_stick_for_xinsr_cn) == "enable"
        drawn = []
        for i, (frame, background) in enumerate(zip(frames, backgrounds)):
            out = render_frame(frame, resolution=resolution or None, body=draw_body, hands=draw_hands,
                               face=draw_face, feet=draw_feet, xinsr=xinsr,
                               image=background, alpha=overlay_opacity, style=style, **v3.drawing_style(**controls))
            if drawn and out.shape != drawn[0].shape:
                raise common.InputError(
                    f"pose frame {i} draws at {out.shape[1]}x{out.shape[0]} but frame 0 at "
                    f"{drawn[0].shape[1]}x{drawn[0].shape[0]}; an IMAGE batch needs one size (canvas sizes differ).")
            drawn.append(out)
        result = torch.from_numpy(np.stack(drawn).astype(np.float32) / 255.0)
        # For the pose preview and keypoint editor of web/: the frames drawn, and the images under them.
        return io.NodeOutput(result, ui={**preview.pose_ui(frames), **preview.background_ui(image)})


NODES = [SDPoseDrawPose]
