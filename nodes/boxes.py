"""Person boxes per frame for the estimator from any detector node: BOUNDING_BOX (ComfyUI's RT-DETR node, YOLO
helper packs), MASK (segmentation nodes: one box per region) and the Impact Pack's SEGS.

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
SOURCES = ("bounding_box", "mask", "segs")


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


def mask_boxes_per_frame(mask: Any, frames: int, min_area: int,
                         size: tuple[int, int] | None = None) -> list[list[list[float]]]:
    """Person boxes for each of ``frames`` frames from a MASK: one box per region of at least ``min_area`` pixels.
    ``size``: the images' (height, width), which a mask with regions must have (an empty mask, such as Load Image's
    64x64 one for a picture without alpha, has nobody in it whatever its size)."""
    from ..sdpose_core.engine.regions import mask_boxes

    shape = tuple(getattr(mask, "shape", ()))
    if len(shape) == 2:
        mask = mask[None]
    elif len(shape) != 3:
        raise InputError(f"mask: expected a MASK [frames, height, width], got shape {shape or type(mask).__name__}.")
    masks = mask.detach().cpu().float().numpy() if hasattr(mask, "detach") else mask
    if len(masks) not in (1, frames):
        raise InputError(f"mask holds {len(masks)} frames but the image batch has {frames}; give one mask per frame "
                         "(or one mask for all frames).")
    boxes = [mask_boxes(m, min_area=min_area) for m in masks]
    if size is not None and tuple(masks.shape[1:]) != tuple(size) and any(boxes):
        raise InputError(f"mask is {masks.shape[2]}x{masks.shape[1]} but the image is {size[1]}x{size[0]}; give a "
                         "mask of the image's size.")
    return boxes * frames if len(boxes) == 1 else boxes


def _labels(text: str) -> set[str] | None:
    """'person, woman' -> {'person', 'woman'}; '' or 'all' -> None (every label)."""
    labels = {part.strip().lower() for part in str(text or "").split(",") if part.strip()}
    return None if not labels or "all" in labels else labels


def segs_boxes(segs: Any, labels: str = PERSON) -> list[list[float]]:
    """[[x, y, w, h, confidence], ...] from the Impact Pack's SEGS, keeping the labels listed in ``labels``
    (comma-separated, case-insensitive; '' or 'all': every SEG)."""
    if not (isinstance(segs, (list, tuple)) and len(segs) == 2 and isinstance(segs[1], (list, tuple))):
        raise InputError(f"segs: expected the Impact Pack's SEGS ((height, width), [SEG, ...]), got {segs!r:.80}.")
    wanted = _labels(labels)
    out = []
    for i, seg in enumerate(segs[1]):
        bbox = getattr(seg, "bbox", None)
        if bbox is None or len(bbox) != 4:
            raise InputError(f"segs item {i}: expected a SEG with a bbox [x1, y1, x2, y2], got {seg!r:.80}.")
        label = getattr(seg, "label", None)
        if wanted is not None and str(label).strip().lower() not in wanted:
            continue
        x1, y1, x2, y2 = (_number(v, f"segs item {i} bbox") for v in bbox)
        confidence = getattr(seg, "confidence", None)
        score = 1.0 if confidence is None else _number(float(confidence), f"segs item {i} confidence")
        if x2 - x1 >= 1 and y2 - y1 >= 1:
            out.append([x1, y1, x2 - x1, y2 - y1, score])
    return out


def person_boxes(frames: int, bounding_box: Any = None, mask: Any = None, segs: Any = None, min_mask_area: int = 64,
                 segs_labels: str = PERSON, size: tuple[int, int] | None = None) -> list[list[list[float]]] | None:
    """Person boxes per frame from whichever one of ``bounding_box``, ``mask``, ``segs`` is connected; None when
    none is (the estimator's detector then finds the people). ``size``: the images' (height, width)."""
    given = [name for name, value in zip(SOURCES, (bounding_box, mask, segs)) if value is not None]
    if len(given) > 1:
        raise InputError(f"Connect one source of person boxes, not {' and '.join(given)}.")
    if bounding_box is not None:
        return boxes_per_frame(bounding_box, frames)
    if mask is not None:
        return mask_boxes_per_frame(mask, frames, min_mask_area, size)
    if segs is not None:
        return [segs_boxes(segs, segs_labels)] * frames
    return None
