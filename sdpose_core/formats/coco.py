"""COCO keypoint results: the one record format, reading it back, and the official instance rescoring.

A record is one person: ``{"image_id", "category_id": 1, "keypoints", "score"}`` for COCO's 17 points (the COCO
keypoint results format) and, for COCO-WholeBody's 133, the COCO-WholeBody results format: ``keypoints`` holds the
17 body points and ``foot_kpts``, ``face_kpts``, ``lefthand_kpts``, ``righthand_kpts`` the rest (as the dataset's
evaluation and mmpose's ``CocoWholeBodyMetric`` write them). Points are ``x, y, score`` triples rounded to 3
decimals; ``score`` is the rescored instance score. No ``bbox``: pycocotools' and xtcocotools' ``loadRes`` would
then take a record for a box result and use the box's area instead of the keypoints' extent.
"""

from __future__ import annotations

import reprlib
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from ..errors import InputError
from ..keypoints import NUM_WHOLEBODY, RESCORE_THRESHOLD, WHOLEBODY_PARTS

PERSON_CATEGORY = 1
_SPLIT_FIELDS = ", ".join(part.field for part in WHOLEBODY_PARTS[1:])
KEYPOINT_SCORE_THRESHOLD = RESCORE_THRESHOLD  # this name up to 0.2.0, kept for users' imports


def rescore(box_score: float, keypoint_scores: torch.Tensor, threshold: float = RESCORE_THRESHOLD) -> float:
    """Box score times the mean of the keypoint scores above ``threshold`` (0 when none is), as mmpose's CocoMetric."""
    valid = keypoint_scores[keypoint_scores > threshold]
    return float(box_score) * (float(valid.mean()) if valid.numel() else 0.0)


def image_id_from_stem(stem: str) -> int | str:
    """COCO ids are integers; file stems like '000000397133' become 397133, other stems stay strings, with ``%``
    written ``%25`` and each byte of the file name that is not UTF-8 ``%XX``, so any JSON tool can hold the id and
    ``os.fsdecode(urllib.parse.unquote_to_bytes(image_id))`` gives the stem back."""
    if stem.isascii() and stem.isdigit():
        return int(stem)
    return "".join("%25" if c == "%" else f"%{ord(c) - 0xDC00:02X}" if 0xDC80 <= ord(c) <= 0xDCFF else c
                   for c in stem)


def _values(points: np.ndarray) -> list[float]:
    return [round(float(v), 3) for v in points.reshape(-1)]


def result_record(image_id: int | str, keypoints: Any, score: float) -> dict:
    """One person's result: ``keypoints`` (K, 3) x, y, score in image pixels, K = 17 (COCO) or 133 (COCO-WholeBody)."""
    kp = np.asarray(keypoints, dtype=np.float64)
    record: dict[str, Any] = {"image_id": image_id, "category_id": PERSON_CATEGORY}
    if kp.shape == (NUM_WHOLEBODY, 3):
        record.update({part.field: _values(kp[part.points]) for part in WHOLEBODY_PARTS})
    elif kp.shape == (WHOLEBODY_PARTS[0].stop, 3):
        record["keypoints"] = _values(kp)
    else:
        raise InputError(f"COCO results hold 17 or 133 keypoints as (x, y, score); got an array of shape {kp.shape}.")
    record["score"] = float(score)
    return record


def coco_records(image_id: int | str, keypoints: torch.Tensor, box_scores: torch.Tensor) -> list[dict]:
    """The results of one image: keypoints [N, K, 3] in image pixels, each person rescored from its box score."""
    return [result_record(image_id, kp.double().numpy(), rescore(float(s), kp[:, 2]))
            for kp, s in zip(keypoints, box_scores)]


def _triples(values: Any, field: str, count: int) -> np.ndarray:
    """``values`` as (count, 3) finite numbers, or an InputError naming ``field`` and what it holds."""
    if not isinstance(values, list):
        raise InputError(f"'{field}' is {'null' if values is None else type(values).__name__}, not a list of numbers.")
    if len(values) != 3 * count:
        raise InputError(f"'{field}' holds {len(values)} numbers; it needs {3 * count} ({count} points as x, y, "
                         "score).")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        bad = next(v for v in values if not isinstance(v, (int, float)) or isinstance(v, bool))
        raise InputError(f"'{field}' holds {reprlib.repr(bad)}, which is not a number.")
    try:
        arr = np.asarray(values, dtype=np.float64)
    except OverflowError:  # an integer with hundreds of digits
        arr = np.array([np.inf])
    if not np.isfinite(arr).all():
        raise InputError(f"'{field}' holds NaN or infinite values.")
    return arr.reshape(count, 3)


def record_keypoints(record: Mapping[str, Any], num_keypoints: int) -> np.ndarray:
    """A result's keypoints as (K, 3), K = ``num_keypoints``: from the COCO-WholeBody per-part fields, or all K in
    ``keypoints`` (the flat form earlier releases wrote); InputError when neither form fits."""
    present = [part.field for part in WHOLEBODY_PARTS[1:] if part.field in record]
    if num_keypoints == NUM_WHOLEBODY and present:
        missing = [part.field for part in WHOLEBODY_PARTS if part.field not in record]
        if missing:
            raise InputError(f"it has {', '.join(present)} but no {', '.join(missing)}; a COCO-WholeBody result "
                             f"needs 'keypoints' (17 body points) and all of {_SPLIT_FIELDS}.")
        return np.concatenate([_triples(record[part.field], part.field, part.stop - part.start)
                               for part in WHOLEBODY_PARTS])
    if "keypoints" not in record:
        raise InputError("it has no 'keypoints'.")
    try:
        return _triples(record["keypoints"], "keypoints", num_keypoints)
    except InputError as exc:
        if num_keypoints != NUM_WHOLEBODY:
            raise
        raise InputError(f"{exc} A COCO-WholeBody result holds either all 133 points in 'keypoints' or the 17 body "
                         f"points there and the rest in {_SPLIT_FIELDS}.") from None


def current_record(record: Mapping[str, Any]) -> dict:
    """``record`` in today's format, whichever form it has (a resumed job keeps records earlier releases wrote)."""
    split = any(part.field in record for part in WHOLEBODY_PARTS[1:])
    count = NUM_WHOLEBODY if split else len(record.get("keypoints") or ()) // 3
    return result_record(record["image_id"], record_keypoints(record, count), record["score"])
