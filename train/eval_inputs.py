"""``train.evaluate``'s input files, read and checked before anything is computed: each problem is one EvalError
that names the file, what is wrong in it and what to do, never a traceback or a silent AP of -1."""

from __future__ import annotations

import json
import math
import reprlib
from pathlib import Path
from typing import Any

from sdpose_core.engine.schemes import get_scheme
from sdpose_core.errors import InputError
from sdpose_core.formats.coco import record_keypoints
from sdpose_core.keypoints import NUM_BODY, NUM_WHOLEBODY, WHOLEBODY_PARTS

from .metrics import EvalError

_WHOLEBODY_FIELDS = ", ".join(part.field for part in WHOLEBODY_PARTS)


def _kind(value: Any) -> str:
    """How JSON would name ``value``'s type, for messages."""
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number" if isinstance(value, (int, float)) else type(value).__name__)


def _show(value: Any) -> str:
    """A short repr of ``value``, however long or deeply nested it is."""
    return reprlib.repr(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _finite(value: Any) -> bool:
    """A JSON number that is neither NaN, infinite, nor too large for a float (an integer of hundreds of digits)."""
    try:
        return _is_number(value) and math.isfinite(value)
    except OverflowError:
        return False


def read_json_file(path: Path, what: str) -> Any:
    """The JSON data in ``path``, ``what`` naming the file in messages (e.g. "--results file")."""
    if not path.exists():
        raise EvalError(f"{what} '{path}' does not exist; check the path.")
    if path.is_dir():
        raise EvalError(f"{what} '{path}' is a folder; give the JSON file itself.")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise EvalError(f"cannot read {what} '{path}' ({exc.strerror}); check its permissions.") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise EvalError(f"{what} '{path}' is not UTF-8 text (byte {exc.start}); save it as UTF-8 JSON.") from None
    try:
        return json.loads(text)
    except RecursionError:
        raise EvalError(f"{what} '{path}' is nested too deeply to be a COCO file; check that it is the right "
                        "file.") from None
    except ValueError as exc:
        raise EvalError(f"{what} '{path}' is not valid JSON ({exc}); check that it is complete.") from None


def _list_field(data: dict, key: str, path: Path) -> list:
    value = data.get(key)
    if not isinstance(value, list):
        found = "no" if key not in data else f"{_kind(value)} as"
        raise EvalError(f"--ann '{path}' has {found} \"{key}\" where a COCO annotation file has a list; pass the "
                        "dataset's keypoint annotation file (e.g. person_keypoints_val2017.json).")
    return value


def _is_id(value: Any) -> bool:
    """COCO ids are integers (strings pass too: a stem-named --coco-json file uses them)."""
    return isinstance(value, (int, str)) and not isinstance(value, bool)


def _check_image(img: Any, i: int, path: Path, files: bool) -> None:
    """Image entry ``i`` has an id and, when ``files`` (--model reads the images), a file name and a size."""
    if not isinstance(img, dict) or not _is_id(img.get("id")):
        raise EvalError(f"--ann '{path}': image entry {i} has no integer \"id\"; pass a COCO annotation file.")
    if files and not (isinstance(img.get("file_name"), str) and all(
            isinstance(img.get(k), int) and not isinstance(img[k], bool) and img[k] > 0 for k in ("width", "height"))):
        raise EvalError(f"--ann '{path}': image {_show(img['id'])} needs \"file_name\", \"width\" and \"height\" "
                        "to be posed with --model; pass the dataset's annotation file.")


def _check_annotation(ann: Any, i: int, scheme: str, path: Path, image_ids: set, categories: set) -> bool:
    """Whether annotation ``i`` has keypoints for ``scheme``; EvalError when it cannot be evaluated."""
    if not isinstance(ann, dict):
        raise EvalError(f"--ann '{path}': annotation {i} is {_kind(ann)}, not an object; pass a COCO keypoint "
                        "annotation file.")
    where = f"--ann '{path}': annotation {i} (id {_show(ann.get('id'))})"
    for key in ("id", "image_id"):
        if not _is_id(ann.get(key)):
            raise EvalError(f"{where} has {key} {_show(ann.get(key))}; every annotation needs an integer \"{key}\".")
    if ann["image_id"] not in image_ids:
        raise EvalError(f"{where} is on image {_show(ann['image_id'])}, which \"images\" does not list; the file is "
                        "incomplete or edited: use the dataset's own annotation file.")
    category = ann.get("category_id", 1)
    if not _is_id(category) or category not in categories:
        raise EvalError(f"{where} has category_id {_show(category)}, not one of the file's categories "
                        f"{sorted(categories, key=str)}.")
    if ann.get("iscrowd", 0) not in (0, 1) or isinstance(ann.get("iscrowd"), bool):
        raise EvalError(f"{where} has iscrowd {_show(ann.get('iscrowd'))}; it must be 0 or 1 (or absent).")
    box = ann.get("bbox")
    if not (isinstance(box, list) and len(box) == 4 and all(_finite(v) for v in box)):
        raise EvalError(f"{where} has bbox {_show(box)}; every person annotation needs a bbox [x, y, w, h] of four "
                        "finite numbers: fix or remove that annotation.")
    if "area" in ann and not _finite(ann["area"]):
        raise EvalError(f"{where} has area {_show(ann['area'])}; it must be a finite number (or absent).")
    try:
        from .data import flat_keypoints  # the parser training and the metric use

        return flat_keypoints(ann, get_scheme(scheme)) is not None
    except InputError as exc:
        raise EvalError(f"{where}: {exc} Fix the annotation, or choose the --scheme the file is for.") from None


def check_annotations(gt: Any, path: Path, scheme: str, files: bool = False) -> None:
    """A COCO(-WholeBody) keypoint annotation file usable for ``scheme``: images, boxes, keypoints that parse;
    ``files``: each image also has the file name and size --model needs."""
    if not isinstance(gt, dict):
        hint = " (a list like this is a results file: pass it as --results)" if isinstance(gt, list) else ""
        raise EvalError(f"--ann '{path}' holds {_kind(gt)}, not a COCO annotation file (an object with \"images\", "
                        f"\"annotations\" and \"categories\"){hint}; pass the dataset's keypoint annotation file.")
    images, annotations = _list_field(gt, "images", path), _list_field(gt, "annotations", path)
    for i, img in enumerate(images):
        _check_image(img, i, path, files)
    categories = gt.get("categories", [])
    if not (isinstance(categories, list) and all(isinstance(c, dict) and _is_id(c.get("id")) for c in categories)):
        raise EvalError(f"--ann '{path}': \"categories\" must be a list of objects with an \"id\".")
    image_ids, known = {img["id"] for img in images}, category_ids(gt)
    usable = sum(_check_annotation(ann, i, scheme, path, image_ids, known) for i, ann in enumerate(annotations))
    if not usable:
        need = f"all of {_WHOLEBODY_FIELDS}" if scheme == "wholebody" else "\"keypoints\""
        other = "body" if scheme == "wholebody" else "wholebody"
        raise EvalError(f"--ann '{path}' has no person annotation with {need}, so every AP would be -1; pass a "
                        f"keypoint annotation file for the {scheme} scheme (or --scheme {other} if that is what "
                        "it holds).")


def category_ids(gt: dict) -> set:
    """The annotation file's category ids (person only when it lists none, as the metric assumes)."""
    return {c["id"] for c in gt.get("categories") or [{"id": 1}]}


def check_results(results: Any, path: Path, gt: dict, scheme: str) -> None:
    """A COCO keypoint results list for ``gt`` and ``scheme``: objects with a known image, the person category,
    a finite score and finite keypoints in either record form (``sdpose_core.formats.coco``)."""
    if not isinstance(results, list):
        hint = " (it looks like an annotation file: pass it as --ann)" if isinstance(results, dict) and \
            "annotations" in results else ""
        raise EvalError(f"--results '{path}' holds {_kind(results)}, not a list of COCO keypoint results{hint}; "
                        "pass the file --results-out or --coco-json wrote.")
    if not results:
        raise EvalError(f"--results '{path}' holds no results (an empty list), so there is nothing to evaluate; "
                        "check that the run that wrote it found people.")
    image_ids = {img["id"] for img in gt["images"]}
    categories = category_ids(gt)
    num_keypoints = NUM_WHOLEBODY if scheme == "wholebody" else NUM_BODY
    for i, rec in enumerate(results):
        if not isinstance(rec, dict):
            raise EvalError(f"--results '{path}': result {i} is {_kind(rec)} ({_show(rec)}), not an object "
                            "{\"image_id\", \"category_id\", \"keypoints\", \"score\"}; pass a COCO keypoint "
                            "results file.")
        where = f"--results '{path}': result {i}"
        image_id = rec.get("image_id")
        if "image_id" not in rec:
            raise EvalError(f"{where} has no \"image_id\"; every result names the annotation file's image it is for.")
        if not _is_id(image_id) or image_id not in image_ids:
            raise EvalError(f"{where} has image_id {_show(image_id)}, which is not an image of --ann; are results "
                            "and annotations from the same split?")
        where += f" (image {_show(image_id)})"
        category = rec.get("category_id", 1)
        if not _is_id(category) or category not in categories:
            raise EvalError(f"{where} has category_id {_show(category)}; the annotation file's categories are "
                            f"{sorted(categories, key=str)}: keypoint results are for the person category.")
        score = rec.get("score")
        if not _finite(score):
            raise EvalError(f"{where} has score {_show(score)}; every result needs a finite number as its score.")
        try:
            record_keypoints(rec, num_keypoints)
        except InputError as exc:
            raise EvalError(f"{where}: {exc} Fix or drop that result (--scheme {scheme} expects {num_keypoints} "
                            "points per person).") from None


def check_detections(dets: Any, path: Path, image_ids: set) -> None:
    """A COCO detection results list: objects with a known image_id, a bbox of four finite numbers, a finite score."""
    if not isinstance(dets, list):
        raise EvalError(f"--boxes '{path}' holds {_kind(dets)}, not a COCO detection results list [{{\"image_id\", "
                        "\"category_id\", \"bbox\", \"score\"}, ...]; pass the detector's results file.")
    for i, det in enumerate(dets):
        where = f"--boxes '{path}': detection {i}"
        if not isinstance(det, dict):
            raise EvalError(f"{where} is {_kind(det)}, not an object {{\"image_id\", \"bbox\", \"score\"}}.")
        image_id = det.get("image_id")
        if not _is_id(image_id) or image_id not in image_ids:
            raise EvalError(f"{where} has image_id {_show(image_id)}, which is not an image of --ann; are "
                            "detections and annotations from the same split?")
        box = det.get("bbox")
        if not (isinstance(box, list) and len(box) >= 4 and all(_finite(v) for v in box[:4])):
            raise EvalError(f"{where} has bbox {_show(box)}; it needs [x, y, w, h] as finite numbers.")
        score = det.get("score", 1.0)
        if not _finite(score):
            raise EvalError(f"{where} has score {_show(score)}; it must be a finite number (or absent).")
