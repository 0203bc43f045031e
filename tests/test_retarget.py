"""Retargeting on analytic stick figures: reference lengths, driving directions, hands and face attached."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sdpose_core.errors import InputError
from sdpose_core.formats.openpose import BODY_KEY, FACE_KEY, FOOT_KEY, ID_KEY, LEFT_KEY, RIGHT_KEY
from sdpose_core.pose.render import LIMBS
from sdpose_core.pose.retarget import SIZE_LIMBS, retarget

# Bone lengths of two builds (OpenPose-18 limbs, in LIMBS order) and one pose: a direction (degrees) per bone.
TALL = (40, 40, 60, 55, 60, 55, 120, 100, 100, 120, 100, 100, 50, 12, 15, 12, 15)
SHORT = (25, 25, 35, 30, 35, 30, 70, 55, 55, 70, 55, 55, 35, 8, 10, 8, 10)
POSE = (180, 0, 100, 80, 80, 100, 100, 90, 95, 80, 90, 85, 270, 240, 200, 300, 340)


def body(lengths, angles, neck=(300.0, 200.0), missing=()) -> np.ndarray:
    """An OpenPose-18 [18, 3] stick figure built outward from the neck; ``missing`` joints get score 0."""
    pts = np.zeros((18, 3))
    pts[1] = (*neck, 1.0)
    for (a, b), length, angle in zip(LIMBS, lengths, angles):
        rad = math.radians(angle)
        pts[b] = (pts[a, 0] + length * math.cos(rad), pts[a, 1] + length * math.sin(rad), 1.0)
    pts[list(missing)] = 0.0
    return pts


def hand(wrist, size, turn) -> np.ndarray:
    """A 21-point hand: five rays of four points from the wrist, rotated by ``turn`` degrees."""
    pts = [(*wrist, 1.0)]
    for finger in range(5):
        rad = math.radians(turn + 20 * finger)
        for joint in range(1, 5):
            r = size * (0.4 + 0.15 * joint) * (1 + 0.1 * finger)
            pts.append((wrist[0] + r * math.cos(rad), wrist[1] + r * math.sin(rad), 1.0))
    return np.array(pts)


def face(nose, size, squash=1.0) -> np.ndarray:
    """68 landmarks on an ellipse around the nose tip (point 30 is the nose tip itself) + the two eyes."""
    t = np.linspace(0, 2 * np.pi, 68, endpoint=False)
    pts = np.stack([nose[0] + size * np.cos(t), nose[1] + size * squash * np.sin(t), np.ones(68)], axis=1)
    pts[30, :2] = nose
    return np.concatenate([pts, np.ones((2, 3))])


def person(b, *, hands=None, fc=None, feet=None, pid=None) -> dict:
    flat = lambda a: None if a is None else a.reshape(-1).tolist()  # noqa: E731
    p = {BODY_KEY: flat(b), FACE_KEY: flat(fc), LEFT_KEY: flat(hands[0]) if hands else None,
         RIGHT_KEY: flat(hands[1]) if hands else None}
    if fc is not None:  # the face's last two points are the body's eyes
        p[FACE_KEY] = flat(np.concatenate([fc[:68], b[[14, 15]]]))
    if feet is not None:
        p[FOOT_KEY] = flat(feet)
    if pid is not None:
        p[ID_KEY] = [pid]
    return p


def wholebody(b, hand_size, face_size, pid=None) -> dict:
    hands = (hand(b[7, :2], hand_size, 60), hand(b[4, :2], hand_size, 100))
    return person(b, hands=hands, fc=face(b[0, :2], face_size, 1.3), pid=pid)


def frame(*people, w=640, h=480) -> dict:
    return {"people": list(people), "canvas_width": w, "canvas_height": h}


def arr(p: dict, key: str) -> np.ndarray:
    return np.asarray(p[key], dtype=np.float64).reshape(-1, 3)


def check_bones(out_body: np.ndarray, lengths, drv_body: np.ndarray) -> None:
    """Every limb: the reference length within 0.1 %, the driving direction within 0.1 degree."""
    for (a, b), length in zip(LIMBS, lengths):
        if out_body[a, 2] == 0 or out_body[b, 2] == 0:
            continue
        vec, ref = out_body[b, :2] - out_body[a, :2], drv_body[b, :2] - drv_body[a, :2]
        assert abs(np.linalg.norm(vec) / length - 1) < 1e-3, (a, b)
        diff = math.degrees(math.atan2(vec[1], vec[0]) - math.atan2(ref[1], ref[0]))
        assert abs((diff + 180) % 360 - 180) < 0.1, (a, b)


def walk_angles(t: int) -> tuple:
    """The pose with arms and legs swinging over time."""
    swing = 25 * math.sin(t / 3)
    angles = list(POSE)
    for i in (2, 3, 7, 8):
        angles[i] += swing
    for i in (4, 5, 10, 11):
        angles[i] -= swing
    return tuple(angles)


def test_body_bones_take_reference_lengths_and_driving_directions():
    ref = frame(wholebody(body(TALL, (180, 0, 90, 90, 90, 90, 90, 90, 90, 90, 90, 90, 270, 240, 200, 300, 340),
                               neck=(400, 150)), 30, 40), w=800, h=900)
    driving = [frame(wholebody(body(SHORT, walk_angles(t), neck=(200 + 5 * t, 180 + t)), 12, 20)) for t in range(8)]
    out = retarget(driving, ref)
    assert len(out) == len(driving)
    ratio = sum(TALL[LIMBS.index(b)] for b in SIZE_LIMBS) / sum(SHORT[LIMBS.index(b)] for b in SIZE_LIMBS)
    for t, (o, d) in enumerate(zip(out, driving)):
        assert (o["canvas_width"], o["canvas_height"]) == (800, 900)
        ob, db = arr(o["people"][0], BODY_KEY), arr(d["people"][0], BODY_KEY)
        check_bones(ob, TALL, db)
        # The root: frame 0 on the reference's neck, then sideways by the driving displacement times the body
        # ratio; vertically the lowest ankle moves by the driving lowest ankle's displacement times the ratio.
        assert ob[1, 0] == pytest.approx(400 + ratio * 5 * t)
        low, low0 = (max((10, 13), key=lambda j: b[j, 1]) for b in (db, arr(driving[0]["people"][0], BODY_KEY)))
        ob0 = arr(out[0]["people"][0], BODY_KEY)
        assert ob[low, 1] - ob0[low0, 1] == pytest.approx(ratio * (db[low, 1] - arr(driving[0]["people"][0],
                                                                                    BODY_KEY)[low0, 1]))
        np.testing.assert_array_equal(ob[:, 2], db[:, 2])


def hand_shape_check(out_hand: np.ndarray, drv_hand: np.ndarray, scale: float) -> None:
    """The output hand is the driving hand scaled by ``scale`` (no rotation, no distortion)."""
    np.testing.assert_allclose(out_hand[:, :2] - out_hand[0, :2], scale * (drv_hand[:, :2] - drv_hand[0, :2]),
                               atol=1e-9)


def test_hands_and_face_keep_shape_take_reference_size_and_stay_attached():
    ref = frame(wholebody(body(TALL, POSE), 30, 40))
    drv = frame(wholebody(body(SHORT, walk_angles(4), neck=(100, 100)), 10, 16))
    o = retarget([drv], ref)[0]["people"][0]
    d = drv["people"][0]
    ob = arr(o, BODY_KEY)
    for key, wrist in ((LEFT_KEY, 7), (RIGHT_KEY, 4)):
        oh = arr(o, key)
        np.testing.assert_allclose(oh[0, :2], ob[wrist, :2], atol=1e-9)  # the hand sits on the retargeted wrist
        hand_shape_check(oh, arr(d, key), 3.0)  # hand size 30 over 10
    of, df = arr(o, FACE_KEY), arr(d, FACE_KEY)
    np.testing.assert_allclose(of[30, :2], ob[0, :2], atol=1e-9)  # nose tip on the retargeted nose
    np.testing.assert_allclose(of[:68, :2] - of[30, :2], 2.5 * (df[:68, :2] - df[30, :2]), atol=1e-9)
    np.testing.assert_allclose(of[68:, :2], ob[[14, 15], :2], atol=1e-9)  # the face's eyes are the body's


def test_multi_person_keeps_ids_and_each_gets_the_reference_build():
    ref = frame(wholebody(body(TALL, POSE, neck=(320, 100)), 30, 40))
    driving = []
    for t in range(5):
        a = wholebody(body(SHORT, walk_angles(t), neck=(150 + 3 * t, 150)), 10, 16, pid=7)
        b = wholebody(body(tuple(1.2 * v for v in SHORT), walk_angles(t + 9), neck=(450 - 3 * t, 140)), 12, 18, pid=3)
        driving.append(frame(b, a) if t % 2 else frame(a, b))  # order changes: ids decide who is who
    out = retarget(driving, ref)
    ratio = sum(TALL[LIMBS.index(b)] for b in SIZE_LIMBS) / sum(SHORT[LIMBS.index(b)] for b in SIZE_LIMBS)
    for t, (o, d) in enumerate(zip(out, driving)):
        assert [p[ID_KEY] for p in o["people"]] == [p[ID_KEY] for p in d["people"]]
        for op, dp in zip(o["people"], d["people"]):
            check_bones(arr(op, BODY_KEY), TALL, arr(dp, BODY_KEY))
            np.testing.assert_allclose(arr(op, LEFT_KEY)[0, :2], arr(op, BODY_KEY)[7, :2], atol=1e-9)
        # The primary person (id 7, first in frame 0) sets the anchor; everyone moves by the same root transform.
        by_id = {p[ID_KEY][0]: arr(p, BODY_KEY) for p in o["people"]}
        drv_by_id = {p[ID_KEY][0]: arr(p, BODY_KEY) for p in d["people"]}
        np.testing.assert_allclose(by_id[3][1, :2] - by_id[7][1, :2],
                                   ratio * (drv_by_id[3][1, :2] - drv_by_id[7][1, :2]), atol=1e-9)
        assert by_id[7][1, 0] == pytest.approx(320 + ratio * 3 * t)


def test_missing_joints_stay_missing_and_missing_reference_bones_take_the_other_side_then_the_driving_length():
    ref_body = body(TALL, POSE, missing=(3, 4, 16))  # the reference's right forearm, hand and right ear are hidden
    ref = frame(person(ref_body))
    drv_body = body(SHORT, walk_angles(2), missing=(6,))  # the driving left elbow is hidden
    out = arr(retarget([frame(person(drv_body))], ref)[0]["people"][0], BODY_KEY)
    assert (out[6] == 0).all()  # missing stays missing
    assert out[7, 2] == 1  # the left wrist still hangs from the shoulder, the arm's reference over driving length
    arm = lambda lengths: lengths[LIMBS.index((5, 6))] + lengths[LIMBS.index((6, 7))]  # noqa: E731
    np.testing.assert_allclose(out[7, :2] - out[5, :2], arm(TALL) / arm(SHORT) * (drv_body[7, :2] - drv_body[5, :2]),
                               atol=1e-9)
    check_bones(out, TALL, drv_body)  # the reference's missing right arm takes its left arm's lengths
    only_ears = body(TALL, POSE, missing=(16, 17))  # no ear on either side: driving length x body ratio
    out = arr(retarget([frame(person(drv_body))], frame(person(only_ears)))[0]["people"][0], BODY_KEY)
    ratio = sum(TALL[LIMBS.index(b)] for b in SIZE_LIMBS) / sum(SHORT[LIMBS.index(b)] for b in SIZE_LIMBS)
    i = LIMBS.index((14, 16))
    assert np.linalg.norm(out[16, :2] - out[14, :2]) == pytest.approx(SHORT[i] * ratio)


def test_body17_reference_and_driving_and_a_body_only_reference_for_wholebody_driving():
    ref = frame(person(body(TALL, POSE)))  # body model output: no hands, no face
    drv = frame(person(body(SHORT, walk_angles(1))))
    o = retarget(drv, ref)[0]["people"][0]
    assert o[FACE_KEY] is None and o[LEFT_KEY] is None and o[RIGHT_KEY] is None
    check_bones(arr(o, BODY_KEY), TALL, arr(drv["people"][0], BODY_KEY))
    drv_wb = frame(wholebody(body(SHORT, walk_angles(1)), 10, 16))
    o = retarget([drv_wb], ref)[0]["people"][0]
    forearm = TALL[LIMBS.index((6, 7))] / SHORT[LIMBS.index((6, 7))]  # no reference hand: the forearm ratio
    hand_shape_check(arr(o, LEFT_KEY), arr(drv_wb["people"][0], LEFT_KEY), forearm)
    np.testing.assert_allclose(arr(o, LEFT_KEY)[0, :2], arr(o, BODY_KEY)[7, :2], atol=1e-9)


def test_anchor_feet_puts_the_feet_on_the_reference_ground_and_feet_follow_ankles():
    ref_body = body(TALL, POSE, neck=(300, 100))
    ground = max(ref_body[10, 1], ref_body[13, 1])
    ref = frame(person(ref_body), h=600)
    drv_body = body(SHORT, POSE, neck=(200, 50))
    feet = np.array([[drv_body[13, 0] + dx, drv_body[13, 1] + dy, 1] for dx, dy in ((10, 4), (6, 5), (-3, 3))] +
                    [[drv_body[10, 0] + dx, drv_body[10, 1] + dy, 1] for dx, dy in ((10, 4), (6, 5), (-3, 3))])
    out = retarget([frame(person(drv_body, feet=feet))], ref, anchor="feet")[0]["people"][0]
    ob, of = arr(out, BODY_KEY), arr(out, FOOT_KEY)
    assert max(ob[10, 1], ob[13, 1]) == pytest.approx(ground)  # the reference has no feet: ankle on ankle
    ref_feet = np.array([[ref_body[13, 0], ground + 9, 1]] * 6)  # with feet on both sides: the lowest foot point
    out = retarget([frame(person(drv_body, feet=feet))], frame(person(ref_body, feet=ref_feet), h=600),
                   anchor="feet")[0]["people"][0]
    assert max(arr(out, BODY_KEY)[[10, 13], 1].max(), arr(out, FOOT_KEY)[:, 1].max()) == pytest.approx(ground + 9)
    ob, of = arr(out, BODY_KEY), arr(out, FOOT_KEY)
    ratio = sum(TALL[LIMBS.index(b)] for b in SIZE_LIMBS) / sum(SHORT[LIMBS.index(b)] for b in SIZE_LIMBS)
    np.testing.assert_allclose(of[:3, :2] - ob[13, :2], ratio * (feet[:3, :2] - drv_body[13, :2]), atol=1e-9)
    assert ob[1, 0] == pytest.approx(300)  # horizontally still on the reference's neck


def test_ratio_comes_from_the_clip_full_lengths_and_untracked_people_follow_their_place():
    ref = frame(person(body(TALL, POSE)))
    partial = body(SHORT, POSE, missing=(9, 10))  # frame 0 lacks the right leg
    shortened = body(tuple(0.5 * v for v in SHORT), POSE)  # frame 1: everything foreshortened to half
    ratio = sum(TALL[LIMBS.index(b)] for b in SIZE_LIMBS) / sum(SHORT[LIMBS.index(b)] for b in SIZE_LIMBS)
    only_neck = body(SHORT, POSE, neck=(310, 200), missing=tuple(range(2, 18)) + (0,))
    frames = [frame(person(partial)), frame(person(shortened))] + [frame(person(body(SHORT, POSE)))] * 30
    out = retarget(frames + [frame(person(only_neck))], ref)
    check_bones(arr(out[0]["people"][0], BODY_KEY), TALL, partial)
    check_bones(arr(out[1]["people"][0], BODY_KEY), tuple(0.5 * v for v in TALL), shortened)  # kept foreshortened
    np.testing.assert_allclose(arr(out[-1]["people"][0], BODY_KEY)[1, :2], np.array([300 + 10 * ratio, 200]),
                               atol=1e-9)


def test_bad_input_gets_one_clear_error():
    drv = frame(person(body(SHORT, POSE)))
    with pytest.raises(InputError, match="anchor"):
        retarget([drv], drv, anchor="hips")
    with pytest.raises(InputError, match="reference person 2"):
        retarget([drv], drv, reference_person_index=2)
    with pytest.raises(InputError, match="nobody was found"):
        retarget([drv], frame())
    with pytest.raises(InputError, match="reference person has no neck"):
        retarget([drv], frame(person(body(TALL, POSE, missing=(1,)))))
    with pytest.raises(InputError, match="no driving person has a neck"):
        retarget([frame(person(body(SHORT, POSE, missing=(1,))))], frame(person(body(TALL, POSE))))
    empty = retarget([frame(), frame()], frame(person(body(TALL, POSE)), w=10, h=20))
    assert empty == [{"people": [], "canvas_height": 20, "canvas_width": 10}] * 2


def test_people_without_a_body_part_do_not_break_the_plan():
    drv = frame(person(None, hands=(hand((50, 50), 10, 0), hand((90, 50), 10, 0))), person(body(SHORT, POSE)))
    out = retarget([drv], frame(person(body(TALL, POSE))), anchor="feet")[0]["people"]
    assert out[0][BODY_KEY] is None and out[0][LEFT_KEY] is not None
    check_bones(arr(out[1], BODY_KEY), TALL, arr(drv["people"][1], BODY_KEY))
    with pytest.raises(InputError, match="neck"):
        retarget([drv], frame(person(None, hands=(hand((50, 50), 10, 0), None))))


def test_reference_left_right_pairs_keep_a_small_asymmetry_and_repair_a_foreshortened_side():
    drv = frame(person(body(SHORT, POSE)))
    for factor, expected in ((0.97, 0.97), (0.6, 1.0)):  # a right forearm 3 % shorter is real; 40 % is foreshortened
        lengths = list(TALL)
        lengths[LIMBS.index((3, 4))] *= factor
        out = arr(retarget([drv], frame(person(body(tuple(lengths), POSE))))[0]["people"][0], BODY_KEY)
        right, left = (np.linalg.norm(out[b, :2] - out[a, :2]) for a, b in ((3, 4), (6, 7)))
        assert right == pytest.approx(expected * TALL[LIMBS.index((3, 4))])
        assert left == pytest.approx(TALL[LIMBS.index((6, 7))])


def test_hand_size_comes_from_the_palm_over_the_clip():
    """A curled reference hand keeps its palm; a driving hand foreshortened in the first frames does not set the
    size: each frame's hand is the driving hand scaled by reference palm / full driving palm."""
    ref_body = body(TALL, POSE)
    fist = hand(ref_body[7, :2], 30, 60)
    for base in (1, 5, 9, 13, 17):  # every finger folded onto its base
        fist[base + 1:base + 4, :2] = fist[base, :2]
    ref = frame(person(ref_body, hands=(fist, None)))
    driving = []
    for t in range(12):
        b = body(SHORT, POSE, neck=(200 + t, 150))
        size = 4 if t < 3 else 10  # foreshortened to 40 % in the first frames
        driving.append(frame(person(b, hands=(hand(b[7, :2], size, 60), hand(b[4, :2], size, 100)), pid=1)))
    out = retarget(driving, ref)
    for o, d in zip(out, driving):
        for key in (LEFT_KEY, RIGHT_KEY):
            hand_shape_check(arr(o["people"][0], key), arr(d["people"][0], key), 3.0)  # palm 30 over 10


def test_a_collapsed_driving_hand_does_not_blow_the_hand_up():
    """A hand detected as one point (spread 1e-6 px) in every frame has no palm to scale by: the forearm ratio keeps
    it a dot, instead of blowing its noise up to the reference's palm size."""
    ref_body = body(TALL, POSE)
    ref = frame(person(ref_body, hands=(hand(ref_body[7, :2], 30, 60), None)))
    driving = []
    for t in range(4):
        b = body(SHORT, POSE, neck=(200 + t, 150))
        dot = hand(b[7, :2], 1e-6, 60)
        driving.append(frame(person(b, hands=(dot, None), pid=1)))
    out = retarget(driving, ref)
    for o in out:
        left, wrist = arr(o["people"][0], LEFT_KEY), arr(o["people"][0], BODY_KEY)[7]
        assert np.abs(left[:, :2] - wrist[:2]).max() < 1.0
