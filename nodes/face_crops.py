"""SDPose Face Crops: a steady face box per frame from the face keypoints, and the face crops (Wan-Animate's face
video)."""

from __future__ import annotations

from comfy_api.latest import io

from . import common, v3


class SDPoseFaceCrops(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return v3.schema(
            node_id="SDPoseNodes.FaceCrops",
            display_name="SDPose Face Crops",
            description="Face boxes from the face keypoints of one person, smoothed over time so the face video "
                        "does not shake (frames without a visible face reuse the nearest box), and the face crops.",
            inputs=[
                v3.PoseKeypoint.Input("pose_keypoint"),
                io.Image.Input("image", tooltip="The frames the keypoints were estimated on (any size: boxes are "
                               "scaled from the pose canvas)."),
                io.Int.Input("person", default=0, min=0, max=100000, tooltip="The person's place in each frame, or "
                             "their track id with by_track_id."),
                io.Boolean.Input("by_track_id", default=False),
                io.Float.Input("scale", default=1.5, min=0.1, max=10.0, step=0.05, tooltip="Box size over the "
                               "extent of the face landmarks."),
                io.Boolean.Input("square", default=True),
                io.Boolean.Input("smooth", default=True, tooltip="Zero-lag smoothing of the box over time."),
                io.Float.Input("frame_rate", default=30.0, min=1.0, max=240.0, step=0.5),
                io.Int.Input("width", default=512, min=16, max=4096, step=8),
                io.Int.Input("height", default=512, min=16, max=4096, step=8),
            ],
            outputs=[io.Image.Output(display_name="face_images"), v3.BoundingBox.Output(display_name="face_boxes")],
        )

    @classmethod
    def execute(cls, pose_keypoint, image, person=0, by_track_id=False, scale=1.5, square=True, smooth=True,
                frame_rate=30.0, width=512, height=512) -> io.NodeOutput:
        common.require(common.DRAW_PACKAGES)
        import numpy as np
        import torch

        from ..sdpose_core.pose.face import bounding_boxes, crop_faces, face_boxes
        from ..sdpose_core.formats.openpose import load_pose_keypoint
        from ..sdpose_core.pose.render import check_batch

        frames = load_pose_keypoint(pose_keypoint)
        count = int(image.shape[0])
        if count not in (1, len(frames)):
            raise common.InputError(f"image has {count} frames but pose_keypoint has {len(frames)}; give the frames "
                                    "the keypoints were estimated on.")
        check_batch([(width, height)] * len(frames), None)  # the crops' IMAGE, before any work
        boxes = face_boxes(frames, person=person, by_track_id=by_track_id, scale=scale, square=square,
                           smooth=smooth, fps=frame_rate)
        h, w = int(image.shape[1]), int(image.shape[2])
        factor = np.array([[w / f["canvas_width"], h / f["canvas_height"]] * 2 for f in frames])
        boxes = boxes * factor
        crops = crop_faces(image.cpu().numpy(), boxes, (width, height))
        return io.NodeOutput(torch.from_numpy(np.stack(crops).astype(np.float32)), bounding_boxes(boxes))


NODES = [SDPoseFaceCrops]
