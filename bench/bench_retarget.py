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
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from sdpose_core.formats.openpose import BODY_KEY, LEFT_KEY, RIGHT_KEY  # noqa: E402
from sdpose_core.pose.retarget import retarget  # noqa: E402
from synthetic_clips import (REFERENCE, body_ratio, cases, driving_clip, evaluate, height_of,  # noqa: E402
                             ideal_clip, reference_pose, standard_clip)

def report(name: str, e: dict) -> None:
    bones = ", ".join(f"{k} {m:.2f} % (max {x:.2f})" for k, (m, x) in e["bones"].items())
    print(f"  {name:34s} bones on foreshortened frames: {bones}")
    print(f"  {'':34s} pose error {e['pose']:.3f} % of height, worst joint {e['worst']:.2f} %, "
          f"lowest ankle max {e['ankle']:.1f} px, hand size max {e['hand']:.1f} %, face size max {e['face']:.1f} %")


WAN_FILES = ("wan/modules/animate/preprocess/retarget_pose.py", "wan/modules/animate/preprocess/pose2d_utils.py")


def _git_dir(peers: Path, name: str) -> Path | None:
    """The fetched repository's git directory (a ``fetch`` mirror, ``DIR/<owner>+<name>/repo``, or a checkout)."""
    for path in (peers / name / "repo", peers / name, peers / name / ".git"):
        if (path / "HEAD").exists():
            return path
    return None


def load_wan(peers: Path | None, workdir: Path):
    """Wan2.2's ``retarget_pose`` (the function its ``get_retarget_pose`` calls after converting arrays to lists),
    its two files written from the fetched copy into ``workdir`` and imported from there; None (with a message)
    when the copy is absent."""
    import importlib
    import subprocess

    git = _git_dir(peers, "Wan-Video+Wan2.2") if peers else None
    if git is None:
        print("Wan2.2: no fetched copy (pass --peers DIR holding Wan-Video+Wan2.2); skipped")
        return None
    for name in WAN_FILES:
        text = subprocess.run(["git", "--git-dir", str(git), "show", f"HEAD:{name}"], capture_output=True,
                              text=True, check=True).stdout
        (workdir / Path(name).name).write_text(text)
    sys.path.insert(0, str(workdir))
    return importlib.import_module("retarget_pose").retarget_pose


def _wan_meta(person: dict, width: int, height: int) -> dict:
    """One of our people as Wan2.2's pose meta after its list conversion: 20 body points (OpenPose-18, two toes)
    normalized, None where missing; hands as [x, y, score] lists in pixels."""
    body = np.asarray(person[BODY_KEY], dtype=np.float64).reshape(-1, 3)
    points = [[x / width, y / height, c] if c > 0 else None for x, y, c in body] + [None, None]
    hands = {name: np.asarray(person[key], dtype=np.float64).reshape(-1, 3).tolist()
             for key, name in ((LEFT_KEY, "keypoints_left_hand"), (RIGHT_KEY, "keypoints_right_hand"))}
    return {"width": width, "height": height, "keypoints_body": points, **hands}


def run_wan(retarget_pose, driving: list, reference: dict) -> list:
    """Wan2.2's retargeting of our clip (its frame 0 calibrates), back as POSE_KEYPOINT frames (body and hands;
    it retargets no face)."""
    import contextlib
    import copy
    import io

    w, h = driving[0]["canvas_width"], driving[0]["canvas_height"]
    metas = [_wan_meta(f["people"][0], w, h) for f in driving]
    ref = _wan_meta(reference["people"][0], reference["canvas_width"], reference["canvas_height"])
    with contextlib.redirect_stderr(io.StringIO()):  # its progress bar
        out = retarget_pose(copy.deepcopy(metas[0]), ref, copy.deepcopy(metas), None, None)
    frames = []
    for meta, d in zip(out, driving):
        seen = np.asarray(d["people"][0][BODY_KEY]).reshape(-1, 3)[:, 2] > 0
        body = np.zeros((18, 3))
        for j, point in enumerate(meta["keypoints_body"][:18]):
            if point is not None and seen[j]:
                body[j] = (point[0] * meta["width"], point[1] * meta["height"], 1.0)
        person = {BODY_KEY: body.reshape(-1).tolist()}
        for key, name in ((LEFT_KEY, "keypoints_left_hand"), (RIGHT_KEY, "keypoints_right_hand")):
            person[key] = [v for k in meta[name] for v in ((k.x, k.y, 1.0) if k is not None else (0.0, 0.0, 0.0))]
        frames.append({"people": [person], "canvas_width": reference["canvas_width"],
                       "canvas_height": reference["canvas_height"]})
    return frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peers", type=Path, default=None, help="folder holding fetched peer repositories")
    parser.add_argument("--repeat", type=int, default=5, help="timing runs (the median is reported)")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="sdpose-bench-retarget-"))
    wan = load_wan(args.peers, workdir) if args.peers else None
    print(f"reference height {height_of(reference_pose()):.0f} px, true body ratio {body_ratio():.3f}")
    for name, clip, ref_pose in cases():
        reference = reference_pose(REFERENCE, ref_pose)
        driving = driving_clip(clip)
        print(f"{name} ({len(driving)} frames):")
        for anchor in ("neck", "feet"):
            out = retarget(driving, reference, anchor=anchor)
            report(f"SDPose, anchor {anchor}", evaluate(out, ideal_clip(clip, anchor, reference), driving,
                                                          reference))
        if wan is not None:
            report("Wan2.2 retarget_pose", evaluate(run_wan(wan, driving, reference),
                                                    ideal_clip(clip, "feet", reference), driving, reference))
    driving, reference = driving_clip(standard_clip()), reference_pose()
    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        retarget(driving, reference)
        times.append(time.perf_counter() - start)
    print(f"cost: {1000 * np.median(times) / len(driving):.3f} ms per frame (median of {args.repeat})")


if __name__ == "__main__":
    main()
