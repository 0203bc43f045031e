"""Video: streaming decode and encode, and pose annotation of clips (tracked, optionally smoothed).

Nothing here holds a whole clip: frames are decoded one at a time (PyAV, or OpenCV when PyAV is missing), posed
by :class:`~sdpose_core.engine.pipeline.PoseEstimator` (which batches crops of consecutive frames and keeps about one
batch of frames in flight), and each result is drawn, encoded and written out before the next is decoded.

* :func:`annotate_frames` — any iterable of frames (a decoded video, a ComfyUI IMAGE batch) -> one
  :class:`PoseResult` per frame, in order, with people in stable track order (``meta["track_ids"]``), optional
  One-Euro smoothing and optional detection every N frames with boxes carried between.
* :func:`pose_frame` — a result as one POSE_KEYPOINT frame dict (plus OpenPose's ``person_id`` when tracked).
* :func:`annotate_video` — a video file -> ``<stem>.json`` (POSE_KEYPOINT list, one dict per frame, streamed to
  disk), ``<stem>_pose.mp4`` (same frame rate and frame count) and optionally ``<stem>_frames/<stem>_00000.png``.

The pose video is H.264 (libx264, yuv420p, CRF 18) at the input's average frame rate with one output frame per
decoded frame; yuv420p needs even sides, so an odd width or height gets one black column or row (bottom/right,
coordinates unchanged). Variable-frame-rate inputs come out constant-rate at their average rate.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np
import torch

from ..atomic import OutputSet, dumps_json, publish, remove, temp_path
from ..errors import InputError
from ..engine.pipeline import PoseEstimator, PoseResult
from ..motion.smooth import KeypointSmoother, OneEuroSettings
from ..motion.track import DEFAULT_THRESHOLD, BoxCarrier, PoseTracker, order_by_id

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".gif")
DEFAULT_FPS = Fraction(30)
DEFAULT_CRF = 18


def is_video(path: str | Path) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def _backend(backend: str | None) -> str:
    if backend not in (None, "av", "opencv"):
        raise InputError(f"Unknown video backend '{backend}'; use 'av' (PyAV) or 'opencv'.")
    if backend is None:
        try:
            import av  # noqa: F401
        except ImportError:
            return "opencv"
        return "av"
    return backend


def _av_errors() -> tuple[type[BaseException], ...]:
    import av

    return (av.error.FFmpegError, OSError, ValueError)


# ----------------------------------------------------------------------------------------------------- reading
@dataclass
class VideoInfo:
    path: Path
    width: int
    height: int
    fps: Fraction  # average frame rate
    frames: int | None  # frame count from the container (may be missing or approximate)


def _fraction(rate: Any) -> Fraction | None:
    try:
        f = Fraction(rate).limit_denominator(1_000_000) if rate else None
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return f if f and f > 0 else None


def probe_video(path: str | Path, backend: str | None = None) -> VideoInfo:
    """Size, frame rate and (container-reported) frame count of a video file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"Video file not found: '{path}'.")
    if _backend(backend) == "av":
        import av

        try:
            with av.open(str(path)) as container:
                if not container.streams.video:
                    raise InputError(f"'{path}' has no video stream.")
                s = container.streams.video[0]
                fps = _fraction(s.average_rate) or _fraction(s.guessed_rate) or _fraction(s.base_rate)
                frames = int(s.frames) or None
                if frames is None and s.duration and s.time_base and fps:
                    frames = int(round(float(s.duration * s.time_base * fps)))
                return VideoInfo(path, int(s.codec_context.width), int(s.codec_context.height),
                                 fps or DEFAULT_FPS, frames)
        except _av_errors() as exc:
            raise InputError(f"Cannot read '{path}' as a video ({exc}).") from exc
    import cv2

    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise InputError(f"Cannot read '{path}' as a video (OpenCV could not open it).")
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        return VideoInfo(path, int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
                         _fraction(Fraction(cap.get(cv2.CAP_PROP_FPS)).limit_denominator(1001)) or DEFAULT_FPS,
                         count if count > 0 else None)
    finally:
        cap.release()


def read_frames(path: str | Path, backend: str | None = None) -> Iterator[np.ndarray]:
    """Decode a video one frame at a time: HxWx3 uint8 RGB arrays, in display order. Nothing is kept."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"Video file not found: '{path}'.")
    if _backend(backend) == "av":
        yield from _read_av(path)
    else:
        yield from _read_cv2(path)


def _read_av(path: Path) -> Iterator[np.ndarray]:
    import av

    errors = _av_errors()
    try:
        container = av.open(str(path))
    except errors as exc:
        raise InputError(f"Cannot read '{path}' as a video ({exc}).") from exc
    try:
        if not container.streams.video:
            raise InputError(f"'{path}' has no video stream.")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        frames = container.decode(stream)
        while True:
            try:
                frame = next(frames)
            except StopIteration:
                return
            except errors as exc:
                raise InputError(f"Cannot decode '{path}' ({exc}); is the file complete?") from exc
            yield frame.to_ndarray(format="rgb24")
    finally:
        container.close()


def _read_cv2(path: Path) -> Iterator[np.ndarray]:
    import cv2

    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise InputError(f"Cannot read '{path}' as a video (OpenCV could not open it).")
        while True:
            ok, bgr = cap.read()
            if not ok:
                return
            yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    finally:
        cap.release()


# ----------------------------------------------------------------------------------------------------- writing
class VideoWriter:
    """Encode RGB uint8 frames to an MP4 one at a time; the file appears (atomically) on :meth:`close`.

    The size is taken from the first frame (odd sides padded to even with black); every frame must match it.
    An exception inside ``with`` discards the partial file.
    """

    def __init__(self, path: str | Path, fps: Any, *, crf: int = DEFAULT_CRF, backend: str | None = None):
        self.path = Path(path)
        self.fps = _fraction(fps)
        if self.fps is None:
            raise InputError(f"VideoWriter: frame rate must be positive, got {fps!r}.")
        self.crf = int(crf)
        self.backend = _backend(backend)
        self.tmp = temp_path(self.path if self.path.suffix else self.path.with_name(self.path.name + ".mp4"))
        self.size: tuple[int, int] | None = None  # source frame width, height
        self.frames = 0
        self._container = self._stream = self._cv = None

    def _open(self, width: int, height: int) -> None:
        self.size = (width, height)
        w, h = width + width % 2, height + height % 2
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.backend == "av":
            import av

            self._container = av.open(str(self.tmp), mode="w", format="mp4")
            codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
            stream = self._container.add_stream(codec, rate=self.fps)
            stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
            if codec == "libx264":
                stream.options = {"crf": str(self.crf)}
            self._stream = stream
        else:
            import cv2

            self._cv = cv2.VideoWriter(str(self.tmp), cv2.VideoWriter_fourcc(*"mp4v"), float(self.fps), (w, h))
            if not self._cv.isOpened():
                raise InputError(f"OpenCV cannot write '{self.path}' (no mp4v encoder?); "
                                 "install PyAV (pip install av).")

    def write(self, frame: np.ndarray) -> None:
        frame = np.ascontiguousarray(frame)
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise InputError(f"VideoWriter: expected HxWx3 uint8 RGB, got {frame.dtype} {frame.shape}.")
        h, w = frame.shape[:2]
        if self.size is None:
            self._open(w, h)
        elif (w, h) != self.size:
            raise InputError(f"VideoWriter: frame {self.frames} is {w}x{h}, earlier frames {self.size[0]}x{self.size[1]}.")
        if w % 2 or h % 2:
            frame = np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)))
        if self._stream is not None:
            import av

            vf = av.VideoFrame.from_ndarray(frame, format="rgb24")
            vf.pts = self.frames
            vf.time_base = 1 / self.fps
            self._container.mux(self._stream.encode(vf))
        else:
            import cv2

            self._cv.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        self.frames += 1

    def close(self) -> Path:
        """Flush, close and move the file into place; returns its path."""
        if self.size is None:
            raise InputError(f"VideoWriter: no frames were written to '{self.path}'.")
        if self._stream is not None:
            self._container.mux(self._stream.encode(None))
            self._container.close()
            self._container = self._stream = None
        elif self._cv is not None:
            self._cv.release()
            self._cv = None
        return publish(self.tmp, self.path)

    def abort(self) -> None:
        """Drop the partial file."""
        try:
            if self._container is not None:
                self._container.close()
            if self._cv is not None:
                self._cv.release()
        except Exception:  # noqa: BLE001 - we are discarding the file anyway
            pass
        self._container = self._stream = self._cv = None
        remove(self.tmp)

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class JsonListWriter:
    """Write a JSON list one element at a time (a POSE_KEYPOINT list of any length); atomic on close."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.tmp = temp_path(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.tmp, "w", encoding="utf-8")
        self._file.write("[")
        self.count = 0

    def write(self, item: Any) -> None:
        self._file.write(("," if self.count else "") + dumps_json(item))
        self.count += 1

    def close(self) -> Path:
        self._file.write("]")
        self._file.close()
        return publish(self.tmp, self.path)

    def abort(self) -> None:
        self._file.close()
        remove(self.tmp)


# ------------------------------------------------------------------------------------------ background stages
PREFETCH = 4  # frames decoded ahead of the pipeline
WRITE_QUEUE = 4  # posed frames waiting to be drawn and encoded

_DONE = object()


def prefetch(iterable: Iterable[Any], depth: int = PREFETCH) -> Iterator[Any]:
    """Iterate ``iterable`` in a background thread, at most ``depth`` items ahead; its errors surface here.

    Closing the returned generator (or dropping it) stops the thread, which then closes ``iterable`` itself.
    """
    import queue
    import threading

    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: Any) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        it = iter(iterable)
        try:
            for item in it:
                if not offer((True, item)):
                    return
                del item
            offer((True, _DONE))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            offer((False, exc))
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=run, name="sdpose-decode", daemon=True)
    thread.start()
    try:
        while True:
            ok, item = q.get()
            if not ok:
                raise item
            if item is _DONE:
                return
            yield item
            del item
    finally:
        stop.set()
        thread.join()


class _Sink:
    """Hand items to ``consume`` in a background thread through a bounded queue; its errors surface on put/finish."""

    def __init__(self, consume: Callable[[Any], None], depth: int = WRITE_QUEUE):
        import queue
        import threading

        self.consume = consume
        self.queue: queue.Queue = queue.Queue(maxsize=depth)
        self.error: BaseException | None = None
        self.cancelled = False
        self.thread = threading.Thread(target=self._run, name="sdpose-encode", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            item = self.queue.get()
            if item is _DONE:
                return
            if self.error is None and not self.cancelled:
                try:
                    self.consume(item)
                except BaseException as exc:  # noqa: BLE001 - re-raised in the producer
                    self.error = exc
            del item

    def put(self, item: Any) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put(item)

    def finish(self) -> None:
        self.queue.put(_DONE)
        self.thread.join()
        if self.error is not None:
            raise self.error

    def cancel(self) -> None:
        self.cancelled = True
        while True:  # drop what is queued, then stop the thread
            try:
                self.queue.get_nowait()
            except Exception:  # noqa: BLE001 - queue.Empty
                break
        self.queue.put(_DONE)
        self.thread.join()


# --------------------------------------------------------------------------------------------------- annotation
@dataclass
class ClipOptions:
    """How a clip is annotated beyond single images (defaults: tracked, unsmoothed, detection on every frame).

    ``track``: stable person order and ids across frames. ``smooth``: One-Euro smoothing of keypoint positions
    (implies tracking; off by default so that every frame's keypoints are exactly the model's). ``detect_every``:
    run the person detector on every Nth frame only, carrying each person's box between detections.
    ``max_age``: frames a lost person's id is kept for re-identification (default: one second).
    """

    track: bool = True
    smooth: bool = False
    min_cutoff: float = OneEuroSettings.min_cutoff
    beta: float = OneEuroSettings.beta
    detect_every: int = 1
    max_age: int | None = None
    threshold: float = DEFAULT_THRESHOLD

    def check(self) -> None:
        if int(self.detect_every) != self.detect_every or self.detect_every < 1:
            raise InputError(f"detect_every must be a whole number >= 1, got {self.detect_every}.")
        if self.max_age is not None and self.max_age < 0:
            raise InputError(f"max_age must be zero or positive, got {self.max_age}.")
        if self.smooth:
            OneEuroSettings(self.min_cutoff, self.beta, threshold=self.threshold).check()


def annotate_frames(estimator: PoseEstimator, frames: Iterable[Any], *, fps: Any = DEFAULT_FPS,
                    options: ClipOptions | None = None, boxes: Iterable[Any] | None = None,
                    keep_images: bool = False, **option_values: Any) -> Iterator[PoseResult]:
    """Pose a clip: one :class:`PoseResult` per frame, in order, streamed (about one batch of frames in flight).

    ``frames``: any iterable of images the estimator accepts (a :func:`read_frames` generator, a ComfyUI IMAGE
    tensor [B, H, W, 3] in 0..1, a list of arrays). ``fps`` times the smoothing. ``options`` (or the same fields as
    keywords, e.g. ``smooth=True, detect_every=5``): see :class:`ClipOptions`. ``boxes``: per-frame boxes as for the
    estimator (then no detection and no carrying). The estimator's own ``detector`` finds people; it is not
    modified. With tracking, people are sorted by track id and ``meta`` has ``frame`` (index) and ``track_ids``;
    with ``keep_images``, ``meta["image"]`` is the input frame (for overlays).
    """
    opts = dataclasses.replace(options or ClipOptions(), **option_values)
    opts.check()
    rate = _fraction(fps)
    if rate is None:
        raise InputError(f"fps must be positive, got {fps!r}.")
    est, carrier = estimator, None
    if boxes is None and opts.detect_every > 1 and estimator.detector is not None:
        carrier = BoxCarrier(estimator.detector, int(opts.detect_every), threshold=opts.threshold)
        est = copy.copy(estimator)
        est.detector = carrier.detector
        boxes = carrier.boxes()
    tracker = None
    if opts.track or opts.smooth:
        max_age = opts.max_age if opts.max_age is not None else max(1, int(round(float(rate))))
        tracker = PoseTracker(max_age=max_age, threshold=opts.threshold)
    smoother = None
    if opts.smooth:
        settings = OneEuroSettings(opts.min_cutoff, opts.beta, threshold=opts.threshold)
        smoother = KeypointSmoother(float(rate), settings, max_age=tracker.max_age)

    holder: dict[str, Any] = {}

    def feed() -> Iterator[Any]:
        for image in frames:
            if keep_images:
                holder["image"] = image
            yield image

    def metas() -> Iterator[dict]:
        for i in itertools.count():
            meta: dict[str, Any] = {"frame": i}
            if keep_images:
                meta["image"] = holder.pop("image", None)
            yield meta

    for result in est(feed(), boxes, metas()):
        index = result.meta["frame"]
        if carrier is not None:
            carrier.observe(index, result)
        if tracker is not None:
            ids = tracker.update(result.keypoints, result.boxes, index)
            order = torch.as_tensor(order_by_id(ids))
            keypoints = result.keypoints[order]
            ids = ids[order.numpy()]
            if smoother is not None:
                keypoints = torch.as_tensor(smoother.smooth(ids, keypoints.numpy(), result.boxes[order].numpy(),
                                                            index), dtype=result.keypoints.dtype)
            result = PoseResult(result.width, result.height, keypoints, result.boxes[order],
                                result.box_scores[order], {**result.meta, "track_ids": [int(i) for i in ids]})
        yield result


def pose_frame(result: PoseResult, **pose_options: Any) -> dict[str, Any]:
    """One POSE_KEYPOINT frame dict from a result (``to_pose_keypoint`` options), with ``person_id`` when tracked.

    ``person_id`` follows CMU OpenPose's JSON (``"person_id": [id]``); readers that do not know it ignore it.
    """
    from ..formats.openpose import to_pose_keypoint

    frame = to_pose_keypoint(result.keypoints.numpy(), result.width, result.height, **pose_options)
    ids = result.meta.get("track_ids")
    if ids is not None:
        for person, track_id in zip(frame["people"], ids):
            person["person_id"] = [int(track_id)]
    return frame


@dataclass
class VideoOutput:
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
    json_path, video_path = out_dir / f"{stem}.json", out_dir / f"{stem}_pose.mp4"
    frames_dir = out_dir / f"{stem}_frames" if frames_png else None
    taken = [p for p in (json_path, video_path, frames_dir) if p is not None and p.exists()]
    if taken:
        raise InputError(f"'{taken[0]}' already exists; choose another stem or folder (nothing is overwritten).")
    digits = max(5, len(str((info.frames or 1) - 1)))
    bar = None
    if progress is True:
        from tqdm.auto import tqdm

        bar = tqdm(total=info.frames, desc=path.name, unit="frame")
    outputs = OutputSet(temp_path(out_dir / stem))
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
            _write_png(drawing, stage_frames / f"{stem}_{index:0{digits}d}.png")

    sink = _Sink(emit, WRITE_QUEUE) if background else None
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
            ids.update(result.meta.get("track_ids", []))
            if on_pose is not None:
                on_pose(count - 1, frame)
            item = (count - 1, frame, result.meta.pop("image", None) if overlay else None)
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


def _write_png(image: np.ndarray, path: Path) -> None:
    import cv2

    if not cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR)):
        raise InputError(f"Cannot write '{path}'.")


def count_frames(path: str | Path, backend: str | None = None) -> int:
    """Frames a full decode yields (slow: decodes everything; for checks, not for planning)."""
    return sum(1 for _ in read_frames(path, backend))


__all__ = ["VIDEO_SUFFIXES", "ClipOptions", "JsonListWriter", "VideoInfo", "VideoOutput", "VideoWriter",
           "annotate_frames", "annotate_video", "count_frames", "is_video", "pose_frame", "probe_video",
           "read_frames"]
