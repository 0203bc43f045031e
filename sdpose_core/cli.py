"""Command line: ``python -m sdpose_core estimate INPUT... --model PATH_OR_HUB_ID --out DIR``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Sequence

from .errors import InputError, SDPoseError


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WxH such as 768x1024, got '{text}'") from None
    return w, h


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sdpose_core", description="SDPose human pose estimation.")
    sub = parser.add_subparsers(dest="command", required=True)
    est = sub.add_parser("estimate", help="estimate poses in images (files or folders)")
    est.add_argument("inputs", nargs="+", help="image files and/or folders of images")
    est.add_argument("--model", required=True, help="SDPose folder, ComfyUI .safetensors file, or hub id "
                     "(teemosliang/SDPose-Body, teemosliang/SDPose-Wholebody)")
    est.add_argument("--scheme", choices=["body", "wholebody"], help="checked against the checkpoint")
    est.add_argument("--out", required=True, type=Path, help="output folder (created; existing files are kept)")
    est.add_argument("--boxes", type=Path, help="JSON mapping an input file name to a list of [x, y, w, h]")
    est.add_argument("--detector", default="yolox", help="'yolox' (yolox_l.onnx, downloaded on first use), "
                     "a path to a YOLOX .onnx file, or 'none' for whole-image boxes")
    est.add_argument("--flip", action=argparse.BooleanOptionalAction, default=True,
                     help="flip test, as in the paper's evaluation (default on; doubles the cost)")
    est.add_argument("--input-size", type=_size, default=(768, 1024), metavar="WxH", help="crop size (default 768x1024)")
    est.add_argument("--crop-mode", choices=["topdown", "stretch"], default="topdown")
    est.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda when available)")
    est.add_argument("--dtype", choices=["fp32", "fp16", "bf16"], default="fp32")
    est.add_argument("--batch-size", type=int, default=8, help="crops per model call")
    est.add_argument("--sample-latent", action="store_true", help="sample the VAE posterior as the official "
                     "code does (default: its mean, deterministic)")
    est.add_argument("--seed", type=int, default=None, help="seed for --sample-latent")
    est.add_argument("--coco-json", type=Path, help="also write all detections as one COCO keypoint results file")
    est.add_argument("--cache-dir", type=Path, default=None, help="downloads and cached text context "
                     "(default $SDPOSE_CACHE or ~/.cache/sdpose)")
    return parser


def _load_boxes(path: Path | None) -> dict[str, list]:
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"Cannot read boxes file '{path}' ({exc}).") from exc
    if not isinstance(data, dict):
        raise InputError(f"Boxes file '{path}' must map an image file name to a list of [x, y, w, h].")
    return data


def _boxes_for(image: Path, table: dict[str, list]) -> list | None:
    for key in (str(image), image.name, image.stem):
        if key in table:
            return table[key]
    return None


def _make_detector(choice: str, cache: Path):
    from .pipeline import numpy_detector

    if choice == "none":
        return None
    from .detect import YoloxDetector, resolve_detector_path

    path = None if choice == "yolox" else Path(choice)
    return numpy_detector(YoloxDetector(resolve_detector_path(path, cache / "models")))


def _write_json(path: Path, data) -> None:
    """Write JSON next to, never over, existing files: a taken name gets a numbered suffix."""
    target, n = path, 1
    while target.exists():
        target = path.with_name(f"{path.stem}-{n}{path.suffix}")
        n += 1
    tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, target)


def estimate_command(args: argparse.Namespace) -> int:
    import torch
    from tqdm.auto import tqdm

    from .checkpoint import cache_dir, load_model
    from .coco import coco_records, image_id_from_stem
    from .images import find_images, load_image
    from .pipeline import PoseEstimator

    images = find_images(args.inputs)
    if not images:
        raise InputError(f"No image files found in: {', '.join(map(str, args.inputs))}.")
    table = _load_boxes(args.boxes)
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    cache = cache_dir(args.cache_dir)
    model = load_model(args.model, args.scheme, dtype=args.dtype, device=device, cache=cache)
    detector = None if args.boxes else _make_detector(args.detector, cache)
    estimator = PoseEstimator(model, input_size=args.input_size, flip=args.flip, crop_mode=args.crop_mode,
                              batch_size=args.batch_size, sample_latent=args.sample_latent, seed=args.seed,
                              detector=detector)
    args.out.mkdir(parents=True, exist_ok=True)
    boxes = [_boxes_for(p, table) if args.boxes else None for p in images]
    if args.boxes:
        boxes = [b if b is not None else [] for b in boxes]
    records: list[dict] = []
    results = estimator((load_image(p) for p in images), boxes, ({"path": p} for p in images))
    for result in tqdm(results, total=len(images), desc="SDPose", unit="img", disable=len(images) < 2):
        path: Path = result.meta["path"]
        people = [{"bbox": box.tolist(), "bbox_score": float(s), "keypoints": kp.tolist()}
                  for kp, box, s in zip(result.keypoints, result.boxes, result.box_scores)]
        _write_json(args.out / f"{path.stem}.json", {"image": path.name, "width": result.width,
                                                      "height": result.height, "scheme": model.scheme.name,
                                                      "people": people})
        records += coco_records(image_id_from_stem(path.stem), result.keypoints, result.boxes, result.box_scores)
    if args.coco_json:
        args.coco_json.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.coco_json.with_name(f".{args.coco_json.name}.tmp{os.getpid()}")
        tmp.write_text(json.dumps(records))
        os.replace(tmp, args.coco_json)
    print(f"Wrote poses for {len(images)} image(s) to {args.out}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "estimate":
            return estimate_command(args)
    except SDPoseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: files already written are complete; nothing partial was left.", file=sys.stderr)
        return 130
    return 1
