"""Choices and drawing defaults that users pick from, importable without any heavy library.

The ComfyUI nodes build their widgets from these when ComfyUI starts (before torch or OpenCV may be imported),
and the library and the command line check values against the same definitions.
"""

from __future__ import annotations

import numbers

# DWPose's stroke sizes in pixels: limb half-width, joint and hand dots, hand lines, face dots.
STICK_WIDTH, JOINT_RADIUS, HAND_THICKNESS, FACE_RADIUS = 4, 4, 2, 3
STROKE_REFERENCE_SIDE = 512  # scale_strokes: the sizes are for a canvas whose short side is this
# The largest stroke size: an eighth of the reference short side (with scale_strokes, of the canvas' short side).
# OpenCV's time grows with the radius (one dot of radius 1e9 takes seconds) and sizes past a C int crash it.
MAX_STROKE = STROKE_REFERENCE_SIDE // 8
STROKE_NAMES = {"stick_width": "limb half-width", "point_size": "joint and hand dot radius",
                "face_point_size": "face dot radius"}


def stroke_problem(name: str, value: object) -> str | None:
    """Why ``value`` is no stroke size (``name``: a key of STROKE_NAMES), or None when it is one: 1..MAX_STROKE."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        return f"{name} must be a whole number of pixels, got {value!r:.30}."
    if not 1 <= value <= MAX_STROKE:
        return (f"{name} ({STROKE_NAMES.get(name, 'stroke size')}) must be 1..{MAX_STROKE} pixels (for larger strokes "
                f"on a large image use scale_strokes, which scales sizes given for a {STROKE_REFERENCE_SIDE} px short "
                f"side), got {value!r:.30}.")
    return None

# DWPreprocessor's resolution maximum: the largest drawn short side, and the largest canvas side POSE_KEYPOINT takes.
MAX_RESOLUTION = 16384

# Which people come first (and are kept by max_people); selection modes add picking one by index or track id.
PEOPLE_ORDERS = ("largest", "most_central", "left_to_right", "track_id")
SELECT_MODES = PEOPLE_ORDERS[:3] + ("index", "track_id")

# Where retargeting puts the clip: frame 0's neck on the reference's neck, or the feet on its ground line.
RETARGET_ANCHORS = ("neck", "feet")
# The retarget pipeline (node and command): dropouts of up to this many frames filled first (0 = off; at most
# RETARGET_MAX_FILL_GAPS), and zero-lag smoothing before retargeting (off).
RETARGET_FILL_GAPS, RETARGET_MAX_FILL_GAPS, RETARGET_SMOOTH = 5, 300, False

# What a pose image is drawn like (sdpose_core.pose.render.STYLES): DWPose's pixels, UniAnimate's / MusePose's
# training poses (body and hands, no face), Wan-Animate's (Wan2.2's drawing: toes, strokes scaled, no face).
DRAW_STYLES = ("dwpose", "unianimate", "wan_animate")

# How a face crop is framed (sdpose_core.pose.face): the landmark box grown about its centre (side x scale), or as
# Wan2.2 frames Wan-Animate's face video (area x scale, most of the added height above the face, clipped).
FACE_FRAMINGS = ("centered", "wan_animate")
# How a face box reaches the crop size: stretched to it, or its aspect kept with black bars (ComfyUI native's names).
KEEP_ASPECT = ("stretch", "pad")

# How a 25-point POSE_KEYPOINT body is read (sdpose_core.formats.openpose): told from its points, CMU OpenPose
# BODY_25, or OpenPose-18 + left and right toe + five zero pads (ComfyUI-ProportionChanger, Wan-Animate's 20 points).
BODY_LAYOUTS = ("auto", "body_25", "openpose_18_toes")
# How a missing face, hand or foot part is written: null (DWPose) or zero points (ComfyUI-native SDPoseDrawKeypoints).
MISSING_PARTS = ("null", "zeros")
