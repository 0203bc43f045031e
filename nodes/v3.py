"""ComfyUI's V3 node schema (``comfy_api.latest``) as the SDPose nodes use it: custom types, search aliases, choices.

Imported only inside ComfyUI (``comfy_api`` is ComfyUI's); nothing here loads a model.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from comfy_api.latest import io

from ..sdpose_core.choices import FACE_RADIUS, JOINT_RADIUS, MAX_STROKE, PEOPLE_ORDERS, STICK_WIDTH
from . import common

SDPoseModel = io.Custom(common.MODEL_TYPE)
PoseKeypoint = io.Custom("POSE_KEYPOINT")  # DWPose's type: a list of OpenPose frame dicts
BoundingBox = io.Custom("BOUNDING_BOX")  # ComfyUI's RT-DETR node, YOLO helper packs

ENABLE = ["enable", "disable"]  # DWPose's detect_* toggles
XINSR = ["disable", "enable"]  # DWPose's scale_stick_for_xinsr_cn, in its order

# What users type in the node search besides the display name (ComfyUI versions whose Schema has search_aliases).
SEARCH_ALIASES = {
    "SDPoseNodes.ModelLoader": ["pose model", "sdpose checkpoint", "load pose model"],
    "SDPoseNodes.Estimator": ["openpose", "dwpose", "pose", "pose estimation", "keypoints", "skeleton",
                              "controlnet openpose", "dw preprocessor"],
    "SDPoseNodes.VideoOptions": ["pose video", "pose tracking", "pose smoothing", "openpose video"],
    "SDPoseNodes.DrawPose": ["draw openpose", "render pose", "pose image", "skeleton", "openpose", "dwpose"],
    "SDPoseNodes.SavePoseKeypoints": ["save openpose json", "save pose", "export keypoints", "pose json"],
    "SDPoseNodes.LoadPoseKeypoints": ["load openpose json", "load pose", "import keypoints", "pose json"],
    "SDPoseNodes.AnnotateVideoFile": ["pose video", "openpose video", "dwpose video", "video pose estimation",
                                      "long video", "pose"],
    "SDPoseNodes.RetargetPose": ["retarget pose", "pose retargeting", "animate anyone", "mimicmotion", "unianimate",
                                 "wan animate", "openpose", "pose"],
    "SDPoseNodes.FaceCrops": ["face crop", "face bbox", "face video", "wan animate", "pose"],
    "SDPoseNodes.SelectPeople": ["select person", "filter people", "largest person", "openpose", "pose"],
}


def drawing_inputs() -> list:
    """The drawing controls of every node that draws poses; the defaults draw DWPose's exact pixels.

    Added after a node's older inputs, so workflows saved before them load with DWPose's look.
    """
    return [
        io.Int.Input("stick_width", default=STICK_WIDTH, min=1, max=MAX_STROKE, optional=True,
                     tooltip=f"Limb half-width in pixels (DWPose: {STICK_WIDTH})."),
        io.Int.Input("point_size", default=JOINT_RADIUS, min=1, max=MAX_STROKE, optional=True,
                     tooltip=f"Joint and hand dot radius in pixels (DWPose: {JOINT_RADIUS})."),
        io.Int.Input("face_point_size", default=FACE_RADIUS, min=1, max=MAX_STROKE, optional=True,
                     tooltip=f"Face dot radius in pixels (DWPose: {FACE_RADIUS})."),
        io.Boolean.Input("draw_head", default=True, optional=True,
                         tooltip="Nose, eyes and ears and their limbs (off: a faceless body, e.g. for Wan-Animate)."),
        io.Boolean.Input("scale_strokes", default=False, optional=True, tooltip=(
            "The sizes above are for a 512 px short side and scale with the output, so strokes keep their "
            "proportion at any resolution. Off: DWPose's fixed pixel sizes.")),
    ]


def drawing_style(stick_width: int | None = None, point_size: int | None = None, face_point_size: int | None = None,
                  draw_head: bool = True, scale_strokes: bool = False) -> dict:
    """:func:`drawing_inputs` values as ``sdpose_core.pose.render`` keywords (None: DWPose's size)."""
    sizes = dict(stick_width=stick_width, point_size=point_size, face_point_size=face_point_size)
    return {**{k: v for k, v in sizes.items() if v is not None}, "head": draw_head, "scale_strokes": scale_strokes}


def people_inputs() -> list:
    """How many people to keep per frame and which first (``sdpose_core.pose.people.limit_people``)."""
    return [
        io.Int.Input("max_people", default=0, min=0, max=1000, optional=True, tooltip=(
            "Keep at most this many people per frame (0: everyone). In a tracked clip the choice is made per person "
            "over the whole clip, so it does not flip between frames.")),
        io.Combo.Input("people_order", options=list(PEOPLE_ORDERS), default=PEOPLE_ORDERS[0], optional=True, tooltip=(
            "Which people come first and are kept: largest, most_central, left_to_right or track_id (tracked "
            "clips).")),
    ]


def supports_search_aliases() -> bool:
    """Whether this ComfyUI's Schema has ``search_aliases`` (newer than 0.3.75; older front-ends ignore them)."""
    return "search_aliases" in {f.name for f in dataclasses.fields(io.Schema)}


def schema(**fields: Any) -> io.Schema:
    """``io.Schema`` in the SDPose category, with the node's search aliases where ComfyUI supports them."""
    if supports_search_aliases():
        fields.setdefault("search_aliases", list(SEARCH_ALIASES.get(fields["node_id"], [])))
    return io.Schema(category=common.CATEGORY, **fields)


def legacy_toggle(value: Any) -> Any:
    """A saved boolean for an enable/disable choice (Draw Pose before 0.2.0) -> 'enable' / 'disable'."""
    if isinstance(value, bool):
        return "enable" if value else "disable"
    return value


def choice_problem(node: type[io.ComfyNode], **values: Any) -> bool | str:
    """True, or one message naming every value that is not among its input's choices.

    ComfyUI 0.3.x does not check V3 dropdown values before running (newer versions do); nodes call this from
    ``validate_inputs`` so that a prompt with an unknown choice is refused up front there too. ``None`` is a
    linked input, checked when it runs.
    """
    inputs = {i.id: i for i in node.define_schema().inputs}
    problems = []
    for name, value in values.items():
        options = list(inputs[name].options or [])
        if value is not None and value not in options:
            shown = ", ".join(map(repr, options[:8])) + (f", ... ({len(options)} in all)" if len(options) > 8 else "")
            problems.append(f"{name}: {value!r} is not one of {shown}")
    return "; ".join(problems) if problems else True
