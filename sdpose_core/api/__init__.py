"""The Python API for diffusers users: :class:`SDPoseDetector` (controlnet_aux's shape) and :func:`load_estimator`.

This layer sits on top of the library (engine, weights, pose drawing, video); nothing below imports it.
"""

from __future__ import annotations

from .detector import SDPoseDetector, load_estimator

__all__ = ["SDPoseDetector", "load_estimator"]
