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

from sdpose_core.formats.openpose import BODY_KEY, FACE_KEY, LEFT_KEY, RIGHT_KEY  # noqa: E402
from sdpose_core.pose.retarget import retarget  # noqa: E402
from synthetic_clips import (ARMS, DRIVER, LEGS, REFERENCE, TRUNK, Pose, body_ratio, driving_clip,  # noqa: E402
                             ideal_clip, reference_pose, standard_clip)

FORESHORTENED = 0.9  # a bone counts as foreshortened in a frame when its image length is below this share


def _body(person: dict) -> np.ndarray:
    return np.asarray(person[BODY_KEY], dtype=np.float64).reshape(-1, 3)


def _part(person: dict, key: str) -> np.ndarray:
    return np.asarray(person[key], dtype=np.float64).reshape(-1, 3)


def _spread(xy: np.ndarray) -> float:
    return float(np.sqrt(((xy - xy.mean(axis=0)) ** 2).sum(axis=1).mean()))


def height_of(reference: dict) -> float:
    body = _body(reference["people"][0])
    return float(body[:, 1].max() - body[:, 1].min())


def evaluate(out: list, ideal: list, driving: list, reference: dict) -> dict:
    """Errors of a retargeted clip against the ideal (pixels of the reference canvas; shares of its height)."""
    height = height_of(reference)
    groups = {"arms": ARMS, "legs": LEGS, "trunk": TRUNK}
    bone_err = {name: [] for name in groups}
    rel, worst, ankle, hands, faces = [], 0.0, 0.0, [], []
    for o, i, d in zip(out, ideal, driving):
        ob, db, ib = _body(o["people"][0]), _body(d["people"][0]), i["body"][:, :2]
        seen = ob[:, 2] > 0
        for name, bones in groups.items():
            for a, b in bones:
                if not (seen[a] and seen[b]):
                    continue
                full = DRIVER.bone(a, b)
                if np.linalg.norm(db[b, :2] - db[a, :2]) < FORESHORTENED * full:
                    bone_err[name].append(abs(np.linalg.norm(ob[b, :2] - ob[a, :2]) /
                                              np.linalg.norm(ib[b] - ib[a]) - 1))
        root_o = ob[1, :2] if seen[1] else ob[seen, :2].mean(axis=0)
        root_i = ib[1] if seen[1] else ib[seen].mean(axis=0)
        rel.append(np.linalg.norm((ob[seen, :2] - root_o) - (ib[seen] - root_i), axis=1).mean() / height)
        worst = max(worst, float(np.linalg.norm(ob[seen, :2] - ib[seen], axis=1).max()) / height)
        low = max((10, 13), key=lambda j: ib[j, 1])
        if seen[low]:
            ankle = max(ankle, float(np.linalg.norm(ob[low, :2] - ib[low])))
        for key, side in ((RIGHT_KEY, 0), (LEFT_KEY, 1)):
            part = _part(o["people"][0], key)
            if (part[:, 2] > 0).all():
                hands.append(_spread(part[:, :2]) / _spread(i["hands"][side][:, :2]) - 1)
        face = _part(o["people"][0], FACE_KEY)[:68]
        faces.append(_spread(face[:, :2]) / _spread(i["face"][:68, :2]) - 1)
    return {"bones": {k: (100 * float(np.mean(v)), 100 * float(np.max(v))) for k, v in bone_err.items() if v},
            "pose": 100 * float(np.mean(rel)), "worst": 100 * worst, "ankle": ankle,
            "hand": 100 * float(np.max(np.abs(hands))), "face": 100 * float(np.max(np.abs(faces)))}


def report(name: str, e: dict) -> None:
    bones = ", ".join(f"{k} {m:.2f} % (max {x:.2f})" for k, (m, x) in e["bones"].items())
    print(f"  {name:34s} bones on foreshortened frames: {bones}")
    print(f"  {'':34s} pose error {e['pose']:.3f} % of height, worst joint {e['worst']:.2f} %, "
          f"lowest ankle max {e['ankle']:.1f} px, hand size max {e['hand']:.1f} %, face size max {e['face']:.1f} %")


def cases() -> list:
    """(name, clip, reference build pose, fist) of every benchmark case."""
    at_camera = Pose(arm_abd=(20.0, 20.0), elbow=(0.0, 80.0))
    return [("standard", standard_clip(), None, False),
            ("forearms at the camera first", standard_clip(forearms_first=True), None, False),
            ("reference forearm at the camera", standard_clip(), at_camera, False),
            ("reference hands as fists", standard_clip(), Pose(arm_abd=(20.0, 20.0), elbow=(0.0, 0.0), fist=True), False)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peers", type=Path, default=None, help="folder holding fetched peer repositories")
    parser.add_argument("--repeat", type=int, default=5, help="timing runs (the median is reported)")
    args = parser.parse_args()
    print(f"reference height {REFERENCE.bone(1, 8):.0f}.. body ratio {body_ratio():.3f}")
    for name, clip, ref_pose, _ in cases():
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
