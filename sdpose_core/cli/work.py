"""What a worker does with one unit of a batch job: pose it and stage its outputs, one input at a time isolated.

A unit is up to ``batch_size`` consecutive images (posed in shared model batches) or one video. Every engine (one
process, ``accelerate launch`` shards, Ray actors) runs units through :func:`run_unit`, so they give the same
bytes. An input that cannot be read or posed becomes a failed :class:`Outcome` naming the reason; the others in
its unit are still done. Outputs are staged (:class:`~sdpose_core.atomic.OutputSet`); the job publishes them.
"""

from __future__ import annotations

import dataclasses
import itertools
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..atomic import OutputSet, dumps_json, write_json
from ..engine.options import EstimatorOptions
from ..errors import InputError
from ..video.options import DEFAULT_CRF
from .job import FACE_OUTPUT, Task, output_names


@dataclass
class WorkSettings:
    """Everything that decides how inputs are posed and drawn (plain values: it travels to Ray workers)."""

    model: str
    scheme: str | None = None
    options: EstimatorOptions = field(default_factory=EstimatorOptions)
    compile: bool = False  # torch.compile (speed only: keypoints within float noise of eager)
    detector: str | None = "yolox"  # None: whole image (or the boxes given)
    cache: str | None = None
    pose_options: dict = field(default_factory=dict)
    draw_options: dict = field(default_factory=dict)
    overlay: bool = False
    clip: dict = field(default_factory=dict)  # ClipOptions fields
    frames: bool = False
    crf: int = DEFAULT_CRF
    face_crops: bool = False  # videos: also the face video (sdpose_core.video.face_video)
    people: tuple[int, str] | None = None  # (max_people, order): keep the first N people of each frame

    def shaping(self) -> dict[str, Any]:
        """The settings that change the outputs (not device or batch size), for the job's resume records: the
        estimator options flat beside the others (the threshold is in ``pose_options``), as records have them."""
        fields = dataclasses.asdict(self)
        fields.update(fields.pop("options"))
        skip = {"batch_size", "cache", "threshold", "compile"}
        return {k: v for k, v in fields.items() if k not in skip}


@dataclass
class Unit:
    """Consecutive images, or one video, with their caller-given boxes (None: detector or whole image)."""

    tasks: list[Task]
    boxes: list[Any]
    weight: int  # progress units: 1 per image, the container's frame count for a video

    @property
    def name(self) -> str:
        return f"u{self.tasks[0].index:07d}"


@dataclass
class Outcome:
    """One input done (staged outputs, COCO records) or failed (``error``)."""

    task: Task
    outputs: OutputSet | None = None
    coco: list[dict] = field(default_factory=list)
    frames: int = 0
    error: str | None = None


def build_estimator(settings: WorkSettings, device: str):
    """Load the model (and detector) once for a worker, with the library's one constructor."""
    from ..api import load_estimator

    return load_estimator(settings.model, detector=settings.detector, device=device, scheme=settings.scheme,
                          cache_dir=settings.cache, options=settings.options,
                          compile=settings.compile)


def reason(exc: BaseException) -> str:
    """A failure's one-line reason."""
    from PIL import Image

    if isinstance(exc, Image.DecompressionBombError):
        return (f"image too large to decode safely ({exc}); shrink it, or raise PIL.Image.MAX_IMAGE_PIXELS "
                "if you trust the file")
    text = " ".join(str(exc).split())
    return text if isinstance(exc, InputError) else f"{type(exc).__name__}: {text}"


def run_unit(estimator, settings: WorkSettings, unit: Unit, stage: Callable[..., OutputSet],
             progress: Callable[[int], None] | None = None) -> Iterator[Outcome]:
    """Pose a unit; one Outcome per input. ``stage(name, folder=False)`` gives a fresh OutputSet (``folder``: in a
    folder of its own); ``progress(n)``: n more done."""
    tick = progress or (lambda n: None)
    if unit.tasks[0].video:
        yield _video(estimator, settings, unit.tasks[0], unit.boxes[0], stage, tick, unit.weight)
        return
    for outcome in _images(estimator, settings, unit, stage):
        tick(1)
        yield outcome


# ------------------------------------------------------------------------------------------------------ images
def read_image(path: Path, boxes: list | None):
    """An input image as an array, its size and caller boxes checked; InputError names what is wrong."""
    from PIL import Image

    from ..images import MIN_SIDE, load_image

    try:
        image = load_image(path)
    except Image.DecompressionBombError as exc:
        raise InputError(reason(exc)) from None
    h, w = image.shape[:2]
    if h < MIN_SIDE or w < MIN_SIDE:
        raise InputError(f"the image is {w}x{h} pixels; at least {MIN_SIDE} per side are needed")
    for box in boxes or []:
        x, y, bw, bh = box[:4]
        if x >= w or y >= h or x + bw <= 0 or y + bh <= 0:
            raise InputError(f"box {list(box[:4])} lies entirely outside the {w}x{h} image")
    return image


def _images(estimator, settings: WorkSettings, unit: Unit, stage: Callable[..., OutputSet]) -> Iterator[Outcome]:
    from ..video.io import prefetch

    failed: deque[Outcome] = deque()

    def loaded() -> Iterator[tuple[Task, Any, Any]]:
        for task, boxes in zip(unit.tasks, unit.boxes):
            try:
                image = read_image(task.path, boxes)
            except Exception as exc:  # noqa: BLE001 - any unreadable input is that input's failure
                failed.append(Outcome(task, error=reason(exc)))
                continue
            yield task, image, boxes

    for task, image, result in pose_isolated(estimator, prefetch(loaded())):
        while failed:
            yield failed.popleft()
        if isinstance(result, BaseException):
            yield Outcome(task, error=reason(result))
            continue
        try:
            yield _write_image(task, result, image if settings.overlay else None, settings, stage)
        except Exception as exc:  # noqa: BLE001
            yield Outcome(task, error=reason(exc))
    while failed:
        yield failed.popleft()


def pose_isolated(estimator, items: Iterable[tuple[Task, Any, Any]]) -> Iterator[tuple[Task, Any, Any]]:
    """(task, image, result or the exception) per (task, image, boxes), in order, images sharing model batches.

    When a batch fails, the images in flight are posed again one by one, so only the culprit fails.
    """
    items = iter(items)
    inflight: deque[tuple[Task, Any, Any]] = deque()

    def images(first: tuple[Task, Any, Any]) -> Iterator[Any]:
        for item in itertools.chain([first], items):
            inflight.append(item)
            yield item[1]

    def boxes() -> Iterator[Any]:
        while True:
            yield inflight[-1][2]

    while (first := next(items, None)) is not None:
        try:
            for result in estimator(images(first), boxes()):
                task, image, _ = inflight.popleft()
                yield task, image, result
            return
        except Exception:  # noqa: BLE001 - isolated below
            retry = list(inflight)
            inflight.clear()
        for task, image, item_boxes in retry:
            try:
                (result,) = list(estimator([image], [item_boxes]))
            except Exception as exc:  # noqa: BLE001
                result = exc
            yield task, image, result


def _write_image(task: Task, result, image, settings: WorkSettings, stage: Callable[..., OutputSet]) -> Outcome:
    from PIL import Image

    from ..formats.coco import coco_records, image_id_from_stem
    from ..formats.openpose import to_pose_keypoint
    from ..pose.render import render_frame

    pose = to_pose_keypoint(result.keypoints.numpy(), result.width, result.height, **settings.pose_options)
    if settings.people is not None:
        from ..pose.people import limit_people

        [pose] = limit_people(pose, *settings.people)
    coco = coco_records(image_id_from_stem(task.path.stem), result.keypoints, result.box_scores)
    dumps_json(coco)  # refuses non-finite numbers before anything is staged
    drawing = render_frame(pose, image=image, **settings.draw_options)
    outputs = stage(task.stem)
    try:
        json_name, png_name = output_names(task.stem, False, False)
        write_json(outputs.path(json_name), pose)
        Image.fromarray(drawing).save(outputs.path(png_name), format="PNG")
    except BaseException:
        outputs.discard()
        raise
    return Outcome(task, outputs, coco, 1)


# ------------------------------------------------------------------------------------------------------ videos
def _video(estimator, settings: WorkSettings, task: Task, boxes: list | None, stage: Callable[..., OutputSet],
           tick: Callable[[int], None], weight: int) -> Outcome:
    from ..video.file_job import annotate_video
    from ..video.options import ClipOptions

    seen = [0]

    def frame_done(count: int) -> None:
        tick(count - seen[0])
        seen[0] = count

    frame_boxes = None if boxes is None else itertools.chain(boxes, itertools.repeat([]))
    outputs = stage(task.stem, folder=True)  # annotate_video stages its own outputs inside it
    try:
        out = annotate_video(estimator, task.path, outputs.stage, stem=task.stem, options=ClipOptions(**settings.clip),
                             frames_png=settings.frames, crf=settings.crf, pose_options=settings.pose_options,
                             draw_options=settings.draw_options, overlay=settings.overlay, boxes=frame_boxes,
                             progress=frame_done, people=settings.people)
        if settings.face_crops:
            _face_video(task, out, outputs.path(task.stem + FACE_OUTPUT), settings.crf)
    except Exception as exc:  # noqa: BLE001 - this video's failure
        outputs.discard()
        tick(max(0, weight - seen[0]))
        return Outcome(task, error=reason(exc), frames=seen[0])
    except BaseException:
        outputs.discard()
        raise
    tick(max(0, weight - seen[0]))
    return Outcome(task, outputs, [], out.frame_count)


def _face_video(task: Task, out, target: Path, crf: int) -> None:
    """The face video beside the pose video (staged with it), or a warning when no face is ever visible."""
    from ..video.face_video import write_face_video

    try:
        write_face_video(task.path, out.json, target, out.fps, crf=crf)
    except InputError as exc:
        print(f"warning: {task.path.name}: no face video ({exc})", file=sys.stderr)
