"""``python -m sdpose_core retarget DRIVING.json --reference REF.json|REF.png --out OUT.json``.

Runs the retarget pipeline of the Retarget Pose node (:mod:`~sdpose_core.pose.retarget_clip`: gap filling,
optional zero-lag smoothing, retargeting, drawing) and writes the clip as a POSE_KEYPOINT list, and with
``--pose-video`` the drawn pose video at ``--fps``. A reference image is posed first with ``--model``. Outputs
appear whole or not at all, and existing files are never replaced.
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..choices import RETARGET_ANCHORS, RETARGET_FILL_GAPS, RETARGET_MAX_FILL_GAPS, RETARGET_SMOOTH
from ..errors import InputError
from .options import (
    MAX_FPS,
    add_draw_options,
    add_estimator_options,
    check_device,
    check_draw,
    check_output_file,
    draw_style,
    estimator_options,
)

if TYPE_CHECKING:
    from ..pose.retarget_clip import RetargetOptions


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """The ``retarget`` subcommand on the main parser's subparsers."""
    p = sub.add_parser("retarget", help="retarget a driving POSE_KEYPOINT clip to a reference body's proportions")
    p.set_defaults(run=command)
    p.add_argument("driving", type=Path, help="driving POSE_KEYPOINT JSON (a list with one dict per frame)")
    p.add_argument("--reference", required=True, type=Path, help="reference POSE_KEYPOINT JSON (a dict, or a list: "
                   "its first frame) or a reference image (posed with --model)")
    p.add_argument("--out", required=True, type=Path, help="output POSE_KEYPOINT JSON (never overwritten)")
    p.add_argument("--pose-video", type=Path, help="also draw the retargeted poses into this MP4")
    p.add_argument("--fps", type=float, default=None, help="the driving clip's frame rate (required with "
                   "--pose-video and --smooth)")
    p.add_argument("--anchor", choices=RETARGET_ANCHORS, default="neck", help="frame 0's neck on the reference's "
                   "neck (default), or the feet on the reference's ground line")
    p.add_argument("--fill-gaps", type=int, default=RETARGET_FILL_GAPS, metavar="N", help="fill keypoint and "
                   "person dropouts of up to N frames (tracked clips) before retargeting, 0 = off (default "
                   f"%(default)s, as the node; at most {RETARGET_MAX_FILL_GAPS})")
    p.add_argument("--smooth", action=argparse.BooleanOptionalAction, default=RETARGET_SMOOTH, help="smooth the "
                   "driving clip with the offline forward-backward One-Euro filter (no lag) before retargeting; "
                   "needs --fps (default off, as the node)")
    p.add_argument("--reference-person", type=int, default=0, metavar="I", help="which person of the reference "
                   "(default 0, the first)")
    p.add_argument("--model", help="SDPose model for a reference image (folder, .safetensors or hub id)")
    p.add_argument("--detector", default="yolox", help="person detector for a reference image: 'yolox', a path "
                   "to a YOLOX .onnx file, or 'none' (the whole image)")
    p.add_argument("--device", default=None, help="cpu, cuda, ... for a reference image (default: cuda if any)")
    p.add_argument("--cache-dir", type=Path, default=None)
    add_estimator_options(p, ("input_size", "threshold"))
    add_draw_options(p)
    return p


def _pose_reference_image(args: argparse.Namespace) -> dict:
    """The reference image's POSE_KEYPOINT dict, posed with ``--model``."""
    if not args.model:
        raise InputError(f"--reference '{args.reference.name}' is an image: pass --model (an SDPose checkpoint) "
                         "to pose it, or give a reference POSE_KEYPOINT .json instead.")
    from ..api import load_estimator
    from ..engine.pipeline import pose_frame
    from ..images import load_image

    options = estimator_options(args)
    estimator = load_estimator(args.model, detector=args.detector, device=args.device, cache_dir=args.cache_dir,
                               options=options)
    return pose_frame(next(iter(estimator([load_image(args.reference)]))), threshold=options.threshold)


def _check_args(args: argparse.Namespace) -> None:
    """Every option in range and every output writable, before any model loads or file is written."""
    estimator_options(args)  # --input-size, --threshold
    check_draw(args)
    if args.reference_person < 0:
        raise InputError(f"--reference-person must be 0 or more (0: the first person), got {args.reference_person}.")
    if args.out.suffix.lower() != ".json":
        raise InputError(f"--out '{args.out}' should be a .json file (POSE_KEYPOINT).")
    if args.pose_video is not None and os.path.abspath(args.pose_video) == os.path.abspath(args.out):
        raise InputError(f"--pose-video and --out are the same file '{args.out}'; give two names.")
    if (args.pose_video is not None or args.smooth) and (
            args.fps is None or not (math.isfinite(args.fps) and 0 < args.fps <= MAX_FPS)):
        flag = "--pose-video" if args.pose_video is not None else "--smooth"
        raise InputError(f"{flag} needs --fps F (the driving clip's frame rate), a number in 0..{MAX_FPS:g}; "
                         f"got {args.fps}.")
    retarget_options(args).check(CLI_NAMES)
    for path, flag in ((args.out, "--out"), (args.pose_video, "--pose-video")):
        if path is not None:
            check_output_file(path, flag)
            if path.exists():
                raise InputError(f"'{path}' already exists; choose another output name (nothing is overwritten).")
    check_device(args.device)


CLI_NAMES = {"fill_gaps": "--fill-gaps", "smooth": "--smooth", "frame_rate": "--fps"}


def retarget_options(args: argparse.Namespace) -> RetargetOptions:
    """The pipeline's options from the command line."""
    from ..pose.retarget_clip import RetargetOptions

    return RetargetOptions(anchor=args.anchor, reference_person=args.reference_person, fill_gaps=args.fill_gaps,
                           smooth=args.smooth, frame_rate=args.fps)


def command(args: argparse.Namespace) -> int:
    """Run the ``retarget`` subcommand."""
    from ..formats.openpose import save_pose_keypoint
    from ..images import IMAGE_SUFFIXES
    from ..pose.retarget_clip import retarget_clip
    from ..video.io import VideoWriter

    _check_args(args)
    image = args.reference.suffix.lower() in IMAGE_SUFFIXES
    reference = _pose_reference_image(args) if image else args.reference
    frames, drawings = retarget_clip(args.driving, reference, retarget_options(args), draw_style(args))
    if not frames:
        raise InputError(f"'{args.driving}' holds no frames; there is nothing to retarget.")
    if args.pose_video is not None:
        with VideoWriter(args.pose_video, args.fps, replace=False) as writer:  # checked above; and if one appeared
            for image in drawings:
                writer.write(image)
    try:
        save_pose_keypoint(frames, args.out, replace=False)
    except BaseException:
        if args.pose_video is not None:
            args.pose_video.unlink(missing_ok=True)
        raise
    video = f" and {args.pose_video}" if args.pose_video is not None else ""
    print(f"Retargeted {len(frames)} frame(s) to the reference body: {args.out}{video}")
    return 0
