"""SDPose Draw Pose: POSE_KEYPOINT -> IMAGE in DWPose's look, on black or over the original frames."""

from __future__ import annotations

from . import common, preview


class SDPoseDrawPose:
    DESCRIPTION = ("Draws POSE_KEYPOINT (from SDPose, DWPose, ComfyUI's native SDPose, OpenPose JSON) the way DWPose "
                   "draws it, for OpenPose ControlNets and pose-guided video models.")
    CATEGORY = common.CATEGORY
    RETURN_TYPES = ("IMAGE",)
    RETURN_NAMES = ("IMAGE",)
    FUNCTION = "draw"
    OUTPUT_NODE = True  # its preview is an output: ComfyUI then re-sends the cached preview on unchanged runs

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "pose_keypoint": ("POSE_KEYPOINT",),
                "draw_body": ("BOOLEAN", {"default": True}),
                "draw_hands": ("BOOLEAN", {"default": True}),
                "draw_face": ("BOOLEAN", {"default": True}),
                "draw_feet": ("BOOLEAN", {"default": False, "tooltip": "Foot points, where the keypoints carry them "
                                          "(ComfyUI-native SDPose). DWPose never draws feet."}),
                "resolution": ("INT", {"default": 512, "min": 0, "max": 16384, "step": 64,
                                       "tooltip": "Short side of the output in pixels; 0 keeps the canvas size."}),
                "scale_stick_for_xinsr_cn": ("BOOLEAN", {"default": False}),
            },
            "optional": {
                "image": ("IMAGE", {"tooltip": "Draw over these frames instead of black (same size as the canvas)."}),
                "overlay_opacity": ("FLOAT", {"default": 1.0, "min": 0.0, "max": 1.0, "step": 0.05}),
            },
        }

    def draw(self, pose_keypoint, draw_body=True, draw_hands=True, draw_face=True, draw_feet=False, resolution=512,
             scale_stick_for_xinsr_cn=False, image=None, overlay_opacity=1.0):
        common.require(common.DRAW_PACKAGES)
        import numpy as np
        import torch

        from ..sdpose_core.openpose import load_pose_keypoint
        from ..sdpose_core.render import check_batch, render_frame

        frames = load_pose_keypoint(pose_keypoint)
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
        drawn = []
        for i, (frame, background) in enumerate(zip(frames, backgrounds)):
            out = render_frame(frame, resolution=resolution or None, body=draw_body, hands=draw_hands,
                               face=draw_face, feet=draw_feet, xinsr=scale_stick_for_xinsr_cn,
                               image=background, alpha=overlay_opacity)
            if drawn and out.shape != drawn[0].shape:
                raise common.InputError(
                    f"pose frame {i} draws at {out.shape[1]}x{out.shape[0]} but frame 0 at "
                    f"{drawn[0].shape[1]}x{drawn[0].shape[0]}; an IMAGE batch needs one size (canvas sizes differ).")
            drawn.append(out)
        result = (torch.from_numpy(np.stack(drawn).astype(np.float32) / 255.0),)
        # For the pose preview and keypoint editor of web/: the frames drawn, and the images under them.
        return {"ui": {**preview.pose_ui(frames), **preview.background_ui(image)}, "result": result}


NODE_CLASS_MAPPINGS = {"SDPoseNodes.DrawPose": SDPoseDrawPose}
NODE_DISPLAY_NAME_MAPPINGS = {"SDPoseNodes.DrawPose": "SDPose Draw Pose"}
