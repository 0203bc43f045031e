"""What retargeting, face crops and gap filling add to the clip path, and how much shake the smoothers remove.

Part 1 (overhead): the clip path of ``bench_video.py`` (:func:`sdpose_core.video.file_job.annotate_video`: decode,
detect, pose, track, draw, encode, write JSON) on its synthetic clip (default 900 frames of 1280x720), warm, then on
the POSE_KEYPOINT it wrote (with ``--dropout`` of the keypoints removed at random, so there are gaps to fill): gap
filling, retargeting to a reference body, face boxes (smoothed) and 512x512 face crops of every frame (the crop
calls alone are timed; decoding is already paid by the clip path). The figure is their total over the clip path's
time. Weights are random and every keypoint is kept (threshold 0), so every part is present and processed.

Part 2 (shake): a person walking at constant speed with Gaussian keypoint noise (1 % of their height), smoothed by
the causal One-Euro filter (``--smooth``) and the offline forward-backward one (:mod:`sdpose_core.motion.zero_lag`):
frame-to-frame jitter (RMS second difference) cut, error to the truth, and lag along the motion.

    python bench/bench_pose_tools.py                  # both parts, CPU, tiny preset, 192x256 crops
    python bench/bench_pose_tools.py --shake-only
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def reference_pose(width: int, height: int) -> dict:
    """A reference character: a stick figure with long legs and a small head (wholebody, with hands and face)."""
    from test_retarget import POSE, body, frame, wholebody

    lengths = (45, 45, 70, 60, 70, 60, 150, 140, 140, 150, 140, 140, 45, 10, 12, 10, 12)
    return frame(wholebody(body(lengths, POSE, neck=(width / 2, height * 0.25)), 25, 30), w=width, h=height)


def with_dropouts(frames: list, fraction: float, seed: int = 0) -> list:
    """Remove ``fraction`` of the body points at random (score and position zeroed)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    for frame in frames:
        for person in frame["people"]:
            body = np.asarray(person["pose_keypoints_2d"], dtype=np.float64).reshape(-1, 3)
            body[rng.random(len(body)) < fraction] = 0.0
            person["pose_keypoints_2d"] = body.reshape(-1).tolist()
    return frames


def overhead(args) -> None:
    import json

    import torch
    from bench_engine import make_checkpoint
    from bench_video import colour_detector, synthetic_frames

    from sdpose_core.engine.pipeline import PoseEstimator
    from sdpose_core.motion.gaps import fill_gaps
    from sdpose_core.pose.face import crop, face_boxes
    from sdpose_core.pose.retarget import retarget
    from sdpose_core.sizes import parse_size
    from sdpose_core.video.file_job import annotate_video
    from sdpose_core.video.io import VideoWriter, read_frames
    from sdpose_core.video.options import ClipOptions
    from sdpose_core.weights.checkpoint import load_model

    width, height = parse_size(args.size)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="sdpose-bench-tools-"))
    checkpoint = workdir / "tiny-wholebody"
    if not checkpoint.exists():
        make_checkpoint(checkpoint, "tiny", "wholebody", 0)
    clip = workdir / f"synthetic_{width}x{height}_{args.frames}f.mp4"
    if not clip.exists():
        with VideoWriter(clip, Fraction(args.fps).limit_denominator(1001)) as writer:
            for image in synthetic_frames(args.frames, width, height, args.fps):
                writer.write(image)
    model = load_model(checkpoint, device="cpu", cache=workdir / "cache")
    estimator = PoseEstimator(model, input_size=(192, 256), flip=False, batch_size=8, detector=colour_detector([]))
    list(estimator(synthetic_frames(8, width, height, args.fps)))  # warm-up
    out = workdir / f"out{os.getpid()}"
    start = time.perf_counter()
    result = annotate_video(estimator, clip, out, stem="clip", options=ClipOptions(),
                            pose_options=dict(threshold=0.0))
    clip_seconds = time.perf_counter() - start
    driving = with_dropouts(json.loads(result.json.read_text()), args.dropout)

    timings = {}
    start = time.perf_counter()
    filled = fill_gaps(driving)
    timings["gap filling"] = time.perf_counter() - start
    start = time.perf_counter()
    retarget(filled, reference_pose(width, height))
    timings["retargeting"] = time.perf_counter() - start
    start = time.perf_counter()
    boxes = face_boxes(filled, fps=args.fps)
    timings["face boxes (smoothed)"] = time.perf_counter() - start
    crops = 0.0
    for image, box in zip(read_frames(clip), boxes):
        start = time.perf_counter()
        crop(image, box)
        crops += time.perf_counter() - start
    timings["face crops 512x512"] = crops
    total = sum(timings.values())
    print(f"clip path: {result.frame_count} frames {width}x{height}, {clip_seconds:.1f} s "
          f"({result.frame_count / clip_seconds:.2f} frames/s; tiny preset, 192x256 crops, no flip, CPU, "
          f"{torch.get_num_threads()} threads)")
    for name, seconds in timings.items():
        print(f"  {name:24s} {seconds * 1000:8.1f} ms  {100 * seconds / clip_seconds:6.2f} % of the clip path")
    print(f"  {'together':24s} {total * 1000:8.1f} ms  {100 * total / clip_seconds:6.2f} % of the clip path")


def shake(args) -> None:
    import numpy as np

    from sdpose_core.motion.smooth import KeypointSmoother
    from sdpose_core.motion.zero_lag import smooth_series
    from test_track import walk

    def jitter(seq):
        return float(np.sqrt((np.diff(seq[..., :2], n=2, axis=0) ** 2).mean()))

    def rms(a, b):
        return float(np.sqrt(((a[..., :2] - b[..., :2]) ** 2).mean()))

    print(f"shake: 150 frames at {args.fps:g} fps, person 200 px tall, noise sigma 2 px, defaults (1 Hz, beta 10)")
    print(f"  {'speed':>12s} | {'jitter cut causal / zero-lag':>30s} | {'error px raw / causal / zero-lag':>34s} "
          f"| {'lag px causal / zero-lag':>26s}")
    rng = np.random.default_rng(0)
    for speed in (0, 2, 4, 8):
        truth = walk((100, 300), (speed, 0), 150, 200.0, stride_hz=0.0, fps=args.fps)
        raw = truth.copy()
        raw[..., :2] += rng.normal(0, 2.0, raw[..., :2].shape)
        smoother = KeypointSmoother(args.fps)
        causal = np.stack([smoother.smooth([0], kp[None], [[0, 0, 100, 200]], t)[0] for t, kp in enumerate(raw)])
        offline = smooth_series(raw, args.fps)
        s = slice(15, -15)
        lag = lambda out: float((out[s, :, 0] - truth[s, :, 0]).mean())  # noqa: E731
        print(f"  {speed * args.fps / 200:8.2f} h/s | {jitter(raw[s]) / jitter(causal[s]):13.2f}x / "
              f"{jitter(raw[s]) / jitter(offline[s]):.2f}x | {rms(raw[s], truth[s]):14.2f} / "
              f"{rms(causal[s], truth[s]):.2f} / {rms(offline[s], truth[s]):.2f} | "
              f"{lag(causal):17.2f} / {lag(offline):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=900)
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--dropout", type=float, default=0.05, help="fraction of body points removed")
    parser.add_argument("--shake-only", action="store_true")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    os.environ.setdefault("TQDM_DISABLE", "1")
    shake(args)
    if not args.shake_only:
        overhead(args)


if __name__ == "__main__":
    main()
