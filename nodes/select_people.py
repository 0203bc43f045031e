"""SDPose Select People: keep one person (by place or track id) or the N largest / most central / leftmost."""

from __future__ import annotations

from comfy_api.latest import io

from ..sdpose_core.choices import SELECT_MODES
from . import v3


class SDPoseSelectPeople(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return v3.schema(
            node_id="SDPoseNodes.SelectPeople",
            display_name="SDPose Select People",
            description="Keeps the people you want in every frame of a POSE_KEYPOINT, so a passer-by does not end "
                        "up in the pose video. In a tracked clip the ranking is per person over the whole clip.",
            inputs=[
                v3.PoseKeypoint.Input("pose_keypoint", tooltip="The poses to choose people from."),
                v3.Choice("mode", options=list(SELECT_MODES), default=SELECT_MODES[0], tooltip=(
                    "largest / most_central / left_to_right: the 'count' best people; index: the person at place "
                    "'value' in each frame; track_id: the person whose person_id is 'value'.")),
                io.Int.Input("value", default=0, min=0, max=100000, tooltip="The index or track id (modes index, "
                             "track_id)."),
                io.Int.Input("count", default=1, min=1, max=1000, tooltip="How many people to keep (the orders)."),
            ],
            outputs=[v3.PoseKeypoint.Output(display_name="POSE_KEYPOINT")],
        )

    @classmethod
    def execute(cls, pose_keypoint, mode="largest", value=0, count=1) -> io.NodeOutput:
        from ..sdpose_core.pose.people import select_people

        return io.NodeOutput(select_people(pose_keypoint, mode, value, count))


NODES = [SDPoseSelectPeople]
