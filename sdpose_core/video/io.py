"""Video container I/O: probe, decode frame by frame (PyAV, or OpenCV when PyAV is missing), encode, stream a JSON
list, and the two background threads (decode ahead, draw + encode behind) that overlap the model.

Nothing here holds a whole clip. The pose video is H.264 (libx264, yuv420p, CRF 18) at the input's average frame
rate with one output frame per decoded frame; yuv420p needs even sides, so an odd width or height gets one black
column or row (bottom/right, coordinates unchanged). Variable-frame-rate inputs come out constant-rate at their
average rate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import dumps_json, open_temporary, publish, remove, temp_path
from ..errors import InputError
from .options import DEFAULT_CRF

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".gif")
DEFAULT_FPS = Fraction(30)


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


def as_rate(rate: Any) -> Fraction | None:
    """A frame rate as a positive Fraction, or None when it is missing, zero, negative or not a number."""
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
                fps = as_rate(s.average_rate) or as_rate(s.guessed_rate) or as_rate(s.base_rate)
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
                         as_rate(Fraction(cap.get(cv2.CAP_PROP_FPS)).limit_denominator(1001)) or DEFAULT_FPS,
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
    An exception inside ``with`` discards the partial file; without ``replace`` an existing ``path`` is kept
    (:class:`~sdpose_core.atomic.AlreadyExists`, and the new file is dropped).
    """

    def __init__(self, path: str | Path, fps: Any, *, crf: int = DEFAULT_CRF, backend: str | None = None,
                 replace: bool = True):
        self.path = Path(path)
        self.replace = replace
        self.fps = as_rate(fps)
        if self.fps is None:
            raise InputError(f"VideoWriter: frame rate must be positive, got {fps!r}.")
        self.crf = int(crf)
        self.backend = _backend(backend)
        named = self.path if self.path.suffix else self.path.with_name(self.path.name + ".mp4")  # the muxer's format
        self.tmp = temp_path(named, unique=True)
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
            raise InputError(f"VideoWriter: frame {self.frames} is {w}x{h}, "
                             f"earlier frames {self.size[0]}x{self.size[1]}.")
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
        try:
            return publish(self.tmp, self.path, replace=self.replace)
        finally:
            remove(self.tmp)

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

    def __enter__(self) -> VideoWriter:
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
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp, self._file = open_temporary(self.path)
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


class Sink:
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


def write_png(image: np.ndarray, path: Path) -> None:
    """Write an HxWx3 uint8 RGB image as a PNG, or an InputError naming the file."""
    import cv2

    if not cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR)):
        raise InputError(f"Cannot write '{path}'.")


def count_frames(path: str | Path, backend: str | None = None) -> int:
    """Frames a full decode yields (slow: decodes everything; for checks, not for planning)."""
    return sum(1 for _ in read_frames(path, backend))


__all__ = ["DEFAULT_CRF", "DEFAULT_FPS", "PREFETCH", "VIDEO_SUFFIXES", "WRITE_QUEUE", "JsonListWriter", "Sink",
           "VideoInfo", "VideoWriter", "as_rate", "count_frames", "is_video", "prefetch", "probe_video", "read_frames",
           "write_png"]
