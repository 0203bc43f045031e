"""Command line: ``python -m sdpose_core estimate INPUT... --model PATH_OR_HUB_ID --out DIR`` (and ``draw``).

INPUT: image files, video files, and folders of either. The job resumes (a rerun skips what is done), isolates bad
inputs (listed in ``DIR/sdpose_failures.txt``; exit status 1), and never leaves a partial output (see
:mod:`sdpose_core.cli.batch`). Under ``accelerate launch`` (or torchrun) input i goes to process i % count; with
``--engine ray`` the inputs are spread over Ray workers. Bad arguments end with one line and exit status 2, before
any model is loaded.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..choices import BODY_LAYOUTS, MISSING_PARTS, PEOPLE_ORDERS
from ..errors import InputError, SDPoseError
from ..video.options import DEFAULT_CRF, MAX_CRF, ClipOptions
from . import retarget as retarget_cli
from .job import FAILURES_FILE
from .options import (
    add_draw_options,
    add_estimator_options,
    check_device,
    check_draw,
    check_output_file,
    draw_style,
    estimator_options,
    probe_write,
)

if TYPE_CHECKING:
    from .work import WorkSettings

MAX_BOX_COORD = 1e7  # pixels; no image PIL opens is near this size


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sdpose_core", description="SDPose human pose estimation.")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_estimate(sub)
    _add_draw(sub)
    retarget_cli.add_parser(sub)
    return parser


def _add_estimate(sub) -> None:
    est = sub.add_parser("estimate", help="estimate poses in images and videos (files or folders)")
    est.set_defaults(run=estimate_command)
    est.add_argument("inputs", nargs="+", help="image and video files and/or folders of them")
    est.add_argument("--model", required=True, help="SDPose folder, ComfyUI .safetensors file, or hub id "
                     "(teemosliang/SDPose-Body, teemosliang/SDPose-Wholebody)")
    est.add_argument("--scheme", choices=["body", "wholebody"], help="checked against the checkpoint")
    est.add_argument("--out", required=True, type=Path, help="output folder (created); a rerun skips inputs "
                     "whose outputs are complete and redoes changed ones; files it did not write are never touched")
    est.add_argument("--overwrite", action="store_true", help="recompute every input (replacing this job's "
                     "earlier outputs) and allow --coco-json to replace an existing file")
    est.add_argument("--boxes", type=Path, help="JSON mapping an input file name to a list of [x, y, w, h] "
                     "(for a video: a list per frame of such lists)")
    est.add_argument("--detector", default="yolox", help="'yolox' (yolox_l.onnx, downloaded on first use), "
                     "a path to a YOLOX .onnx file, or 'none' for whole-image boxes")
    add_estimator_options(est)
    est.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda when available)")
    est.add_argument("--coco-json", type=Path, help="also write all detections in images as one COCO keypoint "
                     "results file (never replaces a file this job did not write, unless --overwrite)")
    est.add_argument("--cache-dir", type=Path, default=None, help="downloads and cached text context "
                     "(default $SDPOSE_CACHE or ~/.cache/sdpose)")
    est.add_argument("--max-people", type=int, default=None, metavar="N", help="keep at most N people per image or "
                     "frame in the JSON and the drawing (COCO results keep everyone)")
    est.add_argument("--order", choices=PEOPLE_ORDERS, default=PEOPLE_ORDERS[0], help="which people come first and "
                     "are kept by --max-people (default largest; track_id for tracked videos)")
    est.add_argument("--raw-scores", action="store_true", help="keep the model's scores instead of DWPose's 1.0")
    est.add_argument("--swap-hands", action="store_true", help="ComfyUI-native's convention: the person's left "
                     "hand in hand_right_keypoints_2d (default: by side, as DWPose)")
    est.add_argument("--missing-parts", choices=MISSING_PARTS, default=MISSING_PARTS[0], help="how a face or hand "
                     "that is not seen is written: null (DWPose's; ComfyUI-native SDPoseFaceBBoxes needs it) or zeros "
                     "(ComfyUI-native SDPoseDrawKeypoints fails on null)")
    est.add_argument("--overlay", action="store_true", help="draw the skeleton over the image instead of black")
    add_draw_options(est)
    video = est.add_argument_group("video", "for video inputs: DIR/<stem>.json (POSE_KEYPOINT, one dict per frame) "
                                   "and DIR/<stem>_pose.mp4 (same frame rate and frame count)")
    video.add_argument("--track", action=argparse.BooleanOptionalAction, default=True,
                       help="keep each person's place and id (person_id) across frames (default on)")
    video.add_argument("--smooth", action="store_true", help="One-Euro smoothing of keypoints over time "
                       "(default off: every frame exactly as the model gives it); implies --track")
    clip = ClipOptions()  # the library's defaults, also the nodes'
    video.add_argument("--smooth-min-cutoff", type=float, default=clip.min_cutoff, metavar="HZ",
                       help="One-Euro cut-off at rest: lower = smoother, more lag (default %(default)g)")
    video.add_argument("--smooth-beta", type=float, default=clip.beta, help="One-Euro speed coefficient, per person "
                       "height per second: higher = less lag in fast motion, less smoothing (default %(default)g)")
    video.add_argument("--detect-every", type=int, default=clip.detect_every, metavar="N", help="run the person "
                       "detector on every Nth frame only; boxes follow each person's keypoints in between "
                       "(default %(default)d)")
    video.add_argument("--frames", action="store_true", help="also write the pose frames as PNGs in "
                       "DIR/<stem>_frames/")
    video.add_argument("--crf", type=int, default=DEFAULT_CRF, help=f"H.264 quality of the pose video, 0..{MAX_CRF} "
                       "(lower = better; default %(default)s)")
    video.add_argument("--face-crops", action="store_true", help="also write DIR/<stem>_face.mp4: 512x512 crops "
                       "of the first person's face, steadied over time (Wan-Animate's face video)")
    scale = est.add_argument_group("engine", "where the job runs")
    scale.add_argument("--engine", choices=["local", "ray"], default="local", help="'local': this process (or "
                       "the processes of accelerate launch); 'ray': Ray workers, one model each "
                       "(pip install -r requirements-ray.txt)")
    scale.add_argument("--num-workers", type=int, default=None, metavar="N", help="Ray workers (default: one "
                       "per GPU of the cluster, or 1 without GPUs)")
    scale.add_argument("--ray-address", default=None, metavar="ADDR", help="an existing Ray cluster "
                       "(e.g. ray://head:10001 or auto); default: start a local one. Inputs and --out must be "
                       "at the same paths on every node (shared storage)")
    scale.add_argument("--compile", action="store_true", help="torch.compile the model (CUDA graphs on GPUs): "
                       "faster after a one-time compile per batch size; without a C++ compiler or Triton it runs "
                       "uncompiled, with one warning")


def _add_draw(sub) -> None:
    draw = sub.add_parser("draw", help="render a POSE_KEYPOINT JSON file (DWPose look)")
    draw.set_defaults(run=draw_command)
    draw.add_argument("pose", type=Path, help="POSE_KEYPOINT JSON: one frame (dict) or a list of frames")
    draw.add_argument("--out", required=True, type=Path, help="PNG path for one frame; a folder for a list")
    draw.add_argument("--overwrite", action="store_true", help="replace existing PNGs")
    draw.add_argument("--body-layout", choices=BODY_LAYOUTS, default=BODY_LAYOUTS[0], help="25-point bodies: auto "
                      "(told from the points), body_25 (CMU OpenPose) or openpose_18_toes (ComfyUI-ProportionChanger)")
    add_draw_options(draw)


# ------------------------------------------------------------------------------------------- checking values
def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def check_box_list(value: Any, where: str) -> list[list[float]]:
    """A list of [x, y, w, h] (or + score) boxes from a boxes file, each checked; InputError names the bad one."""
    if not isinstance(value, list):
        raise InputError(f"{where}: expected a list of [x, y, w, h] boxes, got {json.dumps(value)[:60]}.")
    boxes = []
    for i, box in enumerate(value):
        if not isinstance(box, list) or len(box) not in (4, 5) or not all(_is_number(v) for v in box):
            raise InputError(f"{where}, box {i}: expected [x, y, w, h] or [x, y, w, h, score] as numbers, got "
                             f"{json.dumps(box)[:60]}.")
        if not all(math.isfinite(v) and abs(v) <= MAX_BOX_COORD for v in box):
            raise InputError(f"{where}, box {i}: {box} has a NaN, infinite or absurd value (beyond "
                             f"{MAX_BOX_COORD:.0e} pixels).")
        if box[2] <= 0 or box[3] <= 0:
            raise InputError(f"{where}, box {i}: {box} has zero or negative width/height; boxes are [x, y, w, h].")
        if len(box) == 5 and box[4] < 0:
            raise InputError(f"{where}, box {i}: the score {box[4]} is negative.")
        boxes.append([float(v) for v in box])
    return boxes


def load_boxes(path: Path | None) -> dict[str, Any]:
    """The --boxes table (file name -> boxes); entries are checked when an input uses them."""
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"Cannot read boxes file '{path}' ({' '.join(str(exc).split())}).") from None
    if not isinstance(data, dict):
        raise InputError(f"Boxes file '{path}' must map an image file name to a list of [x, y, w, h].")
    return data


def boxes_for(path: Path, video: bool, table: dict[str, Any]) -> list | None:
    """The checked boxes of one input (per frame for a video); None when the table does not list it."""
    for key in (str(path), path.name, path.stem):
        if key in table:
            value = table[key]
            if not video:
                return check_box_list(value, f"--boxes '{key}'")
            if not isinstance(value, list):
                raise InputError(f"--boxes '{key}': a video needs a list with one list of boxes per frame.")
            return [check_box_list(frame, f"--boxes '{key}', frame {i}") for i, frame in enumerate(value)]
    return None


CLIP_FLAGS = {"detect_every": "--detect-every", "min_cutoff": "--smooth-min-cutoff", "beta": "--smooth-beta"}


def clip_fields(args: argparse.Namespace) -> dict[str, Any]:
    """The ``ClipOptions`` fields the video options give."""
    return dict(track=args.track, smooth=args.smooth, min_cutoff=args.smooth_min_cutoff, beta=args.smooth_beta,
                detect_every=args.detect_every, threshold=args.threshold)


def _check_numbers(args: argparse.Namespace) -> None:
    """Every numeric option in its range, or one line saying which is not."""
    estimator_options(args)
    check_draw(args)
    if args.max_people is not None and args.max_people < 1:
        raise InputError(f"--max-people must be at least 1 (leave it out to keep everyone), got {args.max_people}.")
    if not 0 <= args.crf <= MAX_CRF:
        raise InputError(f"--crf must be 0..{MAX_CRF} (H.264 quality, lower = better; default {DEFAULT_CRF}), "
                         f"got {args.crf}.")
    ClipOptions(**clip_fields(args)).check(CLIP_FLAGS)
    if args.num_workers is not None and args.num_workers < 1:
        raise InputError(f"--num-workers must be at least 1, got {args.num_workers}.")
    if args.engine != "ray" and (args.num_workers is not None or args.ray_address is not None):
        raise InputError("--num-workers and --ray-address need --engine ray.")


def check_out(out: Path) -> None:
    """--out is a folder, or can be made one, that takes new files; checked before the model loads. Makes nothing:
    the job makes a missing folder when it starts (a model that cannot load leaves no folder behind)."""
    for p in (out, *out.parents):  # the nearest one that exists
        try:
            os.stat(p)
            break
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError as exc:  # a name too long, a path not allowed: what making the folder would raise
            raise InputError(f"--out '{out}': cannot create the folder ({exc.strerror or exc}).") from None
    if not p.is_dir():
        what = "is a file" if p == out else f"is under '{p}', which is a file"
        raise InputError(f"--out '{out}' {what}; give a folder (it is created when missing).")
    try:
        probe_write(p / FAILURES_FILE)  # the folder itself, or the nearest existing one it will be made in
    except OSError as exc:
        problem = "the folder takes no new files" if p == out else "cannot create the folder"
        raise InputError(f"--out '{out}': {problem} ({exc.strerror or exc}).") from None


def check_coco_path(path: Path) -> None:
    """--coco-json names a file (existing or not) that can be written, in a folder that exists or can be made."""
    check_output_file(path, "--coco-json")


def find_inputs(inputs: list[str]) -> list[tuple[Path, bool]]:
    """(path, is_video) for every image and video among ``inputs`` (folders searched non-recursively, sorted)."""
    from ..images import IMAGE_SUFFIXES
    from ..video.io import is_video

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
    seen, unique = set(), []
    for path, video in found:  # the same file named twice is one input
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            unique.append((path, video))
    return unique


# ------------------------------------------------------------------------------------------- estimate
def work_settings(args: argparse.Namespace) -> WorkSettings:
    """The options that shape the outputs, as the plain values workers receive."""
    from .work import WorkSettings

    return WorkSettings(
        model=str(args.model), scheme=args.scheme, options=estimator_options(args), compile=args.compile,
        detector=None if args.boxes or args.detector == "none" else args.detector,
        cache=str(args.cache_dir) if args.cache_dir else None,
        pose_options=dict(threshold=args.threshold, hands=args.hands, face=args.face, feet=args.feet,
                          raw_scores=args.raw_scores, swap_hands=args.swap_hands, missing_parts=args.missing_parts),
        draw_options=draw_style(args),
        overlay=args.overlay,
        clip=clip_fields(args),
        frames=args.frames, crf=args.crf, face_crops=args.face_crops,
        people=None if args.max_people is None else (args.max_people, args.order))


def estimate_command(args: argparse.Namespace) -> int:
    from .batch import JobSpec, run_job

    _check_numbers(args)
    items = find_inputs(args.inputs)
    if not items:
        raise InputError(f"No image files (or videos) found in: {', '.join(map(str, args.inputs))}.")
    table = load_boxes(args.boxes)
    boxes = [boxes_for(p, video, table) if args.boxes else None for p, video in items]
    if args.boxes:  # an input the file does not list has nobody in it
        boxes = [b if b is not None else [] for b in boxes]
    check_out(args.out)
    if args.coco_json is not None:
        check_coco_path(args.coco_json)
    if args.engine == "ray":
        from .ray_engine import require_ray

        require_ray()
    else:
        check_device(args.device)
    spec = JobSpec(items=items, boxes=boxes, settings=work_settings(args), out=args.out, coco_json=args.coco_json,
                   overwrite=args.overwrite, engine=args.engine, device=args.device, num_workers=args.num_workers,
                   ray_address=args.ray_address)
    return run_job(spec)


def draw_command(args: argparse.Namespace) -> int:
    from .draw import draw_command as render_file

    check_draw(args)
    written = render_file(args.pose, args.out, overwrite=args.overwrite, body_layout=args.body_layout,
                          **draw_style(args))
    print(f"Wrote {len(written)} image(s): {written[0]}{' ...' if len(written) > 1 else ''}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command: 0 done, 1 some inputs failed, 2 bad arguments, 128 + signal when interrupted."""
    from ..atomic import handle_signals, interrupting_signal

    args = build_parser().parse_args(argv)
    try:
        with handle_signals():
            return args.run(args)
    except SDPoseError as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        signum = interrupting_signal(exc)
        print(f"interrupted ({signal.Signals(signum).name}): finished outputs are complete and kept, "
              "nothing partial was left; run the same command again to resume.", file=sys.stderr)
        return 128 + signum
