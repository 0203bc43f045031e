"""The valid ranges of the tracking settings, checked in one place (light to import: no numpy, no torch)."""

from __future__ import annotations

import math
import numbers
from typing import Any

from ..errors import InputError


def finite_number(value: Any) -> bool:
    """A real number (not a bool) that is neither infinite nor NaN; anything else (text, None) is False, not a
    TypeError, so a range check on it gives its own InputError."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


# Frames per second a smoother takes: far above any camera, and a frame interval that speeds (pixels / interval)
# stay finite with; a larger rate makes the One-Euro filter's speed overflow into NaN positions.
MAX_FRAME_RATE = 1e6


def check_frame_rate(fps: Any, name: str = "frame rate") -> None:
    """A clip's frame rate for smoothing: a number above 0 and at most ``MAX_FRAME_RATE``."""
    if not (finite_number(fps) and 0 < fps <= MAX_FRAME_RATE):
        raise InputError(f"Smoothing needs a positive {name} of at most {MAX_FRAME_RATE:g} frames per second, "
                         f"got {fps!r}.")


def check_detect_every(every: Any, name: str = "detect_every") -> None:
    """The person detector runs on every ``every``-th frame: a whole number >= 1."""
    if (isinstance(every, bool) or not isinstance(every, (int, float)) or not math.isfinite(every)
            or int(every) != every or every < 1):
        raise InputError(f"{name} must be a whole number >= 1, got {every}.")


def check_max_age(max_age: Any, name: str = "max_age") -> None:
    """Frames a lost person's id is kept for: zero or more."""
    if isinstance(max_age, bool) or not isinstance(max_age, (int, float)) or not max_age >= 0:
        raise InputError(f"{name} must be zero or positive, got {max_age}.")
