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
    est.add_argument("--threshold", type=float, default=0.3, help="keypoints below it are left out (DWPose: 0.3)")
    est.add_argument("--raw-scores", action="store_true", help="keep the model's scores instead of DWPose's 1.0")
    est.add_argument("--swap-hands", action="store_true", help="ComfyUI-native's convention: the person's left "
                     "hand in hand_right_keypoints_2d (default: by side, as DWPose)")
    est.add_argument("--overlay", action="store_true", help="draw the skeleton over the image instead of black")
    _add_draw_options(est)
    draw = sub.add_parser("draw", help="render a POSE_KEYPOINT JSON file (DWPose look)")
    draw.add_argument("pose", type=Path, help="POSE_KEYPOINT JSON: one frame (dict) or a list of frames")
    draw.add_argument("--out", required=True, type=Path, help="PNG path for one frame; a folder for a list")
    draw.add_argument("--overwrite", action="store_true", help="replace existing PNGs")
    _add_draw_options(draw)
    return parser


def _add_draw_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--resolution", type=int, default=None, help="short side of the drawn image, as "
                        "DWPreprocessor's resolution (default: the image's own size)")
    parser.add_argument("--hands", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--face", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--feet", action=argparse.BooleanOptionalAction, default=False,
                        help="foot keypoints (foot_keypoints_2d, as ComfyUI-native writes)")
    parser.add_argument("--xinsr", action="store_true", help="scale stick width as scale_stick_for_xinsr_cn")


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


def _free_stem(folder: Path, stem: str, suffixes: tuple[str, ...]) -> str:
    """``stem``, or ``stem-1``, ``stem-2``...: the first for which no ``stem + suffix`` file exists yet."""
    candidate, n = stem, 1
    while any((folder / f"{candidate}{s}").exists() for s in suffixes):
        candidate, n = f"{stem}-{n}", n + 1
    return candidate


def _write_atomic(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    write(tmp)
    os.replace(tmp, path)


def estimate_command(args: argparse.Namespace) -> int:
    import torch
    from tqdm.auto import tqdm

    from .checkpoint import cache_dir, load_model
    from .coco import coco_records, image_id_from_stem
    from PIL import Image

    from .images import find_images, load_image
    from .openpose import to_pose_keypoint
    from .pipeline import PoseEstimator
    from .render import render_frame

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
        pose = to_pose_keypoint(result.keypoints.numpy(), result.width, result.height, threshold=args.threshold,
                                hands=args.hands, face=args.face, feet=args.feet, raw_scores=args.raw_scores,
                                swap_hands=args.swap_hands)
        drawing = render_frame(pose, resolution=args.resolution, hands=args.hands, face=args.face, feet=args.feet,
                               xinsr=args.xinsr, image=load_image(path) if args.overlay else None)
        stem = _free_stem(args.out, path.stem, (".json", "_pose.png"))
        _write_atomic(args.out / f"{stem}.json", lambda tmp: tmp.write_text(json.dumps(pose)))
        _write_atomic(args.out / f"{stem}_pose.png", lambda tmp: Image.fromarray(drawing).save(tmp, format="PNG"))
        records += coco_records(image_id_from_stem(path.stem), result.keypoints, result.boxes, result.box_scores)
    if args.coco_json:
        args.coco_json.parent.mkdir(parents=True, exist_ok=True)
        _write_atomic(args.coco_json, lambda tmp: tmp.write_text(json.dumps(records)))
    print(f"Wrote poses for {len(images)} image(s) to {args.out}")
    return 0


def draw_command(args: argparse.Namespace) -> int:
    from .render import draw_command as render_file

    written = render_file(args.pose, args.out, resolution=args.resolution, hands=args.hands, face=args.face,
                          feet=args.feet, xinsr=args.xinsr, overwrite=args.overwrite)
    print(f"Wrote {len(written)} image(s): {written[0]}{' ...' if len(written) > 1 else ''}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "estimate":
            return estimate_command(args)
        if args.command == "draw":
            return draw_command(args)
    except SDPoseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: files already written are complete; nothing partial was left.", file=sys.stderr)
        return 130
    return 1
