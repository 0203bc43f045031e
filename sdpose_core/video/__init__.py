"""Video: container I/O (:mod:`.io`), the per-clip pose logic (:mod:`.clip`), the video-file job (:mod:`.file_job`)
and the face video (:mod:`.face_video`).

The names below were the public contents of the old ``sdpose_core.video`` module and stay importable from here
(``pose_frame``, a single-image conversion, now lives in :mod:`sdpose_core.engine.pipeline`).
"""

from ..engine.pipeline import pose_frame
from .clip import ClipOptions, annotate_frames
from .file_job import VideoOutput, annotate_video
from .io import (DEFAULT_CRF, DEFAULT_FPS, VIDEO_SUFFIXES, JsonListWriter, VideoInfo, VideoWriter, count_frames,
                 is_video, prefetch, probe_video, read_frames)

__all__ = ["DEFAULT_CRF", "DEFAULT_FPS", "VIDEO_SUFFIXES", "ClipOptions", "JsonListWriter", "VideoInfo", "VideoOutput",
           "VideoWriter", "annotate_frames", "annotate_video", "count_frames", "is_video", "pose_frame", "prefetch",
           "probe_video", "read_frames"]
