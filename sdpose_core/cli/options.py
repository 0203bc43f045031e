"""Command-line options that several subcommands share (what is drawn and how), and the checks of values that
several subcommands take: drawing controls, thresholds, output files, devices. Each ends in an InputError (one
``error:`` line, status 2) before any model loads or any file is written."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from ..atomic import check_file_name, open_temporary
from ..choices import FACE_RADIUS, JOINT_RADIUS, STICK_WIDTH, STROKE_REFERENCE_SIDE, stroke_problem
from ..errors import InputError
from ..keypoints import DWPOSE_THRESHOLD

MIN_RESOLUTION, MAX_RESOLUTION = 64, 16384  # DWPreprocessor's resolution widget
MAX_FPS = 1000.0  # frames per second, as the SDPose Video Options node's frame_rate widget


def add_draw_options(parser: argparse.ArgumentParser) -> None:
    """The drawing flags of ``estimate``, ``draw`` and ``retarget``."""
    parser.add_argument("--resolution", type=int, default=None, help="short side of the drawn image, as "
                        "DWPreprocessor's resolution (default: the image's own size)")
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
    """The drawing controls of ``add_draw_options`` as ``render`` keywords."""
    return dict(stick_width=args.stick_width, point_size=args.point_size, face_point_size=args.face_point_size,
                head=args.head, scale_strokes=args.scale_strokes)


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
    """A keypoint score threshold: a number in 0..1."""
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise InputError(f"{flag} must be a number in 0..1 (DWPose uses {DWPOSE_THRESHOLD}), got {value}.")


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
