"""Milliseconds per frame for POSE_KEYPOINT encoding and DWPose-look rendering, against a per-element reference.

The reference draws the way comfyui_controlnet_aux's DWPose code is written: one small numpy array and one cv2 call
per limb or point, keypoint objects, then the pad-to-64 / un-pad copies of ``resize_image_with_pad``. Both paths
must give identical images (checked). Figures are medians (and minima) over ``--repeat`` runs on one frame of
``--people`` synthetic wholebody people.

    python bench/bench_render.py                       # 1920x1080, 5 people, canvas size and resolution 512
    python bench/bench_render.py --people 10 --resolution 0 768
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sdpose_core.formats.openpose import to_pose_keypoint  # noqa: E402
from sdpose_core.keypoints import FACE, NUM_WHOLEBODY  # noqa: E402
from sdpose_core.pose.render import BODY_COLORS, HAND_COLORS, HAND_EDGES, LIMBS, output_size, render_frame  # noqa: E402

TEMPLATE = [(0, -.42), (.03, -.44), (-.03, -.44), (.06, -.43), (-.06, -.43), (.12, -.30), (-.12, -.30),
            (.18, -.12), (-.20, -.14), (.20, .04), (-.26, .0), (.08, .05), (-.08, .05), (.09, .27),
            (-.10, .27), (.10, .46), (-.11, .46)]


def synthetic_people(count: int, width: int, height: int, seed: int = 0) -> np.ndarray:
    """(count, 133, 3) wholebody people side by side: template body, feet, face ring and fanned hands."""
    rng = np.random.default_rng(seed)
    people = []
    for i in range(count):
        body = np.array(TEMPLATE)
        t = np.linspace(0, 2 * np.pi, FACE.size, endpoint=False)
        face = np.stack([.05 * np.cos(t), -.42 + .06 * np.sin(t)], 1)
        feet = body[[15, 15, 15, 16, 16, 16]] + [[.03, .03], [.05, .02], [-.01, .02], [-.03, .03], [-.05, .02],
                                                  [.01, .02]]
        hands = [body[w] + np.array([[0, 0]] + [[.012 * j * math.cos(a), .012 * j * math.sin(a)]
                                                for a in np.linspace(1.0, 2.2, 5) for j in range(1, 5)])
                 for w in (9, 10)]
        pts = np.concatenate([body, feet, face, *hands]) + rng.normal(0, .003, (NUM_WHOLEBODY, 2))
        size = height * 0.8
        cx = width * (i + 0.5) / count
        xy = np.stack([cx + pts[:, 0] * size, height * 0.5 + pts[:, 1] * size], 1)
        people.append(np.concatenate([xy, rng.uniform(0.5, 1.0, (NUM_WHOLEBODY, 1))], 1))
    return np.stack(people)


class Keypoint(NamedTuple):
    x: float
    y: float


def _decode(flat: list | None) -> list[Keypoint | None] | None:
    if not flat:
        return None
    return [Keypoint(x, y) if c >= 1.0 else None for x, y, c in zip(flat[0::3], flat[1::3], flat[2::3])]


def _reference_body(canvas: np.ndarray, points: list) -> None:
    for (a, b), color in zip(LIMBS, BODY_COLORS):
        if points[a] is None or points[b] is None:
            continue
        xs = np.array([points[a].x, points[b].x]) * 1.0
        ys = np.array([points[a].y, points[b].y]) * 1.0
        length = ((ys[0] - ys[1]) ** 2 + (xs[0] - xs[1]) ** 2) ** 0.5
        angle = math.degrees(math.atan2(ys[0] - ys[1], xs[0] - xs[1]))
        poly = cv2.ellipse2Poly((int(np.mean(xs)), int(np.mean(ys))), (int(length / 2), 4), int(angle), 0, 360, 1)
        cv2.fillConvexPoly(canvas, poly, [int(float(c) * 0.6) for c in color])
    for point, color in zip(points, BODY_COLORS):
        if point is not None:
            cv2.circle(canvas, (int(point.x), int(point.y)), 4, color, thickness=-1)


def _reference_hand(canvas: np.ndarray, points: list | None) -> None:
    if not points:
        return
    for (a, b), color in zip(HAND_EDGES, HAND_COLORS):
        if points[a] is None or points[b] is None:
            continue
        x1, y1, x2, y2 = int(points[a].x), int(points[a].y), int(points[b].x), int(points[b].y)
        if x1 > 0.01 and y1 > 0.01 and x2 > 0.01 and y2 > 0.01:
            cv2.line(canvas, (x1, y1), (x2, y2), np.array(color, dtype=float), thickness=2)
    for point in points:
        if point is not None and int(point.x) > 0.01 and int(point.y) > 0.01:
            cv2.circle(canvas, (int(point.x), int(point.y)), 4, (0, 0, 255), thickness=-1)


def _reference_face(canvas: np.ndarray, points: list | None) -> None:
    for point in points or []:
        if point is not None and int(point.x) > 0.01 and int(point.y) > 0.01:
            cv2.circle(canvas, (int(point.x), int(point.y)), 3, (255, 255, 255), thickness=-1)


def reference_render(pose: dict, resolution: int | None) -> np.ndarray:
    """Per-element drawing and DWPose's pad-to-64 resize, as a plain transcription of the DWPose node would do."""
    height, width = pose["canvas_height"], pose["canvas_width"]
    canvas = np.zeros((height, width, 3), dtype=np.uint8)
    for person in pose["people"]:
        _reference_body(canvas, _decode(person["pose_keypoints_2d"]))
        _reference_hand(canvas, _decode(person["hand_left_keypoints_2d"]))
        _reference_hand(canvas, _decode(person["hand_right_keypoints_2d"]))
        _reference_face(canvas, _decode(person["face_keypoints_2d"]))
    if resolution is None:
        return canvas
    k = float(resolution) / float(min(height, width))
    w, h = output_size(width, height, resolution)
    resized = cv2.resize(canvas, (w, h), interpolation=cv2.INTER_CUBIC if k > 1 else cv2.INTER_AREA)
    pad = [[0, -h % 64], [0, -w % 64], [0, 0]]
    padded = np.ascontiguousarray(np.pad(resized, pad, mode="edge").copy()).copy()
    return np.ascontiguousarray(padded[:h, :w].copy()).copy()


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(median, min) milliseconds over ``repeat`` calls, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=5)
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--resolution", type=int, nargs="+", default=[0, 512], help="0 = canvas size")
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()

    keypoints = synthetic_people(args.people, args.width, args.height)
    pose = to_pose_keypoint(keypoints, args.width, args.height)
    print(f"{args.people} wholebody people on {args.width}x{args.height}, cv2 {cv2.__version__}, "
          f"{cv2.getNumThreads()} cv2 threads, median (min) of {args.repeat} runs")
    med, low = timed(lambda: to_pose_keypoint(keypoints, args.width, args.height), args.repeat)
    print(f"  keypoints -> POSE_KEYPOINT             {med:7.2f} ms ({low:.2f})")
    for res in args.resolution:
        resolution = res or None
        ours = render_frame(pose, resolution=resolution)
        if not np.array_equal(ours, reference_render(pose, resolution)):
            raise SystemExit(f"resolution {res}: fast and reference images differ")
        label = f"resolution {res}" if res else "canvas size"
        fast, fast_low = timed(lambda: render_frame(pose, resolution=resolution), args.repeat)
        ref, ref_low = timed(lambda: reference_render(pose, resolution), args.repeat)
        print(f"  render, {label:<15} fast        {fast:7.2f} ms ({fast_low:.2f})   -> {ours.shape[1]}x{ours.shape[0]}")
        print(f"  render, {label:<15} reference   {ref:7.2f} ms ({ref_low:.2f})   x{ref / fast:.1f}")
        if resolution:
            canvas = render_frame(pose)
            size = output_size(args.width, args.height, resolution)
            interp = cv2.INTER_CUBIC if size[1] > args.height else cv2.INTER_AREA
            rs, rs_low = timed(lambda: cv2.resize(canvas, size, interpolation=interp), args.repeat)
            print(f"    of which cv2.resize alone (DWPose does the same) {rs:7.2f} ms ({rs_low:.2f})")


if __name__ == "__main__":
    main()
