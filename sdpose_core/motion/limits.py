"""The valid ranges of the tracking settings, checked in one place (light to import: no numpy, no torch)."""

from __future__ import annotations

import math
from typing import Any

from ..errors import InputError


def check_detect_every(every: Any, name: str = "detect_every") -> None:
    """The person detector runs on every ``every``-th frame: a whole number >= 1."""
    if (isinstance(every, bool) or not isinstance(every, (int, float)) or not math.isfinite(every)
            or int(every) != every or every < 1):
        raise InputError(f"{name} must be a whole number >= 1, got {every}.")


def check_max_age(max_age: Any, name: str = "max_age") -> None:
    """Frames a lost person's id is kept for: zero or more."""
    if isinstance(max_age, bool) or not isinstance(max_age, (int, float)) or not max_age >= 0:
        raise InputError(f"{name} must be zero or positive, got {max_age}.")
