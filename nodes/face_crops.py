"""SDPose Face Crops: a steady face box per frame from the face keypoints, and the face crops (Wan-Animate's face
video)."""

from __future__ import annotations

from comfy_api.latest import io

from ..sdpose_core.choices import FACE_FRAMINGS, KEEP_ASPECT
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
                v3.PoseKeypoint.Input("pose_keypoint", tooltip="Poses with face keypoints (a WholeBody model)."),
                io.Image.Input("image", tooltip="The frames the keypoints were estimated on (any size: boxes are "
                               "scaled from the pose canvas)."),
                io.Int.Input("person", default=0, min=0, max=100000, tooltip="The person's place in each frame "
                             "(0 = first), or their track id with by_track_id."),
                io.Boolean.Input("by_track_id", default=False, tooltip=(
                    "On: 'person' is a track id (OpenPose person_id, from a tracked clip). Off: a place in the "
                    "frame's list of people (0 = first).")),
                io.Float.Input("scale", default=1.5, min=0.1, max=10.0, step=0.05, tooltip="How much the box "
                               "grows over the extent of the face landmarks (a factor): centered framing multiplies "
                               "each side (linear, 1.5 = half as large again); wan_animate framing multiplies the "
                               "area (Wan2.2: 1.3)."),
                io.Boolean.Input("square", default=True, tooltip=(
                    "Make each box square (the longer side); off: the box keeps the landmarks' aspect, and the crop "
                    "is stretched to width x height (see keep_aspect).")),
                io.Boolean.Input("smooth", default=True, tooltip="Zero-lag smoothing of the box over time."),
                io.Float.Input("frame_rate", default=30.0, min=1.0, max=240.0, step=0.5, tooltip=(
                    "Frames per second of the clip; times the smoothing (frames per second).")),
                io.Int.Input("width", default=512, min=16, max=4096, step=8,
                             tooltip="Width of each face crop in pixels."),
                io.Int.Input("height", default=512, min=16, max=4096, step=8,
                             tooltip="Height of each face crop in pixels."),
                v3.Choice("framing", options=list(FACE_FRAMINGS), default=FACE_FRAMINGS[0], optional=True,
                          tooltip="centered: the box grown about the face centre. wan_animate: as Wan2.2 frames "
                          "Wan-Animate's face video (area x scale, aspect kept, most of the added height above "
                          "the face, clipped at the image edge; use scale 1.3, square off, 512x512)."),
                io.Int.Input("padding", default=0, min=0, max=4096, optional=True,
                             tooltip="Pixels added on every side of the box (pose canvas pixels)."),
                v3.Choice("keep_aspect", options=list(KEEP_ASPECT), default=KEEP_ASPECT[0], optional=True,
                          tooltip="stretch: the box fills width x height (Wan2.2). pad: the box keeps its "
                          "aspect, with black bars."),
                io.Boolean.Input("all_people", default=False, optional=True, tooltip=(
                    "Every person's face (each place in the frame, or each track id with by_track_id), one crop "
                    "stream per person: face_images holds person after person, each as many frames as the clip; "
                    "face_boxes lists every person's box per frame. person is then ignored.")),
            ],
            outputs=[io.Image.Output(display_name="face_images"), v3.BoundingBox.Output(display_name="face_boxes")],
        )

    @classmethod
    def validate_inputs(cls, scale=None, frame_rate=None) -> bool | str:
        return v3.number_problem(cls, scale=scale, frame_rate=frame_rate)

    @classmethod
    def execute(cls, pose_keypoint, image, person=0, by_track_id=False, scale=1.5, square=True, smooth=True,
                frame_rate=30.0, width=512, height=512, framing=FACE_FRAMINGS[0], padding=0,
                keep_aspect=KEEP_ASPECT[0], all_people=False) -> io.NodeOutput:
        common.require(common.DRAW_PACKAGES)
        import numpy as np
        import torch

        from ..sdpose_core.formats.openpose import load_pose_keypoint
        from ..sdpose_core.pose.face import all_face_boxes, bounding_boxes, crop_faces, face_boxes
        from ..sdpose_core.pose.render import check_batch

        frames = load_pose_keypoint(pose_keypoint)
        count = int(image.shape[0])
        if count not in (1, len(frames)):
            raise common.InputError(f"image has {count} frames but pose_keypoint has {len(frames)}; give the frames "
                                    "the keypoints were estimated on.")
        options = dict(by_track_id=by_track_id, scale=scale, square=square, smooth=smooth, fps=frame_rate,
                       framing=framing, padding=padding)
        streams = (list(all_face_boxes(frames, **options).values()) if all_people
                   else [face_boxes(frames, person=person, **options)])
        check_batch([(width, height)] * (len(frames) * len(streams)), None)  # the crops' IMAGE, before any work
        h, w = int(image.shape[1]), int(image.shape[2])
        factor = np.array([[w / f["canvas_width"], h / f["canvas_height"]] * 2 for f in frames])
        streams = [boxes * factor for boxes in streams]
        pixels = image.cpu().numpy()
        crops = [c for boxes in streams for c in crop_faces(pixels, boxes, (width, height), keep_aspect)]
        return io.NodeOutput(torch.from_numpy(np.stack(crops).astype(np.float32)), bounding_boxes(streams))


NODES = [SDPoseFaceCrops]
