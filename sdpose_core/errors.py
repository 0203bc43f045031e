"""Errors the library raises on purpose: each names the problem and the remedy."""

from __future__ import annotations


class SDPoseError(Exception):
    """Base class for every error sdpose_core raises deliberately."""


class CheckpointError(SDPoseError):
    """A checkpoint is missing, corrupt, incomplete or of the wrong kind."""


class InputError(SDPoseError):
    """An image, box list or option cannot be used as given."""


class DownloadError(SDPoseError):
    """A file had to be fetched from the hub and could not be."""
