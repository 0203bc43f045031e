"""Draw POSE_KEYPOINT in the DWPose look, pixel for pixel what comfyui_controlnet_aux's DWPose node draws.

Per person, in order: body limbs (filled ellipses, half-width 4, colours at 60 %) then body joints (radius 4),
feet (our addition, ComfyUI-native's look: joint-coloured dots, radius 4; DWPose never draws feet), left hand then
right hand (rainbow lines of thickness 2, then blue dots of radius 4), face (white dots of radius 3). Hand and face
points at pixel row or column 0 are skipped, as DWPose does. ``xinsr`` widens the limbs for the xinsir SDXL
ControlNet by the canvas' longer side, as ``scale_stick_for_xinsr_cn`` does.

Drawing controls (ComfyUI-native's, defaults = DWPose's pixels): ``stick_width`` (limb half-width, 4),
``point_size`` (radius of body joints, feet and hand dots, 4), ``face_point_size`` (3), ``head`` (False leaves out
the nose, eyes and ears and their limbs) and ``scale_strokes``: every size is for a 512-pixel short side and scales
with the canvas, so strokes keep their proportion at any resolution.

Styles (``STYLES``, one table for every node and command that draws): ``dwpose`` is the above; ``unianimate``
draws DWPose's body and hands without face or feet (UniAnimate's and MusePose's training poses); ``wan_animate``
draws as Wan2.2's Wan-Animate preprocessing (``draw_aapose_by_meta_new``): body limbs and joints plus each foot's
toe (mean of the big and small toe) joined to the ankle, hands with strokes that scale with the canvas' short side,
no face dots. A part is drawn when the style draws it and its toggle is on; ``wan_animate`` sets its own stroke
sizes (the drawing controls other than ``head`` apply to the other styles).

``resolution`` follows DWPreprocessor: the pose is drawn at the canvas size, then resized so its short side is
``resolution`` (each side ``round(side * resolution / short side)``; cubic when enlarging, area otherwise).
``None`` keeps the canvas size.

A point is drawn when its ``c`` is positive and at least ``threshold`` (DWPose's, ``keypoints.DWPOSE_THRESHOLD``):
DWPose files carry c = 1.0 / 0.0, so this is DWPose's rule for them, and raw-score files (ComfyUI-native) are
filtered as its draw node does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from ..choices import (
    DRAW_STYLES,
    FACE_RADIUS,
    HAND_THICKNESS,
    JOINT_RADIUS,
    MAX_RESOLUTION,
    STICK_WIDTH,
    STROKE_REFERENCE_SIDE,
    stroke_problem,
)
from ..errors import InputError
from ..formats.openpose import (
    BODY_KEY,
    FACE_KEY,
    FOOT_KEY,
    LEFT_KEY,
    MAX_POINT_COORD,
    RIGHT_KEY,
    check_pixels,
    load_pose_keypoint,
    triples,
)
from ..keypoints import BODY_COLORS, DWPOSE_THRESHOLD, FOOT_NAMES, HAND_COLORS, HAND_EDGES, LIMBS, visible

DRAW_THRESHOLD = DWPOSE_THRESHOLD  # this name up to 0.2.0, kept for users' imports
MIN_RESOLUTION = 64
MAX_BATCH_PIXELS = 1 << 30  # a 12 GiB float32 IMAGE batch


def _limb_colors(joint_colors: Sequence[tuple[int, int, int]]) -> tuple[tuple[int, ...], ...]:
    """Limbs are drawn at 60 % of their joint colour (DWPose, Wan2.2)."""
    return tuple(tuple(int(float(c) * 0.6) for c in color) for color in joint_colors)


LIMB_COLORS = _limb_colors(BODY_COLORS[:len(LIMBS)])
HAND_DOT, FACE_DOT = (0, 0, 255), (255, 255, 255)
HEAD_JOINTS = frozenset((0, 14, 15, 16, 17))  # OpenPose-18 nose, eyes, ears


# Wan2.2's toe limbs (ankle -> toe, its points 18 and 19) and the colours of its two toe joints.
TOE_LIMBS = ((13, 18), (10, 19))
TOE_LIMB_COLORS = _limb_colors(((255, 0, 85), (200, 200, 0)))
TOE_COLORS = ((200, 200, 0), (100, 100, 0))
# foot_keypoints_2d rows (COCO-WholeBody order) of the left and right foot's big and small toe.
TOE_PAIRS = tuple((FOOT_NAMES.index(f"{side}_big_toe"), FOOT_NAMES.index(f"{side}_small_toe"))
                  for side in ("left", "right"))
WAN_STROKE_DIVISOR = 200  # Wan2.2: stroke = short side // 200, less one (v2), at least 1; hands half of that


@dataclass(frozen=True)
class Strokes:
    """Stroke sizes in pixels of the canvas drawn on, and whether the head is drawn."""

    stick_width: int = STICK_WIDTH
    point_size: int = JOINT_RADIUS
    face_point_size: int = FACE_RADIUS
    hand_thickness: int = HAND_THICKNESS
    head: bool = True
    hand_point_size: int = JOINT_RADIUS


@dataclass(frozen=True)
class Style:
    """What one pose-guided model was trained on: the parts drawn, toe limbs, and Wan2.2's stroke sizes."""

    parts: frozenset
    toe_limbs: bool = False
    wan_strokes: bool = False


STYLES = dict(zip(DRAW_STYLES, (  # in the order of choices.DRAW_STYLES: dwpose, unianimate, wan_animate
    Style(frozenset({"body", "hands", "face", "feet"})),
    Style(frozenset({"body", "hands"})),
    Style(frozenset({"body", "hands", "feet"}), toe_limbs=True, wan_strokes=True),
)))


def style_of(name: str) -> Style:
    """The :data:`STYLES` entry ``name``; an InputError naming the choices otherwise."""
    if not isinstance(name, str) or name not in STYLES:
        raise InputError(f"style must be one of {', '.join(STYLES)}, got {name!r}.")
    return STYLES[name]


def wan_strokes(width: int, height: int, head: bool = True) -> Strokes:
    """Wan2.2's stroke sizes for a canvas: limbs, joints = short side // 200 - 1 (>= 1); hand lines, dots half."""
    body = max(min(width, height) // WAN_STROKE_DIVISOR - 1, 1)
    hand = max(body // 2, 1)
    return Strokes(body, body, FACE_RADIUS, hand, bool(head), hand)


def strokes(width: int, height: int, *, stick_width: int = STICK_WIDTH, point_size: int = JOINT_RADIUS,
            face_point_size: int = FACE_RADIUS, head: bool = True, scale_strokes: bool = False) -> Strokes:
    """Checked stroke sizes for a canvas; ``scale_strokes`` scales them by short side / 512 (at least 1 px)."""
    sizes = {"stick_width": stick_width, "point_size": point_size, "face_point_size": face_point_size}
    for name, value in sizes.items():
        if (problem := stroke_problem(name, value)) is not None:
            raise InputError(problem)
    factor = min(width, height) / STROKE_REFERENCE_SIDE if scale_strokes else 1.0
    size = (lambda v: max(1, int(round(v * factor)))) if scale_strokes else int
    return Strokes(size(stick_width), size(point_size), size(face_point_size), size(HAND_THICKNESS), bool(head),
                   size(point_size))


def stick_scale(width: int, height: int, xinsr: bool) -> int:
    """Limb width multiplier of ``scale_stick_for_xinsr_cn``: 1 below 500 px, else 2 + side // 1000 (max 7)."""
    side = max(width, height)
    return 1 if not xinsr or side < 500 else min(2 + side // 1000, 7)


def _points(flat: Sequence[float] | None, threshold: float) -> tuple[list[tuple[float, float]], list[bool]]:
    """Coordinates and drawn-mask of a flat [x, y, c] list (empty when absent)."""
    if not flat:
        return [], []
    arr = triples(flat)
    shown = visible(arr, threshold) & (np.abs(arr[:, :2]) < MAX_POINT_COORD).all(axis=1)
    return [(x, y) for x, y in arr[:, :2].tolist()], shown.tolist()


def toe_points(flat: Sequence[float] | None, threshold: float) -> list[list[float]]:
    """Wan2.2's two toes [x, y, c] (left, right) from ``foot_keypoints_2d``: the mean of the big and small toe that
    are shown (c = 1), or [0, 0, 0] when neither is."""
    xy, shown = _points(flat, threshold)
    toes = []
    for pair in TOE_PAIRS:
        seen = [xy[i] for i in pair if i < len(xy) and shown[i]]
        toes.append([*np.mean(seen, axis=0).tolist(), 1.0] if seen else [0.0, 0.0, 0.0])
    return toes


def draw_body(canvas: np.ndarray, flat: Sequence[float] | None, threshold: float, scale: int,
              sizes: Strokes = Strokes(), toes: Sequence[Sequence[float]] = ()) -> None:
    """OpenPose-18 limbs at 60 % colour (and Wan2.2's ankle-toe limbs with ``toes``), then the joints, in place."""
    xy, shown = _points(flat, threshold)
    if len(xy) < 18:
        return
    xy, shown = xy[:18], shown[:18]
    if not sizes.head:
        shown = [ok and i not in HEAD_JOINTS for i, ok in enumerate(shown)]
    for x, y, c in toes:
        xy.append((x, y))
        shown.append(c > 0)
    half_width = sizes.stick_width * scale
    for (a, b), color in zip(LIMBS + TOE_LIMBS[:len(toes)], LIMB_COLORS + TOE_LIMB_COLORS):
        if not (shown[a] and shown[b]):
            continue
        (xa, ya), (xb, yb) = xy[a], xy[b]
        length = ((ya - yb) ** 2 + (xa - xb) ** 2) ** 0.5
        angle = math.degrees(math.atan2(ya - yb, xa - xb))
        center = (int((xa + xb) / 2), int((ya + yb) / 2))
        polygon = cv2.ellipse2Poly(center, (int(length / 2), half_width), int(angle), 0, 360, 1)
        cv2.fillConvexPoly(canvas, polygon, color)
    for (x, y), ok, color in zip(xy, shown, BODY_COLORS + TOE_COLORS):
        if ok:
            cv2.circle(canvas, (int(x), int(y)), sizes.point_size, color, thickness=-1)


def draw_feet(canvas: np.ndarray, flat: Sequence[float] | None, threshold: float, sizes: Strokes = Strokes()) -> None:
    """Six foot points as dots in the first six joint colours (ComfyUI-native's look), in place."""
    height, width = canvas.shape[:2]
    xy, shown = _points(flat, threshold)
    for (x, y), ok, color in zip(xy, shown, BODY_COLORS):
        x, y = int(x), int(y)
        if ok and 0 <= x < width and 0 <= y < height:
            cv2.circle(canvas, (x, y), sizes.point_size, color, thickness=-1)


def draw_hand(canvas: np.ndarray, flat: Sequence[float] | None, threshold: float, sizes: Strokes = Strokes()) -> None:
    """21 hand points: rainbow bones, then blue dots; points on row/column 0 are skipped (DWPose), in place."""
    xy, shown = _points(flat, threshold)
    if len(xy) < 21:
        return
    ixy = [(int(x), int(y)) for x, y in xy]
    inside = [ok and x > 0 and y > 0 for (x, y), ok in zip(ixy, shown)]
    for (a, b), color in zip(HAND_EDGES, HAND_COLORS):
        if inside[a] and inside[b]:
            cv2.line(canvas, ixy[a], ixy[b], color, thickness=sizes.hand_thickness)
    for p, ok in zip(ixy, inside):
        if ok:
            cv2.circle(canvas, p, sizes.hand_point_size, HAND_DOT, thickness=-1)


def draw_face(canvas: np.ndarray, flat: Sequence[float] | None, threshold: float, sizes: Strokes = Strokes()) -> None:
    """Face points as white dots; points on row/column 0 are skipped (DWPose), in place."""
    xy, shown = _points(flat, threshold)
    for (x, y), ok in zip(xy, shown):
        x, y = int(x), int(y)
        if ok and x > 0 and y > 0:
            cv2.circle(canvas, (x, y), sizes.face_point_size, FACE_DOT, thickness=-1)


def draw_people(people: Sequence[dict], width: int, height: int, *, body: bool = True, hands: bool = True,
                face: bool = True, feet: bool = True, xinsr: bool = False,
                threshold: float = DWPOSE_THRESHOLD, style: str = DRAW_STYLES[0], **controls: Any) -> np.ndarray:
    """Canonical people (pixels, OpenPose-18) on a black ``height`` x ``width`` RGB uint8 canvas.

    ``style``: a :data:`STYLES` name; ``controls``: the drawing controls of :func:`strokes` (module docstring);
    none given = DWPose's pixels."""
    look = style_of(style)
    canvas = np.zeros((height, width, 3), dtype=np.uint8)
    sizes = strokes(width, height, **controls)
    if look.wan_strokes:
        sizes = wan_strokes(width, height, sizes.head)
    scale = 1 if look.wan_strokes else stick_scale(width, height, xinsr)
    body, hands, face, feet = (on and part in look.parts for on, part in
                               ((body, "body"), (hands, "hands"), (face, "face"), (feet, "feet")))
    for person in people:
        toes = toe_points(person.get(FOOT_KEY), threshold) if feet and look.toe_limbs else ()
        if body:
            draw_body(canvas, person.get(BODY_KEY), threshold, scale, sizes, toes)
        if feet and not look.toe_limbs:
            draw_feet(canvas, person.get(FOOT_KEY), threshold, sizes)
        if hands:
            draw_hand(canvas, person.get(LEFT_KEY), threshold, sizes)
            draw_hand(canvas, person.get(RIGHT_KEY), threshold, sizes)
        if face:
            draw_face(canvas, person.get(FACE_KEY), threshold, sizes)
    return canvas


def output_size(width: int, height: int, resolution: int | None) -> tuple[int, int]:
    """(width, height) of DWPreprocessor's output for a canvas: short side = ``resolution`` (None: unchanged)."""
    if resolution is None:
        return width, height
    if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)) or resolution < MIN_RESOLUTION:
        raise InputError(f"resolution must be a whole number >= {MIN_RESOLUTION} (DWPreprocessor's range is "
                         f"64..{MAX_RESOLUTION}), or None for the canvas size; got {resolution!r}.")
    if resolution > MAX_RESOLUTION:
        raise InputError(f"resolution {resolution} is larger than {MAX_RESOLUTION} (DWPreprocessor's maximum).")
    k = float(resolution) / float(min(height, width))
    size = int(round(float(width) * k)), int(round(float(height) * k))
    check_pixels(*size, f"The pose image at resolution {resolution}")
    return size


def check_batch(sizes: Sequence[tuple[int, int]], resolution: int | None) -> None:
    """Refuse, before drawing, a batch whose output IMAGE (float32 RGB, as ComfyUI holds it) exceeds the budget.

    ``sizes`` are the canvases (width, height) of the frames; each frame's output size is checked on the way.
    """
    pixels = 0
    for width, height in sizes:
        check_pixels(width, height, "A pose canvas")
        w, h = output_size(width, height, resolution)
        pixels += w * h
    if pixels > MAX_BATCH_PIXELS:
        raise InputError(f"{len(sizes)} pose frames at this resolution make {pixels / 1e6:.0f} megapixels "
                         f"({pixels * 12 / 2 ** 30:.1f} GiB as a ComfyUI IMAGE); at most {MAX_BATCH_PIXELS / 1e6:.0f} "
                         "megapixels per run. Lower resolution or split the batch.")


def resize_to_resolution(image: np.ndarray, resolution: int | None) -> np.ndarray:
    """Resize as DWPreprocessor does (cubic to enlarge, area otherwise); None returns ``image`` unchanged."""
    height, width = image.shape[:2]
    size = output_size(width, height, resolution)
    if resolution is None:
        return image
    enlarge = float(resolution) / float(min(height, width)) > 1
    return cv2.resize(image, size, interpolation=cv2.INTER_CUBIC if enlarge else cv2.INTER_AREA)


def as_rgb_uint8(image: Any) -> np.ndarray:
    """HxW, HxWx1/3/4 image (uint8, or float in 0..1, or PIL) -> HxWx3 uint8 RGB; alpha over white as ``HWC3``."""
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
        raise InputError(f"overlay image: expected HxW or HxWxC with C in 1, 3, 4, got shape {arr.shape}.")
    if np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all() or arr.min() < 0 or arr.max() > 1:
            raise InputError("overlay image: float pixels must be finite and lie in 0..1 (or pass uint8).")
        arr = np.round(arr * 255.0).astype(np.uint8)
    elif arr.dtype == np.uint16:  # 16-bit files, reduced as the pose path reduces them (images.to_rgb_uint8)
        arr = (arr >> 8).astype(np.uint8)
    elif arr.dtype != np.uint8:
        raise InputError(f"overlay image: pixel type {arr.dtype} is not supported; pass uint8 or float in 0..1.")
    if arr.shape[2] == 1:
        return np.ascontiguousarray(np.repeat(arr, 3, axis=2))
    if arr.shape[2] == 4:
        alpha = arr[:, :, 3:4].astype(np.float32) / 255.0
        arr = (arr[:, :, :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)).clip(0, 255).astype(np.uint8)
    return np.ascontiguousarray(arr)


def overlay(image: np.ndarray, pose: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """Blend the drawn (non-black) pixels of ``pose`` over ``image`` (same size, uint8 RGB) with ``alpha``."""
    if image.shape != pose.shape:
        raise InputError(f"overlay image is {image.shape[1]}x{image.shape[0]}, but the pose canvas is "
                         f"{pose.shape[1]}x{pose.shape[0]}; pass the image the keypoints were estimated on.")
    if not 0.0 <= alpha <= 1.0:
        raise InputError(f"alpha must lie in 0..1, got {alpha}.")
    blended = cv2.addWeighted(pose, float(alpha), image, 1.0 - float(alpha), 0.0)
    out = image.copy()
    mask = pose.any(axis=2)
    out[mask] = blended[mask]
    return out


def render_frame(frame: Any, *, resolution: int | None = None, body: bool = True, hands: bool = True,
                 face: bool = True, feet: bool = True, xinsr: bool = False, threshold: float = DWPOSE_THRESHOLD,
                 image: Any = None, alpha: float = 1.0, style: str = DRAW_STYLES[0], **controls: Any) -> np.ndarray:
    """One POSE_KEYPOINT frame (any accepted variant) -> HxWx3 uint8 RGB, on black or over ``image``
    (``style``: a :data:`STYLES` name; ``controls``: drawing controls, see :func:`strokes`)."""
    frames = load_pose_keypoint(frame)
    if len(frames) != 1:
        raise InputError(f"render_frame draws one frame, got {len(frames)}; use render_pose_keypoint for a list.")
    return _render(frames[0], resolution=resolution, body=body, hands=hands, face=face, feet=feet, xinsr=xinsr,
                   threshold=threshold, image=image, alpha=alpha, style=style, **controls)


def _render(frame: dict, *, resolution: int | None, image: Any, alpha: float, **draw: Any) -> np.ndarray:
    """A canonical frame drawn, overlaid on ``image`` if given, and resized to ``resolution``."""
    width, height = frame["canvas_width"], frame["canvas_height"]
    output_size(width, height, resolution)
    canvas = draw_people(frame["people"], width, height, **draw)
    if image is not None:
        canvas = overlay(as_rgb_uint8(image), canvas, alpha)
    return resize_to_resolution(canvas, resolution)


def render_pose_keypoint(pose: Any, *, resolution: int | None = None, body: bool = True, hands: bool = True,
                         face: bool = True, feet: bool = True, xinsr: bool = False,
                         threshold: float = DWPOSE_THRESHOLD, style: str = DRAW_STYLES[0],
                         **controls: Any) -> list[np.ndarray]:
    """Every frame of a POSE_KEYPOINT (dict, list, JSON text or path) on black, as :func:`render_frame` draws it."""
    frames = load_pose_keypoint(pose)
    check_batch([(f["canvas_width"], f["canvas_height"]) for f in frames], resolution)
    return [_render(frame, resolution=resolution, body=body, hands=hands, face=face, feet=feet, xinsr=xinsr,
                    threshold=threshold, image=None, alpha=1.0, style=style, **controls) for frame in frames]
