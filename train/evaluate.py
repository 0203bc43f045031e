"""COCO-style keypoint evaluation.

    python -m train.evaluate --ann ANN.json --scheme body|wholebody \\
        (--results RESULTS.json | --model CKPT --images DIR [--boxes DETECTIONS.json] [--flip] [--input-size WxH]) \\
        [--metrics-out METRICS.json]

``--results`` evaluates a COCO keypoint results file as it is. ``--model`` runs an SDPose checkpoint
(anything ``sdpose_core.load_model`` reads) top-down over person boxes: the detection file's person
boxes (COCO detection results format; no score threshold, as mmpose) or, without ``--boxes``, the valid
ground-truth boxes; then rescoring (box score x mean keypoint score above 0.2) and OKS-NMS (0.9) as
mmpose's CocoMetric, writing the results with ``--results-out``. Under ``accelerate launch`` the crops are
split across processes in fixed batches, so every crop goes through the model in exactly the batch a
single process would use: multi-process results equal single-process results.

The same command serves COCO val2017, COCO-OOD (COCO's annotations with the stylized images folder as
``--images``) and HumanArt (its annotation file; ``--images`` is the folder its ``file_name`` paths are
relative to).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from sdpose_core.atomic import write_json
from sdpose_core.cli.options import add_estimator_options, estimator_options
from sdpose_core.engine.options import EstimatorOptions
from sdpose_core.errors import SDPoseError

from .eval_inputs import check_annotations, check_detections, check_results, read_json_file
from .metrics import OKS_NMS_THRESHOLD, EvalError, evaluate_results, format_table, rescore_and_nms

# The estimator's flags here, and evaluation's own defaults: no flip test unless asked, larger batches, seeded.
EVAL_FIELDS = ("flip", "input_size", "batch_size", "dtype", "sample_latent", "seed")
EVAL_DEFAULTS = EstimatorOptions(flip=False, batch_size=16, seed=0)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m train.evaluate", description="COCO keypoint AP/AR (pycocotools).")
    p.add_argument("--ann", required=True, type=Path, help="COCO(-WholeBody) keypoint annotation file")
    p.add_argument("--scheme", required=True, choices=["body", "wholebody"])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--results", type=Path, help="COCO keypoint results file to evaluate as it is")
    src.add_argument("--model", help="SDPose checkpoint: release folder, ComfyUI file or hub id")
    p.add_argument("--images", type=Path, help="image folder (with --model)")
    p.add_argument("--boxes", type=Path, help="person detections (COCO detection results); default: GT boxes")
    p.add_argument("--box-thr", type=float, default=0.0, help="drop detections scoring below this (default 0: none)")
    add_estimator_options(p, EVAL_FIELDS, EVAL_DEFAULTS, flip_help="flip test (the paper's protocol)")
    p.add_argument("--device", default=None, help="default: the process's accelerator device (cuda when present)")
    p.add_argument("--nms-thr", type=float, default=OKS_NMS_THRESHOLD, help="OKS-NMS threshold (mmpose: 0.9)")
    p.add_argument("--cache-dir", type=Path, default=None, help="sdpose_core cache (context, downloads)")
    p.add_argument("--results-out", type=Path, help="write the model's results (COCO keypoint results format)")
    p.add_argument("--metrics-out", type=Path, help="write the metrics as JSON")
    return p


# ------------------------------------------------------------------------------------------------ inputs

def person_boxes(gt: dict, scheme: str, boxes_file: Path | None, box_thr: float) -> list[dict]:
    """Instances to pose, in annotation image order: {id, image_id, file_name, box (xywh), score}."""
    from .data import is_valid, parse_instances

    images = {img["id"]: img for img in gt.get("images", [])}
    order = {img_id: i for i, img_id in enumerate(images)}
    out: list[dict] = []
    if boxes_file is None:
        for inst in parse_instances(gt, scheme):
            if is_valid(inst):
                x1, y1, x2, y2 = inst.box_xyxy
                out.append({"id": inst.id, "image_id": inst.image_id, "file_name": inst.file_name,
                            "box": [x1, y1, x2 - x1, y2 - y1], "score": 1.0})
    else:
        dets = read_json_file(boxes_file, "--boxes file")
        check_detections(dets, boxes_file, set(images))
        for i, det in enumerate(dets):
            if det.get("category_id", 1) != 1 or float(det.get("score", 1.0)) < box_thr:
                continue
            x, y, w, h = (float(v) for v in det["bbox"][:4])
            if w <= 0 or h <= 0:
                continue
            out.append({"id": i, "image_id": det["image_id"], "file_name": images[det["image_id"]]["file_name"],
                        "box": [x, y, w, h], "score": float(det.get("score", 1.0))})
    out.sort(key=lambda d: (order[d["image_id"]], d["id"]))
    return out


def shard_feed(instances: list[dict], batch_size: int, rank: int, world: int) -> list[tuple[str, object, list[dict]]]:
    """This process's (file_name, image_id, instances) items: global batches of ``batch_size`` crops in
    order, batch j to process j % world. Each batch starts on a fresh model call in the estimator, so the
    batches are the same whatever the number of processes."""
    feed: list[tuple[str, object, list[dict]]] = []
    for j in range(rank, (len(instances) + batch_size - 1) // batch_size, world):
        start = len(feed)
        for inst in instances[j * batch_size:(j + 1) * batch_size]:
            if len(feed) > start and feed[-1][1] == inst["image_id"]:
                feed[-1][2].append(inst)
            else:
                feed.append((inst["file_name"], inst["image_id"], [inst]))
    return feed


def _prefetch(paths: Sequence[Path], workers: int = 4) -> Iterator[np.ndarray]:
    from concurrent.futures import ThreadPoolExecutor

    from sdpose_core.images import load_image

    with ThreadPoolExecutor(workers) as pool:
        futures = [pool.submit(load_image, p) for p in paths[:2 * workers]]
        for i in range(len(paths)):
            if i + 2 * workers < len(paths):
                futures.append(pool.submit(load_image, paths[i + 2 * workers]))
            yield futures[i].result()
            futures[i] = None


def run_model(args: argparse.Namespace, gt: dict, accelerator, model=None) -> list[dict]:
    """Pose this process's share of the boxes with ``model`` (an ``SDPoseModel``; default: ``args.model`` loaded);
    returns per-instance predictions (all processes gathered)."""
    import torch
    from accelerate.utils import gather_object
    from tqdm.auto import tqdm

    from sdpose_core.engine.crop import crop_center_scale
    from sdpose_core.engine.pipeline import PoseEstimator
    from sdpose_core.weights.checkpoint import load_model

    if args.images is None:
        raise EvalError("--model needs --images (the folder the annotation's file_name entries are in).")
    options = estimator_options(args)
    instances = person_boxes(gt, args.scheme, args.boxes, args.box_thr)
    if model is None:
        device = torch.device(args.device) if args.device else accelerator.device
        model = load_model(args.model, args.scheme, dtype=options.dtype, device=device, cache=args.cache_dir)
    estimator = PoseEstimator.from_options(model, options.replace(seed=options.seed + accelerator.process_index))
    feed = shard_feed(instances, args.batch_size, accelerator.process_index, accelerator.num_processes)
    paths = [args.images / name for name, _, _ in feed]
    boxes = [[i["box"] for i in items] for _, _, items in feed]
    predictions: list[dict] = []
    bar = tqdm(total=sum(len(b) for b in boxes), desc="SDPose eval", unit="crop",
               disable=not accelerator.is_local_main_process, dynamic_ncols=True)
    for result in estimator(_prefetch(paths), boxes):  # one result per image, in order (info.index)
        items = feed[result.info.index][2]
        _, scale = crop_center_scale(torch.tensor([i["box"] for i in items], dtype=torch.float64), args.input_size)
        for inst, kp, area in zip(items, result.keypoints, scale.prod(dim=1)):
            predictions.append({"id": inst["id"], "image_id": inst["image_id"], "box_score": inst["score"],
                                "keypoints": kp.double().numpy().tolist(), "area": float(area)})
        bar.update(len(items))
    bar.close()
    return gather_object(predictions)


# -------------------------------------------------------------------------------------------------- main

def _write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, data)  # refuses NaN, which --results could not read back


def evaluate(args: argparse.Namespace, model=None) -> dict | None:
    """Run the evaluation; the metrics dict on the main process, None on the others. ``model``: an
    ``SDPoseModel`` already in memory to run instead of loading ``args.model`` (validation during training)."""
    from accelerate import PartialState

    state = PartialState()
    gt = read_json_file(args.ann, "--ann annotation file")
    check_annotations(gt, args.ann, args.scheme, files=args.results is None)
    if args.results is not None:
        if not state.is_main_process:
            return None
        results = read_json_file(args.results, "--results file")
        check_results(results, args.results, gt, args.scheme)
    else:
        predictions = run_model(args, gt, state, model)
        if not state.is_main_process:
            return None
        results = rescore_and_nms(predictions, args.scheme, args.nms_thr)
        if args.results_out:
            _write_json(args.results_out, results)
    metrics = evaluate_results(gt, results, args.scheme)
    primary = "body" if args.scheme == "body" else "whole"
    report = {"scheme": args.scheme, "ann": str(args.ann), "num_results": len(results), **metrics[primary],
              "parts": metrics}
    if args.model is not None:
        report.update(model=str(args.model), flip=args.flip, input_size=list(args.input_size),
                      boxes=str(args.boxes) if args.boxes else "ground truth")
    if args.metrics_out:
        _write_json(args.metrics_out, report)
    return report


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        report = evaluate(args)
    except (ValueError, SDPoseError) as exc:  # EvalError is a ValueError
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if report is not None:
        print(format_table(report["parts"]))
        print(json.dumps({k: v for k, v in report.items() if k != "parts"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
