"""Command line: ``python -m sdpose_core estimate INPUT... --model PATH_OR_HUB_ID --out DIR``.

INPUT: image files, video files, and folders of either. Under ``accelerate launch`` (or torchrun) the inputs are
shared out across the processes, input i to process i % count, each on its own device.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Sequence

from . import retarget_cli
from .errors import InputError, SDPoseError


def parse_size(text: str) -> tuple[int, int]:
    """'768x1024' -> (768, 1024), for argparse (``type=parse_size``)."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WxH such as 768x1024, got '{text}'") from None
    return w, h


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sdpose_core", description="SDPose human pose estimation.")
    sub = parser.add_subparsers(dest="command", required=True)
    est = sub.add_parser("estimate", help="estimate poses in images and videos (files or folders)")
    est.add_argument("inputs", nargs="+", help="image and video files and/or folders of them")
    est.add_argument("--model", required=True, help="SDPose folder, ComfyUI .safetensors file, or hub id "
                     "(teemosliang/SDPose-Body, teemosliang/SDPose-Wholebody)")
    est.add_argument("--scheme", choices=["body", "wholebody"], help="checked against the checkpoint")
    est.add_argument("--out", required=True, type=Path, help="output folder (created; existing files are kept)")
    est.add_argument("--boxes", type=Path, help="JSON mapping an input file name to a list of [x, y, w, h] "
                     "(for a video: a list per frame of such lists)")
    est.add_argument("--detector", default="yolox", help="'yolox' (yolox_l.onnx, downloaded on first use), "
                     "a path to a YOLOX .onnx file, or 'none' for whole-image boxes")
    est.add_argument("--flip", action=argparse.BooleanOptionalAction, default=True,
                     help="flip test, as in the paper's evaluation (default on; doubles the cost)")
    est.add_argument("--input-size", type=parse_size, default=(768, 1024), metavar="WxH",
                     help="crop size (default 768x1024)")
    est.add_argument("--crop-mode", choices=["topdown", "stretch"], default="topdown")
    est.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda when available)")
    est.add_argument("--dtype", choices=["fp32", "fp16", "bf16"], default="fp32")
    est.add_argument("--batch-size", type=int, default=8, help="crops per model call")
    est.add_argument("--sample-latent", action="store_true", help="sample the VAE posterior as the official "
                     "code does (default: its mean, deterministic)")
    est.add_argument("--seed", type=int, default=None, help="seed for --sample-latent")
    est.add_argument("--coco-json", type=Path, help="also write all detections in images as one COCO keypoint "
                     "results file")
    est.add_argument("--cache-dir", type=Path, default=None, help="downloads and cached text context "
                     "(default $SDPOSE_CACHE or ~/.cache/sdpose)")
    est.add_argument("--threshold", type=float, default=0.3, help="keypoints below it are left out (DWPose: 0.3)")
    est.add_argument("--raw-scores", action="store_true", help="keep the model's scores instead of DWPose's 1.0")
    est.add_argument("--swap-hands", action="store_true", help="ComfyUI-native's convention: the person's left "
                     "hand in hand_right_keypoints_2d (default: by side, as DWPose)")
    est.add_argument("--overlay", action="store_true", help="draw the skeleton over the image instead of black")
    _add_draw_options(est)
    video = est.add_argument_group("video", "for video inputs: DIR/<stem>.json (POSE_KEYPOINT, one dict per frame) "
                                   "and DIR/<stem>_pose.mp4 (same frame rate and frame count)")
    video.add_argument("--track", action=argparse.BooleanOptionalAction, default=True,
                       help="keep each person's place and id (person_id) across frames (default on)")
    video.add_argument("--smooth", action="store_true", help="One-Euro smoothing of keypoints over time "
                       "(default off: every frame exactly as the model gives it); implies --track")
    video.add_argument("--smooth-min-cutoff", type=float, default=1.0, metavar="HZ",
                       help="One-Euro cut-off at rest: lower = smoother, more lag (default 1.0)")
    video.add_argument("--smooth-beta", type=float, default=10.0, help="One-Euro speed coefficient, per person "
                       "height per second: higher = less lag in fast motion, less smoothing (default 10)")
    video.add_argument("--detect-every", type=int, default=1, metavar="N", help="run the person detector on "
                       "every Nth frame only; boxes follow each person's keypoints in between (default 1)")
    video.add_argument("--frames", action="store_true", help="also write the pose frames as PNGs in "
                       "DIR/<stem>_frames/")
    video.add_argument("--crf", type=int, default=18, help="H.264 quality of the pose video (lower = better)")
    video.add_argument("--face-crops", action="store_true", help="also write DIR/<stem>_face.mp4: 512x512 crops "
                       "of the first person's face, steadied over time (Wan-Animate's face video)")
    draw = sub.add_parser("draw", help="render a POSE_KEYPOINT JSON file (DWPose look)")
    draw.add_argument("pose", type=Path, help="POSE_KEYPOINT JSON: one frame (dict) or a list of frames")
    draw.add_argument("--out", required=True, type=Path, help="PNG path for one frame; a folder for a list")
    draw.add_argument("--overwrite", action="store_true", help="replace existing PNGs")
    _add_draw_options(draw)
    retarget_cli.add_parser(sub)
    return parser


def _add_draw_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--resolution", type=int, default=None, help="short side of the drawn image, as "
                        "DWPreprocessor's resolution (default: the image's own size)")
    parser.add_argument("--hands", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--face", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--feet", action=argparse.BooleanOptionalAction, default=False,
                        help="foot keypoints (foot_keypoints_2d, as ComfyUI-native writes)")
    parser.add_argument("--xinsr", action="store_true", help="scale stick width as scale_stick_for_xinsr_cn")
    style = parser.add_argument_group("drawing controls", "defaults keep DWPose's exact pixels")
    style.add_argument("--stick-width", type=int, default=4, help="limb half-width in pixels (default 4)")
    style.add_argument("--point-size", type=int, default=4, help="joint, foot and hand dot radius (default 4)")
    style.add_argument("--face-point-size", type=int, default=3, help="face dot radius (default 3)")
    style.add_argument("--head", action=argparse.BooleanOptionalAction, default=True,
                       help="draw the nose, eyes and ears and their limbs (default on)")
    style.add_argument("--scale-strokes", action="store_true", help="sizes are for a 512 px short side and scale "
                       "with the image, so strokes keep their proportion at any resolution")


def draw_style(args: argparse.Namespace) -> dict:
    """The drawing controls of ``_add_draw_options`` as ``render`` keywords."""
    return dict(stick_width=args.stick_width, point_size=args.point_size, face_point_size=args.face_point_size,
                head=args.head, scale_strokes=args.scale_strokes)


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


IMAGE_OUTPUTS = (".json", "_pose.png")
VIDEO_OUTPUTS = (".json", "_pose.mp4", "_frames", "_face.mp4")


def _find_inputs(inputs: list[str]) -> list[tuple[Path, bool]]:
    """(path, is_video) for every image and video among ``inputs`` (folders searched non-recursively, sorted)."""
    from .images import IMAGE_SUFFIXES
    from .video import is_video

    found: list[tuple[Path, bool]] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found += [(q, is_video(q)) for q in sorted(p.iterdir())
                      if q.is_file() and (q.suffix.lower() in IMAGE_SUFFIXES or is_video(q))]
        elif p.is_file():
            found.append((p, is_video(p)))
        else:
            raise InputError(f"Input not found: '{p}' is neither an image or video file nor a folder.")
    return found


def _plan_stems(folder: Path, items: list[tuple[Path, bool]]) -> list[str]:
    """Output stems for all inputs, in order: the file stem, numbered when its outputs exist or are planned."""
    planned: set[str] = set()
    stems = []
    for path, video in items:
        suffixes = VIDEO_OUTPUTS if video else IMAGE_OUTPUTS
        candidate, n = path.stem, 1
        while any((folder / f"{candidate}{s}").exists() or f"{candidate}{s}" in planned for s in suffixes):
            candidate, n = f"{path.stem}-{n}", n + 1
        planned.update(f"{candidate}{s}" for s in suffixes)
        stems.append(candidate)
    return stems


class _TorchGroup:
    """The one thing used from accelerate's PartialState, over a plain torch.distributed (gloo) group."""

    def __init__(self):
        import torch.distributed as dist

        if not dist.is_initialized():
            dist.init_process_group("gloo")
        self.device = None

    def wait_for_everyone(self) -> None:
        import torch.distributed as dist

        dist.barrier()


def _process_group():
    """(index, count, state or None) of this process among those launched together.

    One process unless launched by ``accelerate launch`` / torchrun with several. ``state`` offers
    ``wait_for_everyone()`` (and ``device``): accelerate's PartialState when accelerate is installed, else a
    torch.distributed gloo group from the launcher's environment; None when no group can be formed.
    """
    try:
        world = int(os.environ.get("WORLD_SIZE", "1") or "1")
        rank = int(os.environ.get("RANK", "0") or "0")
    except ValueError:
        return 0, 1, None
    if world <= 1:
        return 0, 1, None
    import torch

    try:
        from accelerate import PartialState
    except ImportError:
        PartialState = None
    if PartialState is not None:
        state = PartialState(cpu=not torch.cuda.is_available())  # without cpu=True it ignores CPU process groups
        if state.num_processes == world:
            return state.process_index, state.num_processes, state
    if os.environ.get("MASTER_ADDR") and os.environ.get("MASTER_PORT"):
        return rank, world, _TorchGroup()
    return rank, world, None


def _default_device(state) -> str:
    import torch

    if state is not None and state.device is not None:
        return str(state.device)
    if torch.cuda.is_available():
        local = os.environ.get("LOCAL_RANK")
        return f"cuda:{int(local) % torch.cuda.device_count()}" if local and local.isdigit() else "cuda"
    return "cpu"


def _write_atomic(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    write(tmp)
    os.replace(tmp, path)


def estimate_command(args: argparse.Namespace) -> int:
    import itertools

    from tqdm.auto import tqdm

    from .checkpoint import cache_dir, load_model
    from .coco import coco_records, image_id_from_stem
    from PIL import Image

    from .images import load_image
    from .openpose import to_pose_keypoint
    from .pipeline import PoseEstimator
    from .render import render_frame

    items = _find_inputs(args.inputs)
    if not items:
        raise InputError(f"No image files (or videos) found in: {', '.join(map(str, args.inputs))}.")
    if args.detect_every < 1:
        raise InputError(f"--detect-every must be at least 1, got {args.detect_every}.")
    table = _load_boxes(args.boxes)
    rank, world, state = _process_group()
    stems = _plan_stems(args.out, items)  # every process plans all outputs before any is written
    mine = [(path, video, stem) for i, ((path, video), stem) in enumerate(zip(items, stems)) if i % world == rank]
    images = [(p, stem) for p, video, stem in mine if not video]
    videos = [(p, stem) for p, video, stem in mine if video]
    estimator = None
    if mine:
        device = args.device or _default_device(state)
        cache = cache_dir(args.cache_dir)
        model = load_model(args.model, args.scheme, dtype=args.dtype, device=device, cache=cache)
        detector = None if args.boxes else _make_detector(args.detector, cache)
        estimator = PoseEstimator(model, input_size=args.input_size, flip=args.flip, crop_mode=args.crop_mode,
                                  batch_size=args.batch_size, sample_latent=args.sample_latent, seed=args.seed,
                                  detector=detector)
    if state is not None:
        state.wait_for_everyone()
    args.out.mkdir(parents=True, exist_ok=True)
    pose_options = dict(threshold=args.threshold, hands=args.hands, face=args.face, feet=args.feet,
                        raw_scores=args.raw_scores, swap_hands=args.swap_hands)
    draw_options = dict(resolution=args.resolution, hands=args.hands, face=args.face, feet=args.feet,
                        xinsr=args.xinsr, **draw_style(args))
    records: list[dict] = []
    if images:
        boxes = [_boxes_for(p, table) if args.boxes else None for p, _ in images]
        if args.boxes:
            boxes = [b if b is not None else [] for b in boxes]
        stem_of = {i: stem for i, (_, stem) in enumerate(images)}
        metas = ({"path": p, "index": i} for i, (p, _) in enumerate(images))
        results = estimator((load_image(p) for p, _ in images), boxes, metas)
        for result in tqdm(results, total=len(images), desc="SDPose", unit="img", disable=len(images) < 2):
            path: Path = result.meta["path"]
            pose = to_pose_keypoint(result.keypoints.numpy(), result.width, result.height, **pose_options)
            drawing = render_frame(pose, image=load_image(path) if args.overlay else None, **draw_options)
            stem = stem_of[result.meta["index"]]
            _write_atomic(args.out / f"{stem}.json", lambda tmp: tmp.write_text(json.dumps(pose)))
            _write_atomic(args.out / f"{stem}_pose.png", lambda tmp: Image.fromarray(drawing).save(tmp, format="PNG"))
            records += coco_records(image_id_from_stem(path.stem), result.keypoints, result.boxes, result.box_scores)
    if videos:
        from .video import ClipOptions, annotate_video

        clip = ClipOptions(track=args.track, smooth=args.smooth, min_cutoff=args.smooth_min_cutoff,
                           beta=args.smooth_beta, detect_every=args.detect_every, threshold=args.threshold)
        for path, stem in videos:
            frame_boxes = None
            if args.boxes:
                listed = _boxes_for(path, table)
                if listed is not None and not isinstance(listed, list):
                    raise InputError(f"Boxes for video '{path.name}' must be a list with one list of boxes per frame.")
                frame_boxes = itertools.chain(listed or [], itertools.repeat([]))
            out = annotate_video(estimator, path, args.out, stem=stem, options=clip, frames_png=args.frames,
                                 crf=args.crf, pose_options=pose_options, draw_options=draw_options,
                                 overlay=args.overlay, boxes=frame_boxes, progress=True)
            print(f"{path.name}: {out.frame_count} frames at {float(out.fps):.3f} fps -> {out.video.name}")
            if args.face_crops:
                _face_video(path, out, args.out / f"{stem}_face.mp4", args.crf)
    if args.coco_json:
        _write_coco(args.coco_json, records, rank, world, state)
    what = f"{len(images)} image(s)" + (f" and {len(videos)} video(s)" if videos else "")
    shard = f" (process {rank + 1} of {world})" if world > 1 else ""
    print(f"Wrote poses for {what} to {args.out}{shard}")
    return 0


def _face_video(video: Path, out, target: Path, crf: int) -> None:
    """``--face-crops``: the face video next to the pose video, or a warning when no face is ever visible."""
    from .face import write_face_video

    try:
        write_face_video(video, out.json, target, out.fps, crf=crf)
        print(f"{video.name}: face video -> {target.name}")
    except InputError as exc:
        print(f"warning: {video.name}: no face video ({exc})", file=sys.stderr)


def _write_coco(path: Path, records: list[dict], rank: int, world: int, state) -> None:
    """One COCO results file; with several processes each writes a part and the main process merges them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if world == 1:
        _write_atomic(path, lambda tmp: tmp.write_text(json.dumps(records)))
        return
    part = path.with_name(f"{path.stem}.part{rank}of{world}{path.suffix}")
    _write_atomic(part, lambda tmp: tmp.write_text(json.dumps(records)))
    if state is None:  # no way to wait for the others: leave the parts
        print(f"COCO results of this process in {part}; merge the {world} parts.", file=sys.stderr)
        return
    state.wait_for_everyone()
    if rank == 0:
        parts = [path.with_name(f"{path.stem}.part{r}of{world}{path.suffix}") for r in range(world)]
        merged = [rec for p in parts for rec in json.loads(p.read_text())]
        _write_atomic(path, lambda tmp: tmp.write_text(json.dumps(merged)))
        for p in parts:
            p.unlink()
    state.wait_for_everyone()


def draw_command(args: argparse.Namespace) -> int:
    from .render import draw_command as render_file

    written = render_file(args.pose, args.out, resolution=args.resolution, hands=args.hands, face=args.face,
                          feet=args.feet, xinsr=args.xinsr, overwrite=args.overwrite, **draw_style(args))
    print(f"Wrote {len(written)} image(s): {written[0]}{' ...' if len(written) > 1 else ''}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "estimate":
            return estimate_command(args)
        if args.command == "draw":
            return draw_command(args)
        if args.command == "retarget":
            return retarget_cli.command(args)
    except SDPoseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: files already written are complete; nothing partial was left.", file=sys.stderr)
        return 130
    return 1
