"""Retargeting against the ideal on clips made by projecting a 3D skeleton (tests/synthetic_clips.py): bone lengths
on foreshortened frames, root-relative pose error, the lowest ankle, hand and face size, and the cost.

The ideal is the reference character's bones doing the same 3D motion, projected the same way. Clips: the standard
motion (walk towards the camera, arms overhead, 65 degree torso turn, an arm at the camera, a squat; dropouts of
elbows, knees, a hand, an ear, a shoulder), the same opening with both forearms at the camera, and references with a
forearm at the camera or a fist. With ``--peers DIR``, Wan2.2's ``retarget_pose.py`` (DIR/Wan2.2, a fetched copy of
Wan-Video/Wan2.2) runs on the same clips from a temporary folder; a missing copy is skipped with a message.

    python bench/bench_retarget.py
    python bench/bench_retarget.py --peers /work/.mirror
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from sdpose_core.pose.retarget import retarget  # noqa: E402
from synthetic_clips import (REFERENCE, body_ratio, cases, driving_clip, evaluate, height_of,  # noqa: E402
                             ideal_clip, reference_pose, standard_clip)

def report(name: str, e: dict) -> None:
    bones = ", ".join(f"{k} {m:.2f} % (max {x:.2f})" for k, (m, x) in e["bones"].items())
    print(f"  {name:34s} bones on foreshortened frames: {bones}")
    print(f"  {'':34s} pose error {e['pose']:.3f} % of height, worst joint {e['worst']:.2f} %, "
          f"lowest ankle max {e['ankle']:.1f} px, hand size max {e['hand']:.1f} %, face size max {e['face']:.1f} %")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peers", type=Path, default=None, help="folder holding fetched peer repositories")
    parser.add_argument("--repeat", type=int, default=5, help="timing runs (the median is reported)")
    args = parser.parse_args()
    print(f"reference height {height_of(reference_pose()):.0f} px, true body ratio {body_ratio():.3f}")
    for name, clip, ref_pose in cases():
        reference = reference_pose(REFERENCE, ref_pose)
        driving = driving_clip(clip)
        print(f"{name} ({len(driving)} frames):")
        for anchor in ("neck", "feet"):
            out = retarget(driving, reference, anchor=anchor)
            report(f"SDPose, anchor {anchor}", evaluate(out, ideal_clip(clip, anchor, reference), driving,
                                                          reference))
    driving, reference = driving_clip(standard_clip()), reference_pose()
    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        retarget(driving, reference)
        times.append(time.perf_counter() - start)
    print(f"cost: {1000 * np.median(times) / len(driving):.3f} ms per frame (median of {args.repeat})")


if __name__ == "__main__":
    main()
