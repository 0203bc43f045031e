"""``python -m sdpose_core retarget DRIVING.json --reference REF.json|REF.png --out OUT.json``.

Writes the driving clip retargeted to the reference body (:mod:`retarget`) as a POSE_KEYPOINT list, and with
``--pose-video`` the drawn pose video at ``--fps``. A reference image is posed first with ``--model``. Outputs
appear whole or not at all, and existing files are never replaced.
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path
from typing import Any

from ..choices import RETARGET_ANCHORS
from ..errors import InputError
from ..keypoints import DWPOSE_THRESHOLD
from ..sizes import parse_size
from .options import MAX_FPS, add_draw_options, check_device, check_draw, check_output_file, check_threshold, draw_style


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """The ``retarget`` subcommand on the main parser's subparsers."""
    p = sub.add_parser("retarget", help="retarget a driving POSE_KEYPOINT clip to a reference body's proportions")
    p.set_defaults(run=command)
    p.add_argument("driving", type=Path, help="driving POSE_KEYPOINT JSON (a list with one dict per frame)")
    p.add_argument("--reference", required=True, type=Path, help="reference POSE_KEYPOINT JSON (a dict, or a list: "
                   "its first frame) or a reference image (posed with --model)")
    p.add_argument("--out", required=True, type=Path, help="output POSE_KEYPOINT JSON (never overwritten)")
    p.add_argument("--pose-video", type=Path, help="also draw the retargeted poses into this MP4")
    p.add_argument("--fps", type=float, default=None, help="frame rate of --pose-video (required with it)")
    p.add_argument("--anchor", choices=RETARGET_ANCHORS, default="neck", help="frame 0's neck on the reference's "
                   "neck (default), or the feet on the reference's ground line")
    p.add_argument("--reference-person", type=int, default=0, metavar="I", help="which person of the reference "
                   "(default 0, the first)")
    p.add_argument("--model", help="SDPose model for a reference image (folder, .safetensors or hub id)")
    p.add_argument("--detector", default="yolox", help="person detector for a reference image: 'yolox', a path "
                   "to a YOLOX .onnx file, or 'none' (the whole image)")
    p.add_argument("--device", default=None, help="cpu, cuda, ... for a reference image (default: cuda if any)")
    p.add_argument("--input-size", type=parse_size, default=(768, 1024), metavar="WxH")
    p.add_argument("--cache-dir", type=Path, default=None)
    p.add_argument("--threshold", type=float, default=DWPOSE_THRESHOLD, help="keypoint score kept when posing a "
                   f"reference image (DWPose: {DWPOSE_THRESHOLD})")
    add_draw_options(p)
    return p


def _pose_reference_image(args: argparse.Namespace) -> dict:
    """The reference image's POSE_KEYPOINT dict, posed with ``--model``."""
    if not args.model:
        raise InputError(f"--reference '{args.reference.name}' is an image: pass --model (an SDPose checkpoint) "
                         "to pose it, or give a reference POSE_KEYPOINT .json instead.")
    import torch

    from ..engine.pipeline import pose_frame
    from ..images import load_image
    from .work import WorkSettings, build_estimator

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    settings = WorkSettings(model=str(args.model), input_size=tuple(args.input_size),
                            detector=None if args.detector == "none" else args.detector,
                            cache=str(args.cache_dir) if args.cache_dir else None)
    estimator = build_estimator(settings, device)
    return pose_frame(next(iter(estimator([load_image(args.reference)]))), threshold=args.threshold)


def _check_args(args: argparse.Namespace) -> None:
    """Every option in range and every output writable, before any model loads or file is written."""
    check_threshold(args.threshold)
    check_draw(args)
    if args.reference_person < 0:
        raise InputError(f"--reference-person must be 0 or more (0: the first person), got {args.reference_person}.")
    if args.out.suffix.lower() != ".json":
        raise InputError(f"--out '{args.out}' should be a .json file (POSE_KEYPOINT).")
    if args.pose_video is not None:
        if os.path.abspath(args.pose_video) == os.path.abspath(args.out):
            raise InputError(f"--pose-video and --out are the same file '{args.out}'; give two names.")
        if args.fps is None or not (math.isfinite(args.fps) and 0 < args.fps <= MAX_FPS):
            raise InputError(f"--pose-video needs --fps F (the driving clip's frame rate), a number in "
                             f"0..{MAX_FPS:g}; got {args.fps}.")
    for path, flag in ((args.out, "--out"), (args.pose_video, "--pose-video")):
        if path is not None:
            check_output_file(path, flag)
            if path.exists():
                raise InputError(f"'{path}' already exists; choose another output name (nothing is overwritten).")
    check_device(args.device)


def command(args: argparse.Namespace) -> int:
    """Run the ``retarget`` subcommand."""
    from ..formats.openpose import save_pose_keypoint
    from ..images import IMAGE_SUFFIXES
    from ..pose.render import render_frame
    from ..pose.retarget import retarget
    from ..video.io import VideoWriter

    _check_args(args)
    image = args.reference.suffix.lower() in IMAGE_SUFFIXES
    reference = _pose_reference_image(args) if image else args.reference
    frames = retarget(args.driving, reference, anchor=args.anchor, reference_person_index=args.reference_person)
    if not frames:
        raise InputError(f"'{args.driving}' holds no frames; there is nothing to retarget.")
    if args.pose_video is not None:
        with VideoWriter(args.pose_video, args.fps, replace=False) as writer:  # checked above; and if one appeared
            for frame in frames:
                writer.write(render_frame(frame, resolution=args.resolution, hands=args.hands, face=args.face,
                                          feet=args.feet, xinsr=args.xinsr, **draw_style(args)))
    try:
        save_pose_keypoint(frames, args.out, replace=False)
    except BaseException:
        if args.pose_video is not None:
            args.pose_video.unlink(missing_ok=True)
        raise
    video = f" and {args.pose_video}" if args.pose_video is not None else ""
    print(f"Retargeted {len(frames)} frame(s) to the reference body: {args.out}{video}")
    return 0
