"""Milliseconds per top-down crop: our exact integer port of OpenCV 4.9's warp against the installed cv2.warpAffine.

Both cut the same crops (the UDP matrix of a person box) from one 1280x720 RGB image; ours is bit-exact with OpenCV
4.9 whatever OpenCV is installed, runs on the image's device and stays in torch. Figures are medians (and minima)
over ``--repeat`` warm runs, one crop per call, on the CPU with the torch threads given.

    python bench/bench_crop.py                     # crops 192x256 and 768x1024, 2 torch threads
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_render import timed  # noqa: E402  (median and min of warm runs, as every bench here)

from sdpose_core.engine.crop import crop_center_scale, warp_crop, warp_matrix  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (720, 1280, 3), dtype=np.uint8)
    tensor = torch.from_numpy(image)
    print(f"1280x720 image, torch {torch.__version__} ({args.threads} threads), OpenCV {cv2.__version__}, "
          f"median (min) of {args.repeat} warm runs")
    print("| crop | ours (exact OpenCV 4.9 port) | cv2.warpAffine | ratio |\n|---|---|---|---|")
    for size in ((192, 256), (768, 1024)):
        center, scale = crop_center_scale(torch.tensor([[400.0, 120.0, 260.0, 520.0]]), size)
        mat = warp_matrix(center, scale, size)[0].numpy()
        ours = timed(lambda: warp_crop(tensor, mat, size), args.repeat)
        theirs = timed(lambda: cv2.warpAffine(image, mat.astype(np.float32), size, flags=cv2.INTER_LINEAR),
                       args.repeat)
        print(f"| {size[0]}x{size[1]} | {ours[0]:.1f} ms ({ours[1]:.1f}) | {theirs[0]:.2f} ms ({theirs[1]:.2f}) | "
              f"x{ours[0] / theirs[0]:.0f} |")


if __name__ == "__main__":
    main()
