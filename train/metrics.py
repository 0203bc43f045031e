"""COCO keypoint AP/AR with pycocotools, for COCO-17 and COCO-WholeBody-133 (per part), plus OKS-NMS.

WholeBody follows the COCO-WholeBody protocol (its official evaluation scripts and xtcocotools, as used
by mmpose's ``CocoWholeBodyMetric``), reproduced with pycocotools' ``COCOeval`` on per-part copies of
the ground truth and results:

* each part (body, foot, face, lefthand, righthand, and whole = all 133) is evaluated with its own
  keypoints and its own sigmas;
* a ground-truth person is ignored for a part when none of that part's keypoints is labelled
  (``v > 0``), and a result is dropped for a part when all of that part's scores are 0;
* a result's area (used for the area ranges) is the extent of its body keypoints, as the protocol's
  ``loadRes`` computes it from the ``keypoints`` field;
* "hand" is the mean of the left- and right-hand figures (how the dataset's authors report hand AP).
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence

import numpy as np

from sdpose_core.engine.schemes import get_scheme
from sdpose_core.formats.coco import record_keypoints, rescore, result_record
from sdpose_core.keypoints import BODY, NUM_WHOLEBODY, RESCORE_THRESHOLD, WHOLEBODY_PARTS, WHOLEBODY_SIGMAS

STAT_NAMES = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")
OKS_NMS_THRESHOLD = 0.9
WHOLEBODY_REPORT = ("body", "foot", "face", "lefthand", "righthand", "hand", "whole")


class EvalError(ValueError):
    """Results or annotations that cannot be evaluated."""


def sigmas_for(scheme: str) -> np.ndarray:
    return np.asarray(BODY.sigmas if scheme == "body" else WHOLEBODY_SIGMAS, dtype=np.float64)


# ------------------------------------------------------------------------------------------------ OKS-NMS

def oks_overlaps(ref: np.ndarray, others: np.ndarray, ref_area: float, other_areas: np.ndarray,
                 sigmas: np.ndarray) -> np.ndarray:
    """OKS of one prediction (K, 3) against others (N, K, 3), areas averaged, all keypoints counted."""
    variances = (2.0 * sigmas) ** 2
    d2 = ((others[..., :2] - ref[None, :, :2]) ** 2).sum(-1)
    e = d2 / variances[None] / ((ref_area + other_areas)[:, None] / 2.0 + np.spacing(1)) / 2.0
    return np.exp(-e).mean(axis=1)


def oks_nms(keypoints: np.ndarray, scores: np.ndarray, areas: np.ndarray, sigmas: np.ndarray,
            threshold: float = OKS_NMS_THRESHOLD) -> list[int]:
    """Indices kept by greedy OKS-NMS (highest score first; drop others with OKS > ``threshold``), as mmpose."""
    order = list(np.argsort(-np.asarray(scores), kind="stable"))
    keep: list[int] = []
    while order:
        i = order.pop(0)
        keep.append(int(i))
        if not order:
            break
        rest = np.asarray(order)
        ovr = oks_overlaps(keypoints[i], keypoints[rest], float(areas[i]), areas[rest], sigmas)
        order = [int(j) for j, o in zip(rest, ovr) if o <= threshold]
    return keep


def rescore_and_nms(instances: Sequence[dict], scheme: str, nms_threshold: float | None = OKS_NMS_THRESHOLD,
                    keypoint_threshold: float = RESCORE_THRESHOLD) -> list[dict]:
    """Per image: score = box score x mean keypoint score above the threshold, then OKS-NMS (mmpose CocoMetric).

    ``instances``: dicts with image_id, keypoints (K, 3) array, box_score, area, id. Duplicated ids (from
    padded distributed shards) are dropped. Returns COCO result records.
    """
    import torch

    sigmas = sigmas_for(scheme)
    seen: set = set()
    per_image: dict = {}
    for inst in instances:
        if inst["id"] in seen:
            continue
        seen.add(inst["id"])
        per_image.setdefault(inst["image_id"], []).append(inst)
    out: list[dict] = []
    for image_id, items in per_image.items():
        items = sorted(items, key=lambda x: x["id"])
        kps = np.stack([np.asarray(x["keypoints"], dtype=np.float64) for x in items])
        scores = np.array([rescore(float(x["box_score"]), torch.as_tensor(kps[i, :, 2]), keypoint_threshold)
                           for i, x in enumerate(items)])
        areas = np.array([float(x["area"]) for x in items])
        keep = range(len(items)) if nms_threshold is None else oks_nms(kps, scores, areas, sigmas, nms_threshold)
        out += [result_record(image_id, kps[i], scores[i]) for i in keep]
    return out


# ------------------------------------------------------------------------------------------------ COCOeval

def _quiet(fn, *args):
    with contextlib.redirect_stdout(io.StringIO()):
        return fn(*args)


def _gt_for_part(gt: dict, lo: int, hi: int, scheme: str) -> dict:
    """A copy of the ground truth whose ``keypoints`` are the part's and ``num_keypoints`` its labelled count."""
    from .data import flat_keypoints

    sch = get_scheme(scheme)
    anns = []
    for ann in gt.get("annotations", []):
        kp = flat_keypoints(ann, sch)
        if kp is None or "bbox" not in ann:
            continue
        part = kp[lo:hi]
        a = {key: ann[key] for key in ("id", "image_id", "category_id", "bbox", "iscrowd", "area") if key in ann}
        a.setdefault("iscrowd", 0)
        a.setdefault("category_id", 1)
        if "area" not in a:  # xtcocotools' fallback for annotations without an area
            a["area"] = float(ann["bbox"][2]) * float(ann["bbox"][3]) * 0.53
        a["keypoints"] = [float(v) for v in part.reshape(-1)]
        a["num_keypoints"] = int(np.count_nonzero(part[:, 2] > 0))
        anns.append(a)
    cats = gt.get("categories") or [{"id": 1, "name": "person"}]
    return {"images": gt.get("images", []), "annotations": anns, "categories": cats}


def _results_for_part(results: Sequence[dict], flats: Sequence[np.ndarray], lo: int, hi: int) -> list[dict]:
    out = []
    for i, (rec, kp) in enumerate(zip(results, flats)):
        part = kp[lo:hi]
        if not np.count_nonzero(part[:, 2] > 0):
            continue  # the protocol drops results with no positive score on the part
        body = kp[BODY.points]
        x0, x1, y0, y1 = body[:, 0].min(), body[:, 0].max(), body[:, 1].min(), body[:, 1].max()
        out.append({"id": i + 1, "image_id": rec["image_id"], "category_id": rec.get("category_id", 1),
                    "score": float(rec["score"]), "keypoints": [float(v) for v in part.reshape(-1)],
                    "area": float((x1 - x0) * (y1 - y0)),
                    "bbox": [float(x0), float(y0), float(x1 - x0), float(y1 - y0)]})
    return out


def _coco(dataset: dict):
    from pycocotools.coco import COCO

    coco = COCO()
    coco.dataset = dataset
    _quiet(coco.createIndex)
    return coco


def evaluate_part(gt: dict, results: Sequence[dict], flats: Sequence[np.ndarray], lo: int, hi: int,
                  sigmas: Sequence[float], scheme: str) -> dict[str, float]:
    """pycocotools keypoint stats for keypoints ``lo:hi`` with ``sigmas``."""
    from pycocotools.cocoeval import COCOeval

    gt_coco = _coco(_gt_for_part(gt, lo, hi, scheme))
    dts = _results_for_part(results, flats, lo, hi)
    dt_coco = _coco({"images": gt.get("images", []), "annotations": dts,
                     "categories": gt_coco.dataset["categories"]})
    ev = COCOeval(gt_coco, dt_coco, "keypoints")
    ev.params.kpt_oks_sigmas = np.asarray(sigmas, dtype=np.float64)
    _quiet(ev.evaluate)
    _quiet(ev.accumulate)
    _quiet(ev.summarize)
    return {name: float(v) for name, v in zip(STAT_NAMES, ev.stats)}


def evaluate_results(gt: dict, results: Sequence[dict], scheme: str) -> dict[str, dict[str, float]]:
    """{part: {AP, AP50, ...}}: {"body"} for body; body/foot/face/lefthand/righthand/hand/whole for wholebody."""
    image_ids = {img["id"] for img in gt.get("images", [])}
    unknown = {r.get("image_id") for r in results} - image_ids
    if unknown:
        raise EvalError(f"{len(unknown)} result image ids are not in the annotation file "
                        f"(e.g. {sorted(map(str, unknown))[:3]}); are results and annotations from the same split?")
    flats = [record_keypoints(r, get_scheme(scheme).num_keypoints) for r in results]
    if scheme == "body":
        return {"body": evaluate_part(gt, results, flats, BODY.start, BODY.stop, BODY.sigmas, scheme)}
    out = {p.name: evaluate_part(gt, results, flats, p.start, p.stop, p.sigmas, scheme) for p in WHOLEBODY_PARTS}
    out["hand"] = {k: (out["lefthand"][k] + out["righthand"][k]) / 2.0 for k in STAT_NAMES}
    out["whole"] = evaluate_part(gt, results, flats, 0, NUM_WHOLEBODY, WHOLEBODY_SIGMAS, scheme)
    return {name: out[name] for name in WHOLEBODY_REPORT}


def format_table(metrics: dict[str, dict[str, float]]) -> str:
    lines = ["part       " + " ".join(f"{n:>6}" for n in STAT_NAMES)]
    for part, stats in metrics.items():
        lines.append(f"{part:<10} " + " ".join(f"{stats[n]:6.3f}" for n in STAT_NAMES))
    return "\n".join(lines)

