"""Choices and drawing defaults that users pick from, importable without any heavy library.

The ComfyUI nodes build their widgets from these when ComfyUI starts (before torch or OpenCV may be imported),
and the library and the command line check values against the same definitions.
"""

from __future__ import annotations

# DWPose's stroke sizes in pixels: limb half-width, joint and hand dots, hand lines, face dots.
STICK_WIDTH, JOINT_RADIUS, HAND_THICKNESS, FACE_RADIUS = 4, 4, 2, 3
STROKE_REFERENCE_SIDE = 512  # scale_strokes: the sizes are for a canvas whose short side is this

# DWPreprocessor's resolution maximum: the largest drawn short side, and the largest canvas side POSE_KEYPOINT takes.
MAX_RESOLUTION = 16384

# Which people come first (and are kept by max_people); selection modes add picking one by index or track id.
PEOPLE_ORDERS = ("largest", "most_central", "left_to_right", "track_id")
SELECT_MODES = PEOPLE_ORDERS[:3] + ("index", "track_id")

# Where retargeting puts the clip: frame 0's neck on the reference's neck, or the feet on its ground line.
RETARGET_ANCHORS = ("neck", "feet")
