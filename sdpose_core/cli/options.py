"""Command-line options that several subcommands share: what is drawn and how."""

from __future__ import annotations

import argparse

from ..choices import DRAW_STYLES, FACE_RADIUS, JOINT_RADIUS, STICK_WIDTH, STROKE_REFERENCE_SIDE


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
