"""Synthetic driving clips made by projecting a 3D skeleton, and the ideal retargeting of each: the reference's bones
doing the same 3D motion, projected the same way (used by tests/test_retarget_3d.py and bench/bench_retarget.py).

A body is the OpenPose-18 tree of ``LIMBS``; each frame gives every bone a 3D unit direction (x right, y down, z away
from the camera) and a build gives every bone a length, so the same motion can be posed with any build. Hands
(21 points) and the face (68 landmarks + the body's two eyes) are rigid shapes hung on the wrist and the nose tip,
turned with the forearm and the head. The camera is orthographic (a weak-perspective camera at a fixed distance),
so a bone's image length is its length times the cosine of its angle to the image plane. Every frame keeps the
lowest ankle on the ground line.

The motion: a walk towards the camera (legs and arms swinging in depth), arms raised overhead, a 65 degree torso
turn, the right arm pointed at the camera, a squat; with dropouts of elbows, knees, the left hand, an ear (while
the head is turned) and a shoulder (the OpenPose neck goes with it). The ideal keeps the lowest ankle on the
reference's ground line and moves the neck sideways by the driving displacement times the body ratio; the anchors
place this path by a constant shift. :func:`evaluate` measures a retargeted clip against it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from sdpose_core.formats.openpose import BODY_KEY, FACE_KEY, LEFT_KEY, RIGHT_KEY
from sdpose_core.pose.render import LIMBS

R_SHOULDER, R_ELBOW, R_WRIST, L_SHOULDER, L_ELBOW, L_WRIST = 2, 3, 4, 5, 6, 7
R_HIP, R_KNEE, R_ANKLE, L_HIP, L_KNEE, L_ANKLE = 8, 9, 10, 11, 12, 13
NECK, NOSE, R_EYE, L_EYE, R_EAR, L_EAR = 1, 0, 14, 15, 16, 17
ARMS = ((2, 3), (3, 4), (5, 6), (6, 7))
LEGS = ((8, 9), (9, 10), (11, 12), (12, 13))
TRUNK = ((1, 2), (1, 5), (1, 8), (1, 11))


@dataclass(frozen=True)
class Build:
    """Bone lengths (``LIMBS`` order, pixels), palm length (wrist to the finger bases) and face radius."""

    lengths: tuple
    palm: float
    face: float

    def bone(self, a: int, b: int) -> float:
        return self.lengths[LIMBS.index((a, b))]


# A driving actor about 400 px tall and a reference character about 540 px tall with other proportions
# (longer legs, narrower shoulders, a smaller head), so one global scale cannot retarget one onto the other.
DRIVER = Build((42, 42, 62, 56, 62, 56, 125, 100, 98, 125, 100, 98, 48, 12, 16, 12, 16), palm=20.0, face=30.0)
REFERENCE = Build((50, 50, 84, 76, 84, 76, 160, 150, 146, 160, 150, 146, 56, 13, 18, 13, 18), palm=28.0, face=34.0)


@dataclass
class Pose:
    """Joint angles of one frame (degrees). Arms: abduction (sideways in the body's plane), flexion (towards the
    camera), elbow (further towards the camera); legs: hip flexion (towards the camera), knee, abduction."""

    yaw: float = 0.0
    lean: float = 0.0
    arm_abd: tuple = (12.0, 12.0)  # (right, left)
    arm_flex: tuple = (0.0, 0.0)
    elbow: tuple = (10.0, 10.0)
    hip_flex: tuple = (0.0, 0.0)
    knee: tuple = (0.0, 0.0)
    leg_abd: tuple = (4.0, 4.0)
    fist: bool = False
    x: float = 0.0  # sideways travel of the neck (pixels of the driving build)


@dataclass
class Clip:
    """A driving motion: one ``Pose`` per frame, named segments and the dropouts (frame -> joints / parts)."""

    poses: list
    segments: dict
    drop_joints: dict = field(default_factory=dict)
    drop_parts: dict = field(default_factory=dict)


def _rx(deg: float) -> np.ndarray:
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _ry(deg: float) -> np.ndarray:
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _rz(deg: float) -> np.ndarray:
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


DOWN = np.array([0.0, 1.0, 0.0])


def _unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v)


def directions(pose: Pose) -> dict:
    """Unit 3D direction of every bone (parent to child) in one pose."""
    trunk = _rx(pose.lean)  # leaning towards the camera is a negative angle about x
    upper = _ry(pose.yaw) @ trunk
    d = {(1, 2): upper @ np.array([-1.0, 0, 0]), (1, 5): upper @ np.array([1.0, 0, 0]),
         (1, 8): trunk @ _unit((-0.3, 1, 0)), (1, 11): trunk @ _unit((0.3, 1, 0))}
    for side, (s, e, w) in enumerate(((2, 3, 4), (5, 6, 7))):
        sign = 1 if side == 0 else -1  # the right arm opens towards -x
        base = upper @ _rz(sign * pose.arm_abd[side])
        d[(s, e)] = base @ _rx(-pose.arm_flex[side]) @ DOWN
        d[(e, w)] = base @ _rx(-pose.arm_flex[side] - pose.elbow[side]) @ DOWN
    for side, (h, k, a) in enumerate(((8, 9, 10), (11, 12, 13))):
        sign = 1 if side == 0 else -1
        base = _rz(sign * pose.leg_abd[side])
        d[(h, k)] = base @ _rx(-pose.hip_flex[side]) @ DOWN
        d[(k, a)] = base @ _rx(-pose.hip_flex[side] + pose.knee[side]) @ DOWN
    head = _ry(pose.yaw)
    d[(1, 0)] = head @ _unit((0, -1, -0.25))
    d[(0, 14)] = head @ _unit((-0.8, -0.5, 0.1))
    d[(0, 15)] = head @ _unit((0.8, -0.5, 0.1))
    d[(14, 16)] = head @ _unit((-0.8, 0.3, 0.6))
    d[(15, 17)] = head @ _unit((0.8, 0.3, 0.6))
    return d


def _hand_shape(fist: bool) -> np.ndarray:
    """21 hand points in the hand's frame (u along the forearm, v across the palm, n out of the palm), palm = 1."""
    pts = [np.zeros(3)]
    thumb_dirs = (_unit((0.45, -0.7, 0)), _unit((0.7, -0.9, 0)), _unit((0.8, -0.9, 0)), _unit((0.9, -0.9, 0)))
    p = np.zeros(3)
    for i, step in enumerate((0.35, 0.35, 0.3, 0.25)):
        p = p + step * (thumb_dirs[i] if not fist or i < 2 else _unit((-0.2, -0.5, 1)))
        pts.append(p.copy())
    for finger, across in enumerate((-0.25, -0.08, 0.08, 0.25)):
        base = np.array([1.0, across, 0.0])
        pts.append(base)
        q, direction = base, np.array([1.0, across * 0.3, 0.0])
        for joint, step in enumerate((0.45, 0.3, 0.25)):
            if fist:  # curled: each phalanx turns a further 90 degrees towards the palm
                angle = math.radians(90 * (joint + 1))
                direction = np.array([math.cos(angle), 0.0, math.sin(angle)])
            q = q + step * (0.9 if finger == 3 else 1.0) * direction
            pts.append(q.copy())
    return np.array(pts)


def _face_shape() -> np.ndarray:
    """68 landmarks on a face-like surface around the nose tip (point 30), radius 1, facing -z."""
    rng = np.random.default_rng(68)
    t = np.linspace(0.0, 2 * math.pi, 68, endpoint=False)
    x, y = np.cos(t) * (0.7 + 0.2 * rng.random(68)), np.sin(t) * (0.9 + 0.2 * rng.random(68)) - 0.1
    z = 0.35 * (x ** 2 + y ** 2)
    pts = np.stack([x, y, z], axis=1)
    pts[30] = 0.0
    return pts


HAND_OPEN, HAND_FIST, FACE = _hand_shape(False), _hand_shape(True), _face_shape()


def _hand_frame(forearm: np.ndarray, side: int) -> np.ndarray:
    """Columns u, v, n of a hand hung on a forearm of direction ``forearm``."""
    u = _unit(forearm)
    across = np.array([0.0, 0.0, 1.0]) if abs(u[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    v = _unit(np.cross(u, across)) * (1 if side else -1)
    return np.stack([u, v, np.cross(u, v)], axis=1)


def pose_3d(build: Build, pose: Pose) -> dict:
    """3D joints of one pose: body [18, 3] hanging from a neck at the origin, hands [2, 21, 3] (right, left) and the
    face [70, 3] (68 landmarks + the body's eyes)."""
    d = directions(pose)
    body = np.zeros((18, 3))
    for a, b in LIMBS:
        body[b] = body[a] + build.bone(a, b) * d[(a, b)]
    shape = HAND_FIST if pose.fist else HAND_OPEN
    hands = np.stack([body[w] + build.palm * shape @ _hand_frame(d[(e, w)], side).T
                      for side, (e, w) in enumerate(((3, 4), (6, 7)))])
    face = body[NOSE] + build.face * FACE @ _ry(pose.yaw).T
    return {"body": body, "hands": hands, "face": np.concatenate([face, body[[R_EYE, L_EYE]]])}


def _segment(n: int, start: Pose, end: Pose) -> list:
    """``n`` poses going smoothly (cosine ease) from ``start`` to ``end``."""
    out = []
    for i in range(n):
        w = 0.5 - 0.5 * math.cos(math.pi * i / max(1, n - 1))
        mix = {}
        for name in ("yaw", "lean", "x", "arm_abd", "arm_flex", "elbow", "hip_flex", "knee", "leg_abd"):
            a, b = getattr(start, name), getattr(end, name)
            mix[name] = a + w * (b - a) if isinstance(a, float) else tuple(p + w * (q - p) for p, q in zip(a, b))
        out.append(replace(start, **mix))
    return out


def standard_clip(forearms_first: bool = False, fist: bool = False) -> Clip:
    """The benchmark motion (module docstring), 112 frames. ``forearms_first``: the clip opens with both forearms
    pointing at the camera (a bad first frame for any single-frame calibration)."""
    poses, segments = [], {}
    rest = Pose(fist=fist)
    if forearms_first:
        opening = replace(rest, elbow=(80.0, 80.0))
        segments["forearms at the camera"] = (0, 6)
        poses += [opening] * 4 + _segment(6, opening, rest)[2:]
    start = len(poses)
    for i in range(36):  # walk: two strides towards the camera, drifting sideways
        phase = 2 * math.pi * i / 18
        swing = 28 * math.sin(phase)
        poses.append(replace(rest, hip_flex=(swing, -swing), knee=(max(0.0, 35 * math.sin(phase + 1.2)),
                                                                    max(0.0, 35 * math.sin(phase + 1.2 + math.pi))),
                             arm_flex=(-0.8 * swing, 0.8 * swing), elbow=(15.0, 15.0), x=2.0 * i))
    segments["walk"] = (start, len(poses))
    last = replace(poses[-1], hip_flex=(0.0, 0.0), knee=(0.0, 0.0), arm_flex=(0.0, 0.0))
    overhead = replace(last, arm_abd=(170.0, 170.0), elbow=(5.0, 5.0))
    start = len(poses)
    poses += _segment(18, last, overhead)
    segments["arms overhead"] = (start, len(poses))
    turned = replace(last, yaw=65.0)
    start = len(poses)
    poses += _segment(18, overhead, turned) + [turned] * 2
    segments["torso turn 65"] = (start, len(poses))
    pointing = replace(last, arm_abd=(0.0, 12.0), arm_flex=(80.0, 0.0), elbow=(0.0, 10.0))
    start = len(poses)
    poses += _segment(18, turned, pointing) + [pointing] * 2
    segments["arm at the camera"] = (start, len(poses))
    squat = replace(last, hip_flex=(75.0, 75.0), knee=(120.0, 120.0), leg_abd=(15.0, 15.0), lean=-30.0,
                    arm_flex=(60.0, 60.0), elbow=(20.0, 20.0))
    start = len(poses)
    poses += _segment(16, pointing, squat) + [squat] * 2
    segments["squat"] = (start, len(poses))
    s = {name: range(*span) for name, span in segments.items()}
    drops = {s["walk"][5]: (R_ELBOW,), s["walk"][9]: (L_ELBOW,), s["walk"][10]: (L_ELBOW,),
             s["walk"][14]: (R_KNEE,), s["squat"][12]: (L_KNEE,), s["squat"][-1]: (R_KNEE,),
             s["arms overhead"][8]: (R_SHOULDER, NECK)}
    for t in s["torso turn 65"][12:]:
        drops[t] = drops.get(t, ()) + (R_EAR,)
    parts = {s["arms overhead"][5]: (LEFT_KEY,), s["arms overhead"][6]: (LEFT_KEY,)}
    return Clip(poses, segments, drops, parts)


@dataclass(frozen=True)
class Camera:
    """Orthographic camera: image point = (x, y) * scale + offset."""

    offset: tuple
    scale: float = 1.0

    def project(self, xyz: np.ndarray) -> np.ndarray:
        return np.asarray(xyz)[..., :2] * self.scale + np.asarray(self.offset)


def grounded(build: Build, pose: Pose, ground: float, neck_x: float) -> dict:
    """``pose_3d`` moved so the neck is at ``neck_x`` and the lowest ankle on the line y = ``ground``."""
    joints = pose_3d(build, pose)
    shift = np.array([neck_x, ground - joints["body"][[R_ANKLE, L_ANKLE], 1].max(), 0.0])
    return {name: value + shift for name, value in joints.items()}


def _flat(xy: np.ndarray, seen: np.ndarray | None = None) -> list:
    pts = np.concatenate([xy, np.ones((len(xy), 1))], axis=1)
    if seen is not None:
        pts[~seen] = 0.0
    return pts.reshape(-1).tolist()


def to_person(joints: dict, camera: Camera, drop: tuple = (), drop_parts: tuple = ()) -> dict:
    """A POSE_KEYPOINT person from 3D joints; dropped joints and parts are zeroed (a dropped part is all zero)."""
    seen = np.ones(18, dtype=bool)
    seen[list(drop)] = False
    hands = camera.project(joints["hands"])
    person = {BODY_KEY: _flat(camera.project(joints["body"]), seen),
              RIGHT_KEY: _flat(hands[0]), LEFT_KEY: _flat(hands[1]), FACE_KEY: _flat(camera.project(joints["face"]))}
    for key in drop_parts:
        person[key] = [0.0] * len(person[key])
    return person


def frame(people: list, width: int, height: int) -> dict:
    return {"people": people, "canvas_width": width, "canvas_height": height}


DRIVING_CANVAS, DRIVING_GROUND, DRIVING_NECK_X = (720, 600), 520.0, 330.0
REFERENCE_CANVAS, REFERENCE_GROUND, REFERENCE_NECK_X = (768, 1024), 900.0, 384.0


def driving_clip(clip: Clip, build: Build = DRIVER) -> list:
    """The driving POSE_KEYPOINT clip: each pose grounded, projected, with the clip's dropouts."""
    out = []
    for t, pose in enumerate(clip.poses):
        joints = grounded(build, pose, DRIVING_GROUND, DRIVING_NECK_X + pose.x)
        person = to_person(joints, Camera((0.0, 0.0)), clip.drop_joints.get(t, ()), clip.drop_parts.get(t, ()))
        out.append(frame([person], *DRIVING_CANVAS))
    return out


def reference_pose(build: Build = REFERENCE, pose: Pose | None = None) -> dict:
    """The reference character standing, facing the camera, on the reference canvas (a POSE_KEYPOINT frame)."""
    joints = grounded(build, pose or Pose(arm_abd=(20.0, 20.0), elbow=(0.0, 0.0)), REFERENCE_GROUND, REFERENCE_NECK_X)
    return frame([to_person(joints, Camera((0.0, 0.0)))], *REFERENCE_CANVAS)


def body_ratio(reference: Build = REFERENCE, driver: Build = DRIVER) -> float:
    """The true size ratio: summed shoulder, trunk and leg bones of the reference over the driver's."""
    bones = ((1, 2), (1, 5), (1, 8), (8, 9), (9, 10), (1, 11), (11, 12), (12, 13))
    return sum(reference.bone(*b) for b in bones) / sum(driver.bone(*b) for b in bones)


def ideal_clip(clip: Clip, anchor: str, reference: dict, build: Build = REFERENCE, driver: Build = DRIVER) -> list:
    """The ideal retargeting (module docstring): the reference build doing each 3D pose, its lowest ankle on the
    reference's ground line, the neck moving sideways by the driving travel times the body ratio, and the whole path
    shifted so frame 0's neck lies on the reference's neck (``anchor="neck"``) or the lowest ankle on the
    reference's own lowest ankle (``"feet"``)."""
    ratio = body_ratio(build, driver)
    ref_body = np.asarray(reference["people"][0][BODY_KEY]).reshape(18, 3)
    frames = [grounded(build, pose, REFERENCE_GROUND, REFERENCE_NECK_X + ratio * (pose.x - clip.poses[0].x))
              for pose in clip.poses]
    shift = np.zeros(3)
    if anchor == "neck":
        shift[1] = ref_body[NECK, 1] - frames[0]["body"][NECK, 1]
    elif anchor == "feet":
        shift[1] = ref_body[[R_ANKLE, L_ANKLE], 1].max() - REFERENCE_GROUND
    else:
        raise ValueError(anchor)
    return [{name: value + shift for name, value in joints.items()} for joints in frames]


# ----------------------------------------------------------------------------------------------- measuring
FORESHORTENED = 0.9  # a bone counts as foreshortened in a frame when its image length is below this share


def _part(person: dict, key: str) -> np.ndarray:
    return np.asarray(person[key], dtype=np.float64).reshape(-1, 3)


def _spread(xy: np.ndarray) -> float:
    return float(np.sqrt(((xy - xy.mean(axis=0)) ** 2).sum(axis=1).mean()))


def height_of(reference: dict) -> float:
    body = _part(reference["people"][0], BODY_KEY)
    return float(body[:, 1].max() - body[:, 1].min())


def evaluate(out: list, ideal: list, driving: list, reference: dict) -> dict:
    """Errors of a retargeted clip against the ideal (pixels of the reference canvas; shares of its height)."""
    height = height_of(reference)
    groups = {"arms": ARMS, "legs": LEGS, "trunk": TRUNK}
    bone_err = {name: [] for name in groups}
    rel, worst, ankle, hands, faces = [], 0.0, 0.0, [], []
    for o, i, d in zip(out, ideal, driving):
        ob, db, ib = _part(o["people"][0], BODY_KEY), _part(d["people"][0], BODY_KEY), i["body"][:, :2]
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
            part = _part(o["people"][0], key) if o["people"][0].get(key) else None
            if part is not None and (part[:, 2] > 0).all():
                hands.append(_spread(part[:, :2]) / _spread(i["hands"][side][:, :2]) - 1)
        if o["people"][0].get(FACE_KEY):  # Wan2.2 retargets no face
            face = _part(o["people"][0], FACE_KEY)[:68]
            faces.append(_spread(face[:, :2]) / _spread(i["face"][:68, :2]) - 1)
    return {"bones": {k: (100 * float(np.mean(v)), 100 * float(np.max(v))) for k, v in bone_err.items() if v},
            "pose": 100 * float(np.mean(rel)), "worst": 100 * worst, "ankle": ankle,
            "hand": 100 * float(np.max(np.abs(hands))) if hands else float("nan"),
            "face": 100 * float(np.max(np.abs(faces))) if faces else float("nan")}


def cases() -> list[tuple[str, Clip, Pose | None]]:
    """(name, driving clip, reference pose) of every benchmark case (None: the reference standing straight)."""
    at_camera = Pose(arm_abd=(20.0, 20.0), elbow=(0.0, 80.0))
    return [("standard", standard_clip(), None),
            ("forearms at the camera first", standard_clip(forearms_first=True), None),
            ("reference forearm at the camera", standard_clip(), at_camera),
            ("reference hands as fists", standard_clip(), Pose(arm_abd=(20.0, 20.0), elbow=(0.0, 0.0), fist=True))]
