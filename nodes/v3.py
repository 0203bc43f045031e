"""ComfyUI's V3 node schema (``comfy_api.latest``) as the SDPose nodes use it: custom types, search aliases, choices.

Imported only inside ComfyUI (``comfy_api`` is ComfyUI's); nothing here loads a model.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any

from comfy_api.latest import io

from ..sdpose_core.choices import FACE_RADIUS, JOINT_RADIUS, MAX_STROKE, PEOPLE_ORDERS, STICK_WIDTH
from . import common

SDPoseModel = io.Custom(common.MODEL_TYPE)
PoseKeypoint = io.Custom("POSE_KEYPOINT")  # DWPose's type: a list of OpenPose frame dicts
BoundingBox = io.Custom("BOUNDING_BOX")  # ComfyUI's RT-DETR node, YOLO helper packs
Segs = io.Custom("SEGS")  # the Impact Pack's detections ((height, width), [SEG, ...])

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


DRAWING_TIPS = {  # the drawing controls' tooltips, for every node that draws poses
    "stick_width": f"Limb half-width in pixels (DWPose: {STICK_WIDTH}).",
    "point_size": f"Joint and hand dot radius in pixels (DWPose: {JOINT_RADIUS}).",
    "face_point_size": f"Face dot radius in pixels (DWPose: {FACE_RADIUS}).",
    "draw_head": "Nose, eyes and ears and their limbs (off: a faceless body, e.g. for Wan-Animate).",
    "scale_strokes": ("The sizes above are for a 512 px short side and scale with the output, so strokes keep their "
                      "proportion at any resolution. Off: DWPose's fixed pixel sizes."),
}


def drawing_inputs() -> list:
    """The drawing controls of every node that draws poses; the defaults draw DWPose's exact pixels.

    Added after a node's older inputs, so workflows saved before them load with DWPose's look.
    """
    return [
        io.Int.Input("stick_width", default=STICK_WIDTH, min=1, max=MAX_STROKE, optional=True,
                     tooltip=DRAWING_TIPS["stick_width"]),
        io.Int.Input("point_size", default=JOINT_RADIUS, min=1, max=MAX_STROKE, optional=True,
                     tooltip=DRAWING_TIPS["point_size"]),
        io.Int.Input("face_point_size", default=FACE_RADIUS, min=1, max=MAX_STROKE, optional=True,
                     tooltip=DRAWING_TIPS["face_point_size"]),
        io.Boolean.Input("draw_head", default=True, optional=True, tooltip=DRAWING_TIPS["draw_head"]),
        io.Boolean.Input("scale_strokes", default=False, optional=True, tooltip=DRAWING_TIPS["scale_strokes"]),
    ]


def drawing_style(stick_width: int | None = None, point_size: int | None = None, face_point_size: int | None = None,
                  draw_head: bool = True, scale_strokes: bool = False) -> dict:
    """:func:`drawing_inputs` values as ``sdpose_core.pose.render`` keywords (None: DWPose's size)."""
    sizes = dict(stick_width=stick_width, point_size=point_size, face_point_size=face_point_size)
    return {**{k: v for k, v in sizes.items() if v is not None}, "head": draw_head, "scale_strokes": scale_strokes}


def box_inputs() -> list:
    """Person boxes from other detector nodes (``nodes/boxes.py``); added after older inputs so saved workflows load.
    At most one of bounding_box, mask, segs is connected; with none, bbox_detector finds the people."""
    return [
        io.Mask.Input("mask", optional=True, tooltip=(
            "Person masks per frame from a segmentation node (SAM, a person segmenter, a painted mask): each separate "
            "region is one person. Replaces bbox_detector.")),
        Segs.Input("segs", optional=True, tooltip=(
            "The Impact Pack's SEGS (e.g. from a BBOX or SEGM detector): each SEG's box is one person. Replaces "
            "bbox_detector.")),
        io.Int.Input("min_mask_area", default=64, min=1, max=1 << 24, optional=True, tooltip=(
            "With mask: regions smaller than this many pixels are speckles, not people, and are left out.")),
        io.String.Input("segs_labels", default="person", optional=True, tooltip=(
            "With segs: keep the SEGs with these labels (comma-separated; empty or 'all': every SEG).")),
    ]


def people_inputs() -> list:
    """How many people to keep per frame and which first (``sdpose_core.pose.people.limit_people``)."""
    return [
        io.Int.Input("max_people", default=0, min=0, max=1000, optional=True, tooltip=(
            "Keep at most this many people per frame (0: everyone). In a tracked clip the choice is made per person "
            "over the whole clip, so it does not flip between frames.")),
        Choice("people_order", options=list(PEOPLE_ORDERS), default=PEOPLE_ORDERS[0], optional=True, tooltip=(
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


class Choice(io.Combo.Input):
    """A dropdown that ComfyUI itself checks: its V1 type is the list of its options (V1's dropdown form), so a
    value that is not among them is refused before running, once, on this input. (0.3.x checks no V3 "COMBO"
    value; a choice checked in ``validate_inputs`` would be reported against every input that function takes.)"""

    def get_io_type(self):
        return list(self.options)


def choice_problem(name: str, value: Any, options: list) -> bool | str:
    """True, or a message saying that ``value`` is not among ``options`` (for the few dropdowns that accept more
    than their list and so are not a :class:`Choice`). ``None`` is a linked input, checked when it runs."""
    if value is None or value in options:
        return True
    shown = ", ".join(map(repr, options[:8])) + (f", ... ({len(options)} in all)" if len(options) > 8 else "")
    return f"{name}: {value!r} is not one of {shown}"


@functools.cache
def _number_ranges(node: type[io.ComfyNode]) -> dict[str, tuple[float | None, float | None]]:
    """(min, max) of every FLOAT and INT input of ``node``, read once per process (they never change)."""
    ranges = {}
    for item in node.define_schema().inputs:
        if isinstance(item, (io.Float.Input, io.Int.Input)):
            ranges[item.id] = (item.min, item.max)
    return ranges


def number_problem(node: type[io.ComfyNode], **values: Any) -> bool | str:
    """True, or one message naming each number that is NaN, infinite or outside its input's range.

    ComfyUI's range check lets NaN through (every comparison with NaN is false), and it skips inputs that
    ``validate_inputs`` takes, so this checks the range too. ``None`` is a linked input (or absent).
    """
    problems = []
    for name, value in values.items():
        if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        low, high = _number_ranges(node)[name]
        if isinstance(value, float) and not math.isfinite(value):  # an int is finite (too large for float())
            problems.append(f"{name}: {value} is not a number; give a finite value"
                            + (f" from {low} to {high}." if low is not None and high is not None else "."))
        elif low is not None and value < low:
            problems.append(f"{name}: {value} is smaller than the minimum {low}.")
        elif high is not None and value > high:
            problems.append(f"{name}: {value} is larger than the maximum {high}.")
    return " ".join(problems) if problems else True
