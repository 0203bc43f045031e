"""Command-line options that several commands share: how images are posed (:class:`EstimatorOptions`' fields, with
its defaults and its check) and what is drawn and how."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from ..choices import DRAW_STYLES, FACE_RADIUS, JOINT_RADIUS, STICK_WIDTH, STROKE_REFERENCE_SIDE
from ..engine.options import CROP_MODES, DTYPE_NAMES, EstimatorOptions
from ..keypoints import DWPOSE_THRESHOLD
from ..sizes import parse_size

# EstimatorOptions field -> its flag, for the options' messages.
ESTIMATOR_FLAGS = {"input_size": "--input-size", "crop_mode": "--crop-mode", "flip": "--flip",
                   "threshold": "--threshold", "batch_size": "--batch-size", "dtype": "--dtype",
                   "sample_latent": "--sample-latent", "seed": "--seed"}


def add_estimator_options(parser: argparse.ArgumentParser, fields: Sequence[str] = tuple(ESTIMATOR_FLAGS),
                          defaults: EstimatorOptions = EstimatorOptions(),
                          flip_help: str = "flip test, as in the paper's evaluation (doubles the cost)") -> None:
    """The flags of the :class:`EstimatorOptions` ``fields`` (``estimate``, ``retarget``, ``train.evaluate``), with
    ``defaults`` (a command may default differently, e.g. evaluation's batch size); read back by
    :func:`estimator_options`."""
    d = defaults
    flags = {
        "input_size": lambda: parser.add_argument(
            "--input-size", type=parse_size, default=d.input_size, metavar="WxH",
            help=f"crop size (default {d.input_size[0]}x{d.input_size[1]})"),
        "crop_mode": lambda: parser.add_argument("--crop-mode", choices=CROP_MODES, default=d.crop_mode),
        "flip": lambda: parser.add_argument("--flip", action=argparse.BooleanOptionalAction, default=d.flip,
                                            help=f"{flip_help} (default {'on' if d.flip else 'off'})"),
        "threshold": lambda: parser.add_argument(
            "--threshold", type=float, default=d.threshold,
            help=f"keypoints below it are left out (DWPose: {DWPOSE_THRESHOLD})"),
        "batch_size": lambda: parser.add_argument("--batch-size", type=int, default=d.batch_size,
                                                  help="crops per model call (default %(default)s)"),
        "dtype": lambda: parser.add_argument("--dtype", choices=DTYPE_NAMES, default=d.dtype),
        "sample_latent": lambda: parser.add_argument(
            "--sample-latent", action="store_true", default=d.sample_latent,
            help="sample the VAE posterior as the official code does (default: its mean, deterministic)"),
        "seed": lambda: parser.add_argument("--seed", type=int, default=d.seed, help="seed for --sample-latent"),
    }
    for name in fields:
        flags[name]()


def estimator_options(args: argparse.Namespace) -> EstimatorOptions:
    """The :class:`EstimatorOptions` the flags of :func:`add_estimator_options` give, checked (one InputError naming
    the flag); fields without a flag keep their defaults."""
    given = {name: getattr(args, name) for name in ESTIMATOR_FLAGS if hasattr(args, name)}
    if "input_size" in given:
        given["input_size"] = tuple(given["input_size"])
    return EstimatorOptions(**given).check(ESTIMATOR_FLAGS)


def add_draw_options(parser: argparse.ArgumentParser) -> None:
    """The drawing flags of ``estimate``, ``draw`` and ``retarget``."""
    parser.add_argument("--resolution", type=int, default=None, help="short side of the drawn image, as "
                        "DWPreprocessor's resolution (default: the image's own size)")
    parser.add_argument("--style", choices=DRAW_STYLES, default=DRAW_STYLES[0], help="what the pose image is drawn "
                        "like: dwpose (DWPose's pixels, default), unianimate (body and hands, no face: UniAnimate, "
                        "MusePose), wan_animate (Wan2.2's drawing: toes, strokes scaled with the image, no face)")
    parser.add_argument("--body", action=argparse.BooleanOptionalAction, default=True, help="draw the body")
    parser.add_argument("--hands", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--face", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--feet", action=argparse.BooleanOptionalAction, default=False,
                        help="foot keypoints (foot_keypoints_2d, as ComfyUI-native writes)")
    parser.add_argument("--xinsr", action="store_true", help="scale stick width as scale_stick_for_xinsr_cn")
    style = parser.add_argument_group("drawing controls", "defaults keep DWPose's exact pixels")
    style.add_argument("--stick-width", type=int, default=STICK_WIDTH,
                       help="limb half-width in pixels (default %(default)s)")
    style.add_argument("--point-size", type=int, default=JOINT_RADIUS,
                       help="joint, foot and hand dot radius (default %(default)s)")
    style.add_argument("--face-point-size", type=int, default=FACE_RADIUS,
                       help="face dot radius (default %(default)s)")
    style.add_argument("--head", action=argparse.BooleanOptionalAction, default=True,
                       help="draw the nose, eyes and ears and their limbs (default on)")
    style.add_argument("--scale-strokes", action="store_true",
                       help=f"sizes are for a {STROKE_REFERENCE_SIDE} px short side and scale with the image, so "
                       "strokes keep their proportion at any resolution")


def draw_style(args: argparse.Namespace) -> dict:
    """The drawing controls of ``add_draw_options`` (with the style and the body toggle) as ``render`` keywords."""
    return dict(stick_width=args.stick_width, point_size=args.point_size, face_point_size=args.face_point_size,
                head=args.head, scale_strokes=args.scale_strokes, style=args.style, body=args.body)
