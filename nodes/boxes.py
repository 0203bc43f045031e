"""BOUNDING_BOX (ComfyUI's RT-DETR node, YOLO helper packs) -> person boxes per frame for the estimator.

BOUNDING_BOX is a list with one entry per frame, each a list of ``{"x", "y", "width", "height"[, "label", "score"]}``
in pixels. As ComfyUI's own Draw BBoxes node does, a single dict or a flat list of dicts means "the same boxes for
every frame", and so does a list holding one frame. Plain ``[x, y, w, h]`` (or ``[x, y, w, h, score]``) lists are
accepted too. Boxes labelled with anything but "person" are left out (RT-DETR's class "all" reports every COCO
class); unlabelled boxes are used. A frame with no boxes has nobody in it.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from ..sdpose_core.errors import InputError

PERSON = "person"


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        raise InputError(f"{where}: expected a finite number, got {value!r}.")
    return float(value)


def _box(box: Any, where: str) -> list[float] | None:
    """One box -> [x, y, w, h, score], or None when it is not a person or has no area."""
    if isinstance(box, dict):
        label = box.get("label")
        if label is not None and str(label).strip().lower() != PERSON:
            return None
        missing = [k for k in ("x", "y", "width", "height") if k not in box]
        if missing:
            raise InputError(f"{where}: a BOUNDING_BOX entry needs x, y, width, height; missing {', '.join(missing)} "
                             f"(got keys {', '.join(map(str, box)) or 'none'}).")
        values = [_number(box[k], f"{where} '{k}'") for k in ("x", "y", "width", "height")]
        values.append(_number(box.get("score", 1.0), f"{where} 'score'"))
    elif isinstance(box, (list, tuple)) and len(box) in (4, 5):
        values = [_number(v, where) for v in box] + ([1.0] if len(box) == 4 else [])
    else:
        raise InputError(f"{where}: expected a dict with x, y, width, height (or [x, y, w, h]), got {box!r:.80}.")
    if values[2] < 1 or values[3] < 1:  # detectors can emit slivers at the image border: nobody to pose there
        return None
    return values


def _is_box(item: Any) -> bool:
    return isinstance(item, dict) or (isinstance(item, (list, tuple)) and len(item) in (4, 5)
                                      and all(isinstance(v, numbers.Real) for v in item))


def boxes_per_frame(bboxes: Any, frames: int) -> list[list[list[float]]]:
    """Person boxes [[x, y, w, h, score], ...] for each of ``frames`` frames."""
    if isinstance(bboxes, dict):
        bboxes = [[bboxes]]
    if not isinstance(bboxes, (list, tuple)):
        raise InputError(f"bounding_box: expected a list of boxes per frame, got {type(bboxes).__name__}.")
    if not bboxes:  # nothing detected anywhere
        return [[] for _ in range(frames)]
    if all(_is_box(item) for item in bboxes):
        bboxes = [bboxes]  # one flat list of boxes: the same people in every frame
    if len(bboxes) == 1 and frames > 1:
        bboxes = list(bboxes) * frames
    if len(bboxes) != frames:
        raise InputError(f"bounding_box holds boxes for {len(bboxes)} frames but the image batch has {frames}; "
                         "give one list of boxes per frame (or one list for all frames).")
    out = []
    for i, frame in enumerate(bboxes):
        if isinstance(frame, dict):
            frame = [frame]
        if not isinstance(frame, (list, tuple)):
            raise InputError(f"bounding_box frame {i}: expected a list of boxes, got {type(frame).__name__}.")
        boxes = [_box(b, f"bounding_box frame {i}, box {j}") for j, b in enumerate(frame)]
        out.append([b for b in boxes if b is not None])
    return out
