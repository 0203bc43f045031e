"""The video-file job: a video file -> ``<stem>.json`` (POSE_KEYPOINT list, one dict per frame, streamed to disk),
``<stem>_pose.mp4`` (same frame rate and frame count) and optionally ``<stem>_frames/<stem>_00000.png``.

Frames are decoded one at a time (:mod:`.io`), posed as a clip (:mod:`.clip`), and each result is drawn, encoded and
written out before many more are decoded. The outputs are staged together and appear only when complete.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from ..atomic import OutputSet, temp_path
from ..engine.pipeline import PoseEstimator, pose_frame
from ..errors import InputError
from .clip import annotate_frames
from .io import (
    DEFAULT_CRF,
    PREFETCH,
    WRITE_QUEUE,
    JsonListWriter,
    Sink,
    VideoWriter,
    prefetch,
    probe_video,
    read_frames,
    write_png,
)
from .options import ClipOptions


@dataclass
class VideoOutput:
    """What :func:`annotate_video` wrote (paths in ``out_dir``), its frame count and rate, and the track ids seen."""

    json: Path
    video: Path
    frames_dir: Path | None
    frame_count: int
    fps: Fraction
    people_ids: set[int] = field(default_factory=set)


def annotate_video(estimator: PoseEstimator, path: str | Path, out_dir: str | Path, *, stem: str | None = None,
                   options: ClipOptions | None = None, frames_png: bool = False, crf: int = DEFAULT_CRF,
                   pose_options: dict | None = None, draw_options: dict | None = None, overlay: bool = False,
                   boxes: Iterable[Any] | None = None, backend: str | None = None, background: bool = True,
                   progress: Callable[[int], None] | bool = False,
                   on_pose: Callable[[int, dict], None] | None = None,
                   people: tuple[int, str] | None = None) -> VideoOutput:
    """Pose a video file into ``out_dir``: ``<stem>.json``, ``<stem>_pose.mp4`` and (``frames_png``)
    ``<stem>_frames/``. The outputs are staged in a hidden folder and appear together only when complete (a
    failure or interruption leaves none); existing files are never replaced. A video that decodes to clearly
    fewer frames than its container announces (a truncated file) is an error, not a short result.

    ``pose_options`` go to ``to_pose_keypoint`` (threshold, raw_scores, swap_hands, hands, face, feet),
    ``draw_options`` to ``render_frame`` (resolution, hands, face, feet, xinsr). ``boxes``: per-frame person
    boxes (as :func:`annotate_frames`) instead of the estimator's detector. ``background``: decode ahead
    (``PREFETCH`` frames) and draw + encode (``WRITE_QUEUE`` frames) in two threads, overlapping the model; at most
    those few frames more are alive. ``progress``: True for a tqdm bar, or a callable given the frames posed.
    ``on_pose``: called with (frame index, POSE_KEYPOINT frame) as each frame is posed (e.g. to keep the first few
    for a preview). An exception raised by ``progress`` or ``on_pose`` (a user's cancel) stops the run like any other.
    ``people``: (max_people, order) keeps the first people of each frame (``sdpose_core.pose.people``; streamed, so
    ranked frame by frame: order ``track_id`` keeps the same people throughout a tracked clip).
    """
    from ..pose.people import limit_people
    from ..pose.render import render_frame

    path, out_dir = Path(path), Path(out_dir)
    info = probe_video(path, backend)
    stem = stem or path.stem
    out_dir.mkdir(parents=True, exist_ok=True)
    sep = "" if stem.endswith("_") else "_"  # a stem in ComfyUI's numbering ('video_00001_') ends in its separator
    json_path, video_path = out_dir / f"{stem}.json", out_dir / f"{stem}{sep}pose.mp4"
    frames_dir = out_dir / f"{stem}{sep}frames" if frames_png else None
    taken = [p for p in (json_path, video_path, frames_dir) if p is not None and p.exists()]
    if taken:
        raise InputError(f"'{taken[0]}' already exists; choose another stem or folder (nothing is overwritten).")
    digits = max(5, len(str((info.frames or 1) - 1)))
    bar = None
    if progress is True:
        from tqdm.auto import tqdm

        bar = tqdm(total=info.frames, desc=path.name, unit="frame")
    outputs = OutputSet(temp_path(out_dir / stem, unique=True))
    writer = VideoWriter(outputs.path(video_path.name), info.fps, crf=crf, backend=backend)
    poses = JsonListWriter(outputs.path(json_path.name))
    stage_frames = outputs.path(frames_dir.name) if frames_dir is not None else None
    ids: set[int] = set()

    def emit(item: tuple[int, dict, Any]) -> None:  # draw and write one frame (in the writer thread)
        index, frame, image = item
        drawing = render_frame(frame, image=image, **(draw_options or {}))
        poses.write(frame)
        writer.write(drawing)
        if stage_frames is not None:
            write_png(drawing, stage_frames / f"{stem}{sep}{index:0{digits}d}.png")

    sink = Sink(emit, WRITE_QUEUE) if background else None
    frames = read_frames(path, backend)
    try:
        if stage_frames is not None:
            stage_frames.mkdir()
        if background:
            frames = prefetch(frames, PREFETCH)
        results = annotate_frames(estimator, frames, fps=info.fps, options=options, boxes=boxes,
                                  keep_images=overlay)
        count = 0
        for count, result in enumerate(results, start=1):
            frame = pose_frame(result, **(pose_options or {}))
            if people is not None:
                [frame] = limit_people(frame, *people)
            ids.update(result.info.track_ids or [])
            if on_pose is not None:
                on_pose(count - 1, frame)
            item = (count - 1, frame, result.info.image)
            del result
            if sink is not None:
                sink.put(item)
            else:
                emit(item)
            del item
            if bar is not None:
                bar.update(1)
            elif callable(progress):
                progress(count)
        if sink is not None:
            sink.finish()
        check_complete(path, count, info.frames)
        writer.close()
        poses.close()
        outputs.publish(out_dir)
    except BaseException:
        if sink is not None:
            sink.cancel()
        close = getattr(frames, "close", None)
        if close is not None:
            close()
        writer.abort()
        poses.abort()
        outputs.discard()
        raise
    finally:
        if bar is not None:
            bar.close()
    return VideoOutput(json_path, video_path, frames_dir, count, info.fps, ids)


def check_complete(path: Path, decoded: int, announced: int | None) -> None:
    """Refuse a video that decoded to no frames, or to clearly fewer than its container announces (truncated)."""
    if decoded == 0:
        raise InputError(f"no frame of '{path.name}' could be decoded; is the file complete and a video?")
    if announced and decoded < announced - max(2, announced // 50):
        raise InputError(f"only {decoded} of the {announced} frames of '{path.name}' could be decoded; the file "
                         "looks truncated or damaged (re-encode or re-download it).")


__all__ = ["VideoOutput", "annotate_video", "check_complete"]
