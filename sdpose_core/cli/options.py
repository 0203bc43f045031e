"""Command-line options that several commands share: how images are posed (:class:`EstimatorOptions`' fields, with
its defaults and its check) and what is drawn and how; and the checks of values several commands take (drawing
controls, thresholds, output files, devices). Each ends in an InputError (one ``error:`` line, status 2) before any
model loads or any file is written."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from ..atomic import check_file_name, open_temporary
from ..choices import (
    DRAW_STYLES,
    FACE_RADIUS,
    JOINT_RADIUS,
    MAX_RESOLUTION,
    STICK_WIDTH,
    STROKE_REFERENCE_SIDE,
    stroke_problem,
)
from ..engine.options import CROP_MODES, DTYPE_NAMES, EstimatorOptions
from ..errors import InputError
from ..keypoints import DWPOSE_THRESHOLD
from ..sizes import parse_size

MIN_RESOLUTION = 64  # DWPreprocessor's resolution widget: 64..MAX_RESOLUTION
MAX_FPS = 1000.0  # frames per second, as the SDPose Video Options node's frame_rate widget

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
    """Every flag of :func:`add_draw_options` as ``render_frame`` keywords."""
    return dict(resolution=args.resolution, hands=args.hands, face=args.face, feet=args.feet, xinsr=args.xinsr,
                stick_width=args.stick_width, point_size=args.point_size, face_point_size=args.face_point_size,
                head=args.head, scale_strokes=args.scale_strokes, style=args.style, body=args.body)


def check_draw(args: argparse.Namespace) -> None:
    """The drawing flags of :func:`add_draw_options` in range."""
    if args.resolution is not None and not MIN_RESOLUTION <= args.resolution <= MAX_RESOLUTION:
        raise InputError(f"--resolution must be {MIN_RESOLUTION}..{MAX_RESOLUTION} (as DWPreprocessor's), "
                         f"got {args.resolution}.")
    for name in ("stick_width", "point_size", "face_point_size"):
        problem = stroke_problem(name, getattr(args, name))
        if problem is not None:
            raise InputError(f"--{name.replace('_', '-')}: {problem}")


def check_threshold(value: float, flag: str = "--threshold") -> None:
    """A keypoint score threshold: a number in 0..1 (:meth:`EstimatorOptions.check`'s rule)."""
    EstimatorOptions(threshold=value).check({"threshold": flag})


def check_output_file(path: Path, flag: str) -> None:
    """A file can be created at ``path``: a name the file system holds, in a folder that is (or can be made) and
    takes new files. Makes the missing folders; writes nothing else (a probe file is removed at once)."""
    try:
        check_file_name(path)
    except InputError as exc:
        raise InputError(f"{flag}: {exc}") from None
    try:
        if path.is_dir():
            raise InputError(f"{flag} '{path}' is a folder; give a file name.")
        for p in path.parents:
            if p.exists() and not p.is_dir():
                raise InputError(f"{flag} '{path}' is under '{p}', which is a file; give a path in a folder.")
        path.parent.mkdir(parents=True, exist_ok=True)
        probe_write(path)
    except OSError as exc:
        raise InputError(f"{flag} '{path}': cannot write a file there ({exc.strerror or exc}).") from None


def probe_write(path: Path) -> None:
    """Create and remove a temporary sibling of ``path``: OSError when its folder takes no new file (read-only,
    /proc, ...), which permission bits alone do not tell (root passes every access check)."""
    probe, handle = open_temporary(path)
    handle.close()
    probe.unlink()


def check_device(device: str | None, flag: str = "--device") -> None:
    """A device torch has here, or one line saying what to use instead (None: the default device)."""
    if device is None:
        return
    import torch

    try:
        d = torch.device(device)
    except (RuntimeError, ValueError):
        raise InputError(f"{flag} '{device}' is not a device name; use cpu, cuda or cuda:N.") from None
    if d.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if not count:
            raise InputError(f"{flag} {device}: no CUDA GPU is usable here (torch {torch.__version__}); "
                             "use --device cpu, or install the torch build for your CUDA.")
        if d.index is not None and d.index >= count:
            raise InputError(f"{flag} {device}: only {count} GPU(s) here (cuda:0..cuda:{count - 1}).")
    elif d.type == "mps":
        if not torch.backends.mps.is_available():
            raise InputError(f"{flag} {device}: MPS is not available here; use --device cpu.")
    elif d.type != "cpu":
        raise InputError(f"{flag} {device}: unsupported device type; use cpu, cuda, cuda:N or mps.")
