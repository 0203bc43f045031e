"""Frames/s annotating a video: the streaming clip path against frame-by-frame.

A synthetic clip (default 30 s of 1280x720 at 30 fps, one figure walking across a textured background) is written
once. Both paths decode it, find the person, pose, draw and encode a pose video and write POSE_KEYPOINT JSON:

* ``clip``: :func:`sdpose_core.video.file_job.annotate_video` - crops of consecutive frames share batches
  (``--batch-size``), people are tracked, detection runs every ``--detect-every`` frames (boxes carried between);
* ``frame-by-frame``: each frame posed on its own (batch 1, no cross-frame batching), detection on every frame,
  then drawn and encoded the same way;
* ``official frame-by-frame`` (``--official``): the same loop with the official model path in place of our engine
  (`tests/official.py`: full U-Net with hooks, text encoder on every call, parts loaded with
  ``from_pretrained``), i.e. what running the official demo frame after frame costs.

The person detector is a colour threshold on the figure (the real YOLOX weights cannot be downloaded here); its cost
is small and the same per call in both paths. Weights are random (speed only); ``--preset sd2`` is the released size.

    python bench/bench_video.py                                   # CPU, reduced: tiny preset, 192x256 crops
    python bench/bench_video.py --baseline-seconds 10 --repeats 2 # frame-by-frame on the first 10 s; best of 2
    python bench/bench_video.py --preset sd2 --input-size 768x1024 --device cuda --dtype bf16 --batch-size 16
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # official: the test oracle

FIGURE_COLOR = (230, 60, 40)


def synthetic_frames(n: int, width: int, height: int, fps: float):
    """One figure (thick limbs, head) walking left to right and back over a static textured background."""
    import cv2
    import numpy as np

    rng = np.random.default_rng(0)
    noise = cv2.resize(rng.integers(40, 140, (height // 16 + 1, width // 16 + 1, 3), dtype=np.uint8), (width, height),
                       interpolation=cv2.INTER_CUBIC)
    tall = int(height * 0.7)
    for t in range(n):
        frame = noise.copy()
        span = width - tall // 2
        pos = (t * 4) % (2 * span)
        cx = tall // 4 + (pos if pos < span else 2 * span - pos)
        hip = np.array([cx, int(height * 0.55)])
        phase = 2 * np.pi * t / fps
        swing = int(tall * 0.12 * np.sin(phase))
        neck = hip + (0, -int(tall * 0.3))
        head = neck + (0, -int(tall * 0.1))
        limbs = [(hip, neck), (neck, neck + (swing, int(tall * 0.28))), (neck, neck + (-swing, int(tall * 0.28))),
                 (hip, hip + (-swing, int(tall * 0.45))), (hip, hip + (swing, int(tall * 0.45)))]
        for a, b in limbs:
            cv2.line(frame, tuple(int(v) for v in a), tuple(int(v) for v in b), FIGURE_COLOR, max(3, tall // 25))
        cv2.circle(frame, tuple(int(v) for v in head), tall // 14, FIGURE_COLOR, -1)
        yield frame


def colour_detector(calls: list):
    """Person box = extent of the figure's colour, found on a 4x subsampled image tensor [3, H, W] in 0..1."""
    import torch

    target = torch.tensor(FIGURE_COLOR, dtype=torch.float32)[:, None, None] / 255

    def detect(image):
        calls.append(1)
        small = image[:, ::4, ::4]
        mask = (small - target.to(small.device)).abs().amax(0) < 0.06
        ys, xs = torch.nonzero(mask, as_tuple=True)
        if not len(ys):
            return torch.zeros(0, 5)
        box = torch.stack([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]).double().cpu() * 4
        return torch.cat([box, torch.ones(1, dtype=torch.float64)])[None]

    return detect


def run_clip(estimator, clip: Path, out: Path, args, stem: str = "clip") -> dict:
    from sdpose_core.video.file_job import annotate_video
    from sdpose_core.video.options import ClipOptions

    start = time.perf_counter()
    result = annotate_video(estimator, clip, out, stem=stem, options=ClipOptions(detect_every=args.detect_every),
                            draw_options=dict(resolution=args.resolution))
    seconds = time.perf_counter() - start
    return {"frames": result.frame_count, "seconds": seconds}


class OfficialModel:
    """The official inference path behind the interface PoseEstimator calls (crops in [-1, 1] -> heatmaps)."""

    def __init__(self, checkpoint: Path, scheme, device):
        import torch

        from official import load_official

        self.scheme, self.device, self.dtype = scheme, torch.device(device), torch.float32
        self.parts = load_official(checkpoint, scheme, self.device)

    def __call__(self, pixels, sample=False, generator=None):
        from official import official_heatmaps

        return official_heatmaps(*self.parts, self.scheme, pixels, flip=False, sample=sample, generator=generator)


def run_frame_by_frame(model, clip: Path, out: Path, args, detector, limit: int | None) -> dict:
    from sdpose_core.engine.pipeline import PoseEstimator
    from sdpose_core.formats.openpose import to_pose_keypoint
    from sdpose_core.pose.render import render_frame
    from sdpose_core.video.io import JsonListWriter, VideoWriter, probe_video, read_frames

    estimator = PoseEstimator(model, input_size=args.input_size, flip=args.flip, batch_size=1, detector=detector)
    info = probe_video(clip)
    start = time.perf_counter()
    frames = 0
    with VideoWriter(out / "frame_by_frame_pose.mp4", info.fps) as writer:
        poses = JsonListWriter(out / "frame_by_frame.json")
        for frame in read_frames(clip):
            (result,) = estimator([frame])  # one frame at a time: its crops alone in a batch
            pose = to_pose_keypoint(result.keypoints.numpy(), result.width, result.height)
            poses.write(pose)
            writer.write(render_frame(pose, resolution=args.resolution))
            frames += 1
            if limit is not None and frames >= limit:
                break
        poses.close()
    return {"frames": frames, "seconds": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=["sd2", "tiny"], default="tiny")
    parser.add_argument("--scheme", choices=["body", "wholebody"], default="wholebody")
    parser.add_argument("--input-size", default="192x256", help="crop WxH (released: 768x1024)")
    parser.add_argument("--seconds", type=float, default=30.0, help="clip length")
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--size", default="1280x720", help="clip WxH")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--detect-every", type=int, default=1)
    parser.add_argument("--flip", action=argparse.BooleanOptionalAction, default=False)
    parser.add_argument("--resolution", type=int, default=None, help="pose video short side (default: clip size)")
    parser.add_argument("--dtype", choices=["fp32", "bf16", "fp16"], default="fp32")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--baseline-seconds", type=float, default=None,
                        help="run frame-by-frame on the clip's first N seconds only (it is a rate; default: all)")
    parser.add_argument("--official", action=argparse.BooleanOptionalAction, default=True,
                        help="also run frame-by-frame with the official model path (on the baseline's frames)")
    parser.add_argument("--repeats", type=int, default=1, help="run both paths this many times, alternating "
                        "which goes first, and report the best of each")
    parser.add_argument("--workdir", type=Path, default=None, help="checkpoint and clip (reused when present)")
    args = parser.parse_args()
    from sdpose_core.sizes import parse_size

    args.input_size = parse_size(args.input_size)
    width, height = parse_size(args.size)

    import torch
    from bench_engine import make_checkpoint

    from sdpose_core.engine.pipeline import PoseEstimator, numpy_detector  # noqa: F401 (numpy_detector: for real YOLOX)
    from sdpose_core.video.io import VideoWriter, count_frames
    from sdpose_core.weights.checkpoint import load_model

    if args.threads:
        torch.set_num_threads(args.threads)
    os.environ.setdefault("TQDM_DISABLE", "1")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="sdpose-bench-video-"))
    checkpoint = workdir / f"{args.preset}-{args.scheme}"
    if not checkpoint.exists():
        make_checkpoint(checkpoint, args.preset, args.scheme, 0)
    n = int(round(args.seconds * args.fps))
    clip = workdir / f"synthetic_{width}x{height}_{n}f.mp4"
    timings = {}
    if not clip.exists():
        start = time.perf_counter()
        with VideoWriter(clip, Fraction(args.fps).limit_denominator(1001)) as writer:
            for frame in synthetic_frames(n, width, height, args.fps):
                writer.write(frame)
        timings["write synthetic clip (draw + encode)"] = (n, time.perf_counter() - start)
    start = time.perf_counter()
    decoded = count_frames(clip)
    timings["decode only"] = (decoded, time.perf_counter() - start)

    model = load_model(checkpoint, dtype=args.dtype, device=args.device, cache=workdir / "cache")
    out = workdir / "out"
    out.mkdir(exist_ok=True)
    calls: list = []
    estimator = PoseEstimator(model, input_size=args.input_size, flip=args.flip, batch_size=args.batch_size,
                              detector=colour_detector(calls))
    list(estimator(synthetic_frames(args.batch_size, width, height, args.fps)))  # warm-up
    limit = int(round(args.baseline_seconds * args.fps)) if args.baseline_seconds else None
    clip_runs, base_runs, clip_calls, base_calls = [], [], 0, 0
    for repeat in range(args.repeats):  # alternate the order: a shared machine's load drifts
        for path in (("clip", "frames") if repeat % 2 == 0 else ("frames", "clip")):
            calls.clear()
            if path == "clip":
                clip_runs.append(run_clip(estimator, clip, out, args, stem=f"clip{repeat}"))  # never overwrites
                clip_calls = len(calls)
            else:
                base_runs.append(run_frame_by_frame(model, clip, out, args, colour_detector(calls), limit))
                base_calls = len(calls)
    official_runs, official_calls = [], 0
    if args.official:
        official = OfficialModel(checkpoint, model.scheme, args.device)
        for _ in range(args.repeats):
            calls.clear()
            official_runs.append(run_frame_by_frame(official, clip, out, args, colour_detector(calls), limit))
            official_calls = len(calls)
    best = lambda runs: max(runs, key=lambda r: r["frames"] / r["seconds"])  # noqa: E731
    clip_run, base_run = best(clip_runs), best(base_runs)
    every = lambda runs: ", ".join(f"{r['frames'] / r['seconds']:.2f}" for r in runs)  # noqa: E731
    print(f"clip: {decoded} frames {width}x{height} @ {args.fps:g} fps; model preset={args.preset} "
          f"scheme={args.scheme} crop={args.input_size[0]}x{args.input_size[1]} flip={args.flip} "
          f"device={args.device} dtype={args.dtype} torch threads={torch.get_num_threads()}")
    for name, (frames, seconds) in timings.items():
        print(f"  {name:38s} {frames / seconds:8.1f} frames/s")
    rows = [(f"clip path (batch {args.batch_size}, tracked, detect every {args.detect_every})", clip_run, clip_calls,
             clip_runs),
            ("frame-by-frame (batch 1, detect every frame)", base_run, base_calls, base_runs)]
    if official_runs:
        rows.append(("official model path, frame-by-frame", best(official_runs), official_calls, official_runs))
    for name, r, det, runs in rows:
        print(f"  {name:52s} {r['frames'] / r['seconds']:8.2f} frames/s  ({r['frames']} frames in "
              f"{r['seconds']:.1f} s, {det} detector calls; best of {every(runs)})")
    fps = lambda r: r["frames"] / r["seconds"]  # noqa: E731
    speedup = fps(clip_run) / fps(base_run)
    report = {"clip_fps": fps(clip_run), "frame_by_frame_fps": fps(base_run), "speedup": speedup, "frames": decoded}
    line = f"  speed-up x{speedup:.2f} over frame-by-frame"
    if official_runs:
        official_fps = fps(best(official_runs))
        report.update(official_fps=official_fps, speedup_vs_official=fps(clip_run) / official_fps)
        line += f", x{report['speedup_vs_official']:.2f} over the official path frame-by-frame"
    print(line)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
