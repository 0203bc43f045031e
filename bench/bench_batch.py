"""Images/s of the folder job: with its resume bookkeeping against the plain loop, and on Ray against one process.

A folder of synthetic photos (smooth noise, ``--size``) is written once. Timed, warm (the model is loaded and warmed
up before the clock starts; Ray's figures are steady-state rates, first to last finished image):

* ``plain loop``: what ``estimate`` did before the job bookkeeping: stream the images through one PoseEstimator,
  then for each write POSE_KEYPOINT JSON and the drawn PNG;
* ``job``: the real job (:func:`sdpose_core.cli.batch.run_job`, local engine) on the same images: digest and record
  every input, stage and publish each output set, COCO records, failures list;
* ``job, resumed``: the same command again, everything already done (planning only);
* ``ray N workers`` (``--ray``): the job with ``--engine ray``; compared with the job in one process.

Weights are random (speed only); the default is the reduced CPU configuration of bench_video.py.

    python bench/bench_batch.py --images 24 --repeats 3
    python bench/bench_batch.py --images 32 --repeats 1 --ray --workers 2
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def write_images(folder: Path, n: int, width: int, height: int) -> list[Path]:
    import cv2
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        path = folder / f"photo{i:04d}.jpg"
        if not path.exists():
            small = rng.integers(0, 255, (height // 16 + 1, width // 16 + 1, 3), dtype=np.uint8)
            cv2.imwrite(str(path), cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC))
        paths.append(path)
    return paths


def plain_loop(estimator, paths: list[Path], out: Path) -> tuple[float, float]:
    """The loop without bookkeeping: pose, draw, write JSON and PNG (as estimate did before)."""
    from PIL import Image

    from sdpose_core.formats.openpose import to_pose_keypoint
    from sdpose_core.images import load_image
    from sdpose_core.pose.render import render_frame

    out.mkdir(parents=True, exist_ok=True)
    start, cpu = time.perf_counter(), time.process_time()
    for path, result in zip(paths, estimator(load_image(p) for p in paths)):
        pose = to_pose_keypoint(result.keypoints.numpy(), result.width, result.height)
        (out / f"{path.stem}.json").write_text(json.dumps(pose))
        Image.fromarray(render_frame(pose)).save(out / f"{path.stem}_pose.png", format="PNG")
    return time.perf_counter() - start, time.process_time() - cpu


def job_run(spec, estimator=None) -> tuple[float, float, list[float]]:
    """Run the real job; returns its wall time, its CPU time and the time of each publication."""
    import sdpose_core.cli.work as work
    from sdpose_core.cli import batch
    from sdpose_core.cli.job import Job

    stamps: list[float] = []
    publish = Job.publish

    def timed(self, *a, **k):
        done = publish(self, *a, **k)
        stamps.append(time.perf_counter())
        return done

    Job.publish = timed
    build = work.build_estimator
    if estimator is not None:
        work.build_estimator = lambda settings, device: estimator  # warm, already loaded
    try:
        start, cpu = time.perf_counter(), time.process_time()
        code = batch.run_job(spec)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    finally:
        Job.publish, work.build_estimator = publish, build
    assert code == 0, code
    return wall, cpu, stamps


def steady_rate(stamps: list[float]) -> float:
    return (len(stamps) - 1) / (stamps[-1] - stamps[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=["sd2", "tiny"], default="tiny")
    parser.add_argument("--scheme", choices=["body", "wholebody"], default="wholebody")
    parser.add_argument("--input-size", default="192x256")
    parser.add_argument("--images", type=int, default=48)
    parser.add_argument("--size", default="640x480", help="image WxH")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3, help="best of N, alternating which path goes first")
    parser.add_argument("--ray", action="store_true", help="also run the job on Ray")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the one-process paths (1: CPU "
                        "time is then the work done, steady on a shared machine)")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    from sdpose_core.sizes import parse_size

    size = parse_size(args.input_size)
    width, height = parse_size(args.size)
    os.environ.setdefault("TQDM_DISABLE", "1")

    import shutil

    import torch

    torch.set_num_threads(args.threads)

    from bench_engine import make_checkpoint

    from sdpose_core.cli.batch import JobSpec
    from sdpose_core.cli.work import WorkSettings
    from sdpose_core.engine.options import EstimatorOptions
    from sdpose_core.engine.pipeline import PoseEstimator
    from sdpose_core.images import load_image
    from sdpose_core.weights.checkpoint import load_model

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="sdpose-bench-batch-"))
    checkpoint = workdir / f"{args.preset}-{args.scheme}"
    if not checkpoint.exists():
        make_checkpoint(checkpoint, args.preset, args.scheme, 0)
    paths = write_images(workdir / "images", args.images, width, height)
    cache = workdir / "cache"
    model = load_model(checkpoint, dtype="fp32", device=args.device, cache=cache)
    estimator = PoseEstimator(model, input_size=size, flip=False, batch_size=args.batch_size)
    list(estimator([load_image(paths[0])]))  # warm-up
    settings = WorkSettings(model=str(checkpoint), options=EstimatorOptions(input_size=size, flip=False,
                            batch_size=args.batch_size), detector=None, cache=str(cache), pose_options={},
                            draw_options={})

    def spec(out: Path, **kw) -> JobSpec:
        return JobSpec(items=[(p, False) for p in paths], boxes=[None] * len(paths), settings=settings, out=out,
                       coco_json=out.parent / f"{out.name}.coco.json", device=args.device, **kw)

    plain, job, resumed = [], [], []
    for repeat in range(args.repeats):
        for which in (("plain", "job") if repeat % 2 == 0 else ("job", "plain")):
            out = workdir / f"out-{which}"
            shutil.rmtree(out, ignore_errors=True)
            (workdir / f"out-{which}.coco.json").unlink(missing_ok=True)
            if which == "plain":
                plain.append(plain_loop(estimator, paths, out))
            else:
                job.append(job_run(spec(out), estimator)[:2])
                resumed.append(job_run(spec(out), estimator)[0])
    n = len(paths)
    print(f"{n} images {width}x{height}, {args.preset} {args.scheme}, crops {args.input_size}, batch "
          f"{args.batch_size}, {args.device}, {args.threads} thread(s), best of {args.repeats}")
    for k, what in ((0, "wall"), (1, "CPU")):
        best_plain, best_job = min(p[k] for p in plain), min(j[k] for j in job)
        overhead = 100 * (best_job / best_plain - 1)
        print(f"{what:>4}: plain loop {n / best_plain:7.2f} images/s, job {n / best_job:7.2f} images/s "
              f"(bookkeeping overhead {overhead:+.1f} %)")
    print(f"job, resumed: {n / min(resumed):7.0f} images/s skipped")
    if args.ray:
        out = workdir / "out-ray"
        shutil.rmtree(out, ignore_errors=True)
        (workdir / "out-ray.coco.json").unlink(missing_ok=True)
        wall, _, stamps = job_run(spec(out, engine="ray", num_workers=args.workers))
        torch.set_num_threads(args.workers)  # the one process gets the cores the workers share
        out1 = workdir / "out-one"
        shutil.rmtree(out1, ignore_errors=True)
        (workdir / "out-one.coco.json").unlink(missing_ok=True)
        wall1, _, stamps1 = job_run(spec(out1))
        same = all((out / f).read_bytes() == (out1 / f).read_bytes() for f in os.listdir(out1) if f[0] != ".")
        rate, rate1 = steady_rate(stamps), steady_rate(stamps1)
        print(f"1 process:    {rate1:7.2f} images/s steady, {wall1:.1f} s in all (model load included)")
        print(f"ray {args.workers} workers: {rate:7.2f} images/s steady, {wall:.1f} s in all (cluster start and "
              f"model loads included); x{rate / rate1:.2f}; outputs identical: {same}")


if __name__ == "__main__":
    main()
