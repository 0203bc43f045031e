"""Video: container I/O, the per-clip pose logic and the video-file job.

The names below were the public contents of the old ``sdpose_core.video`` module and stay importable from here.
"""

from .annotate import (DEFAULT_CRF, DEFAULT_FPS, VIDEO_SUFFIXES, ClipOptions, JsonListWriter, VideoInfo, VideoOutput,
                       VideoWriter, annotate_frames, annotate_video, count_frames, is_video, pose_frame, prefetch,
                       probe_video, read_frames)

__all__ = ["DEFAULT_CRF", "DEFAULT_FPS", "VIDEO_SUFFIXES", "ClipOptions", "JsonListWriter", "VideoInfo", "VideoOutput",
           "VideoWriter", "annotate_frames", "annotate_video", "count_frames", "is_video", "pose_frame", "prefetch",
           "probe_video", "read_frames"]
