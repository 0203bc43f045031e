"""Crop sizes as users write them ('768x1024'), read the same way by the command lines and the ComfyUI nodes."""

from __future__ import annotations

import argparse

from .errors import InputError

# The largest image read or pose canvas drawn (8192 x 8192): one bound checked from a file's header before it is
# decoded, and by every reader, writer and drawer of POSE_KEYPOINT (formats.openpose.MAX_CANVAS_PIXELS).
MAX_IMAGE_PIXELS = 1 << 26


class SizeError(InputError, argparse.ArgumentTypeError):
    """A size that is not 'WxH': an InputError, which argparse (``type=parse_size``) prints as it is."""


def parse_size(text: str) -> tuple[int, int]:
    """'768x1024' -> (768, 1024); ranges are checked where the size is used (``check_input_size``)."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise SizeError(f"expected WxH such as 768x1024, got '{text}'") from None
    return w, h
