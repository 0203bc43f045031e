"""Video: container I/O (:mod:`.io`), what a user chooses for a clip (:mod:`.options`), the per-clip pose logic
(:mod:`.clip`), the video-file job (:mod:`.file_job`) and the face video (:mod:`.face_video`).

The names below were the public contents of the old ``sdpose_core.video`` module and stay importable from here
(``pose_frame``, a single-image conversion, now lives in :mod:`sdpose_core.engine.pipeline`). They load on first
use, so importing one light submodule (e.g. ``video.options``) does not import torch or the video libraries.
"""

from __future__ import annotations

import importlib
from typing import Any

_HOMES = {
    "pose_frame": "..engine.pipeline",
    "ClipOptions": ".options",
    "annotate_frames": ".clip",
    **{name: ".file_job" for name in ("VideoOutput", "annotate_video", "check_complete")},
    **{name: ".io" for name in ("DEFAULT_CRF", "DEFAULT_FPS", "VIDEO_SUFFIXES", "JsonListWriter", "VideoInfo",
                                "VideoWriter", "count_frames", "is_video", "prefetch", "probe_video", "read_frames",
                                "PREFETCH", "WRITE_QUEUE")},
}

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name], __name__), name)
    raise AttributeError(f"module '{__name__}' has no attribute '{name}'")
