"""Retargeting against the ideal on clips made by projecting a 3D skeleton (tests/synthetic_clips.py): bone lengths
on foreshortened frames, root-relative pose error, the lowest ankle, hand and face size, and the cost.

The ideal is the reference character's bones doing the same 3D motion, projected the same way. Clips: the standard
motion (walk towards the camera, arms overhead, 65 degree torso turn, an arm at the camera, a squat; dropouts of
elbows, knees, a hand, an ear, a shoulder), the same opening with both forearms at the camera, and references with a
forearm at the camera or a fist. With ``--peers DIR`` (fetched repositories, ``DIR/<owner>+<name>/repo`` as the
fetch tool leaves them), Wan2.2's ``retarget_pose.py`` (Wan-Video/Wan2.2) and MusePose's ``pose_align.py``
(TMElyralab/MusePose) run on the same clips from a temporary folder; a missing copy is skipped with a message.
``--noise PX`` adds detector-like jitter to the driving keypoints.

    python bench/bench_retarget.py
    python bench/bench_retarget.py --peers /work/.mirror     # folders from the fetch tool: <owner>+<name>/repo
    python bench/bench_retarget.py --noise 2
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

from sdpose_core.formats.openpose import BODY_KEY, FACE_KEY, LEFT_KEY, RIGHT_KEY  # noqa: E402
from sdpose_core.pose.retarget import retarget  # noqa: E402
from sdpose_core.pose.retarget_clip import RetargetOptions, retarget_clip  # noqa: E402
from synthetic_clips import (  # noqa: E402
    REFERENCE,
    body_ratio,
    cases,
    driving_clip,
    evaluate,
    height_of,
    ideal_clip,
    reference_pose,
    standard_clip,
)


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


MUSEPOSE_FILES = ("pose_align.py", "pose/script/util.py")


def load_musepose(peers: Path | None, workdir: Path):
    """MusePose's ``align_img`` (its per-frame alignment), imported from ``pose_align.py`` written from the fetched
    copy into ``workdir``; its detector and video writer modules are left out (stand-ins that are never called).
    None (with a message) when the copy is absent."""
    import importlib
    import subprocess
    import types

    git = _git_dir(peers, "TMElyralab+MusePose") if peers else None
    if git is None:
        print("MusePose: no fetched copy (pass --peers DIR holding TMElyralab+MusePose); skipped")
        return None
    root = workdir / "musepose"
    for name in MUSEPOSE_FILES:
        text = subprocess.run(["git", "--git-dir", str(git), "show", f"HEAD:{name}"], capture_output=True,
                              text=True, check=True).stdout
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    for package in ("pose", "pose/script"):
        (root / package / "__init__.py").write_text("")
    (root / "pose/script/dwpose.py").write_text("DWposeDetector = draw_pose = None  # the detector is not run\n")
    for name in ("moviepy", "moviepy.video", "moviepy.video.io", "moviepy.video.io.ImageSequenceClip"):
        sys.modules.setdefault(name, types.ModuleType(name))
    sys.path.insert(0, str(root))
    return importlib.import_module("pose_align").align_img


def _muse_pose(person: dict, width: int, height: int) -> dict:
    """One of our people as DWPose's pose dict (normalized coordinates, -1 where missing; hands left, right)."""
    def part(key: str, n: int) -> np.ndarray:
        pts = np.asarray(person[key], dtype=np.float64).reshape(-1, 3)[:n]
        xy = pts[:, :2] / np.array([width, height])
        xy[pts[:, 2] <= 0] = -1.0
        return xy

    return {"bodies": {"candidate": part(BODY_KEY, 18), "subset": np.arange(18.0)[None]},
            "hands": np.stack([part(LEFT_KEY, 21), part(RIGHT_KEY, 21)]), "faces": part(FACE_KEY, 68)[None]}


def _dist(points: np.ndarray, a: int, b: int) -> float:
    return float(np.linalg.norm(points[a] - points[b]))


def musepose_scales(ref: dict, first: dict) -> dict:
    """MusePose's scale parameters as its ``pose_align.py`` measures them on the first driving frame (rule
    restated here, since it is inline in its video loop): reference over frame-0 distances in height-normalized
    coordinates, left/right averaged, the hand the mean of its wrist-to-finger ratios and both arm ratios."""
    b_ref, b_1st = ref["bodies"]["candidate"], first["bodies"]["candidate"]
    h_ref, h_1st = ref["hands"], first["hands"]

    def ratio(a: int, b: int) -> float:
        return _dist(b_ref, a, b) / _dist(b_1st, a, b)

    scales = {"scale_neck": ratio(0, 1), "scale_face": ratio(16, 17), "scale_shoulder": ratio(2, 5),
              "scale_arm_upper": (ratio(2, 3) + ratio(5, 6)) / 2, "scale_arm_lower": (ratio(3, 4) + ratio(6, 7)) / 2,
              "scale_leg_upper": (ratio(8, 9) + ratio(11, 12)) / 2,
              "scale_leg_lower": (ratio(9, 10) + ratio(12, 13)) / 2}
    mid_ref, mid_1st = (b_ref[8] + b_ref[11]) / 2, (b_1st[8] + b_1st[11]) / 2
    scales["scale_body_len"] = float(np.linalg.norm(b_ref[1] - mid_ref) / np.linalg.norm(b_1st[1] - mid_1st))
    hands = [_dist(h_ref[s], 0, k) / _dist(h_1st[s], 0, k) for s in (0, 1) for k in (1, 5, 9, 13, 17)
             if _dist(h_1st[s], 0, k) != 0]
    arms = scales["scale_arm_upper"] + scales["scale_arm_lower"]
    scales["scale_hand"] = (np.mean(hands) + arms) / 3 if hands else arms / 2
    return {k: (1.0 if np.isnan(v) else float(v)) for k, v in scales.items()}


def run_musepose(align_img, driving: list, reference: dict) -> list:
    """MusePose's alignment of our clip (frame 0 calibrates; the neck offset of frame 0 moves every frame), back as
    POSE_KEYPOINT frames on the reference canvas."""
    import contextlib
    import io

    w, h = driving[0]["canvas_width"], driving[0]["canvas_height"]
    rw, rh = reference["canvas_width"], reference["canvas_height"]

    def widen(pose: dict, aspect: float) -> dict:  # x in units of the height, as pose_align.py works
        out = {"bodies": {"candidate": pose["bodies"]["candidate"].copy(), "subset": pose["bodies"]["subset"]},
               "hands": pose["hands"].copy(), "faces": pose["faces"].copy()}
        out["bodies"]["candidate"][:, 0] *= aspect
        out["hands"][..., 0] *= aspect
        out["faces"][..., 0] *= aspect
        return out

    ref = widen(_muse_pose(reference["people"][0], rw, rh), rw / rh)
    poses = [_muse_pose(f["people"][0], w, h) for f in driving]
    first = widen(poses[0], w / h)
    scales = musepose_scales(ref, first)
    offset = ref["bodies"]["candidate"][1] - first["bodies"]["candidate"][1]
    image = np.zeros((h, w, 3), dtype=np.uint8)
    frames = []
    for pose, d in zip(poses, driving):
        with contextlib.redirect_stdout(io.StringIO()):
            aligned = align_img(image, pose, scales, 512, 512)
        person = {}
        for key, xy, n in ((BODY_KEY, aligned["bodies"]["candidate"], 18), (LEFT_KEY, aligned["hands"][0], 21),
                           (RIGHT_KEY, aligned["hands"][1], 21), (FACE_KEY, aligned["faces"][0], 68)):
            seen = np.asarray(d["people"][0][key]).reshape(-1, 3)[:n, 2] > 0
            pts = np.zeros((n, 3))
            pts[seen, :2] = (xy[seen] + offset) / np.array([rw / rh, 1.0]) * np.array([rw, rh])
            pts[seen, 2] = 1.0
            person[key] = pts.reshape(-1).tolist()
        frames.append({"people": [person], "canvas_width": rw, "canvas_height": rh})
    return frames


def with_noise(frames: list, sigma: float, seed: int = 0) -> list:
    """The clip with Gaussian noise of ``sigma`` pixels on every seen point (a detector's jitter)."""
    rng = np.random.default_rng(seed)
    out = []
    for frame in frames:
        people = []
        for person in frame["people"]:
            noisy = dict(person)
            for key, values in person.items():
                pts = np.asarray(values, dtype=np.float64).reshape(-1, 3)
                seen = pts[:, 2] > 0
                pts[seen, :2] += rng.normal(0.0, sigma, (int(seen.sum()), 2))
                noisy[key] = pts.reshape(-1).tolist()
            people.append(noisy)
        out.append({**frame, "people": people})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peers", type=Path, default=None, help="folder holding fetched peer repositories")
    parser.add_argument("--repeat", type=int, default=5, help="timing runs (the median is reported)")
    parser.add_argument("--noise", type=float, default=0.0, metavar="PX", help="Gaussian noise on the driving "
                        "keypoints, in pixels of the driving canvas (the actor is about 400 px tall)")
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error(f"--repeat must be at least 1, got {args.repeat}")
    if not 0 <= args.noise < float("inf"):
        parser.error(f"--noise must be 0 or more pixels, got {args.noise}")
    workdir = Path(tempfile.mkdtemp(prefix="sdpose-bench-retarget-"))
    wan = load_wan(args.peers, workdir) if args.peers else None
    muse = load_musepose(args.peers, workdir) if args.peers else None
    print(f"reference height {height_of(reference_pose()):.0f} px, true body ratio {body_ratio():.3f}")
    for name, clip, ref_pose in cases():
        reference = reference_pose(REFERENCE, ref_pose)
        driving = with_noise(driving_clip(clip), args.noise) if args.noise else driving_clip(clip)
        print(f"{name} ({len(driving)} frames{f', noise {args.noise:g} px' if args.noise else ''}):")
        for anchor in ("neck", "feet"):
            out = retarget(driving, reference, anchor=anchor)
            report(f"SDPose, anchor {anchor}", evaluate(out, ideal_clip(clip, anchor, reference), driving,
                                                          reference))
        if wan is not None:
            report("Wan2.2 retarget_pose", evaluate(run_wan(wan, driving, reference),
                                                    ideal_clip(clip, "feet", reference), driving, reference))
        if muse is not None:
            report("MusePose pose_align", evaluate(run_musepose(muse, driving, reference),
                                                   ideal_clip(clip, "neck", reference), driving, reference))
    driving, reference = driving_clip(standard_clip()), reference_pose()
    for name, run in (("retargeting", lambda: retarget(driving, reference)),
                      ("pipeline without drawing (gap filling, retargeting)",
                       lambda: retarget_clip(driving, reference, RetargetOptions()))):
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
        print(f"cost, {name}: {1000 * np.median(times) / len(driving):.3f} ms per frame (median of {args.repeat}, "
              f"{len(driving)} frames with hands and face)")


if __name__ == "__main__":
    main()
