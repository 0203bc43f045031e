"""Person tracking on synthetic keypoint sequences: walking figures with known keypoints, noise, crossings, gaps."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sdpose_core.engine.crop import crop_center_scale
from sdpose_core.errors import InputError
from sdpose_core.motion.track import BoxCarrier, PoseTracker, box_iou, keypoint_extent, order_by_id

# COCO-17 figure, 1 unit tall, origin at the hips' centre, y down
TEMPLATE = np.array([
    (0.00, -0.42), (0.02, -0.44), (-0.02, -0.44), (0.05, -0.43), (-0.05, -0.43),  # nose, eyes, ears
    (0.10, -0.30), (-0.10, -0.30), (0.13, -0.12), (-0.13, -0.12), (0.14, 0.02), (-0.14, 0.02),  # arms
    (0.07, 0.02), (-0.07, 0.02), (0.08, 0.27), (-0.08, 0.27), (0.08, 0.50), (-0.08, 0.50),  # legs
])
SWING = np.zeros((17, 2))
SWING[[7, 9], 0], SWING[[8, 10], 0] = (0.05, 0.10), (-0.05, -0.10)  # arms swing against the legs
SWING[[13, 15], 0], SWING[[14, 16], 0] = (-0.06, -0.12), (0.06, 0.12)


def figure(cx: float, cy: float, height: float, phase: float) -> np.ndarray:
    """[17, 3] keypoints (x, y, score 0.9) of a walking figure whose hips are at (cx, cy)."""
    xy = (TEMPLATE + SWING * np.sin(phase)) * height + (cx, cy)
    return np.concatenate([xy, np.full((17, 1), 0.9)], axis=1)


def walk(start: tuple[float, float], velocity: tuple[float, float], frames: int, height: float = 200.0,
         stride_hz: float = 1.0, fps: float = 30.0) -> np.ndarray:
    """[frames, 17, 3]: a figure walking at ``velocity`` px/frame, swinging its limbs at ``stride_hz``."""
    return np.stack([figure(start[0] + velocity[0] * t, start[1] + velocity[1] * t, height,
                            2 * np.pi * stride_hz * t / fps) for t in range(frames)])


def noisy(kp: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    out = kp.copy()
    out[..., :2] += rng.normal(0.0, sigma, out[..., :2].shape)
    return out


def true_box(kp: np.ndarray, margin: float = 0.1) -> np.ndarray:
    """x, y, w, h around the keypoints with a margin (what a person detector would give)."""
    ext = keypoint_extent(kp, 0.3)
    size = ext[2:] - ext[:2]
    lo, hi = ext[:2] - margin * size, ext[2:] + margin * size
    return np.concatenate([lo, hi - lo])


def run_tracker(people: list[np.ndarray | None], tracker: PoseTracker, rng, shuffle: bool = True):
    """Feed one frame (a list of [17, 3] per person, None = not detected) at a time; returns ids per person."""
    ids = []
    for t, frame in enumerate(people):
        present = [(i, kp) for i, kp in enumerate(frame) if kp is not None]
        order = rng.permutation(len(present)) if shuffle else np.arange(len(present))
        present = [present[j] for j in order]
        kps = np.stack([kp for _, kp in present]) if present else np.zeros((0, 17, 3))
        boxes = np.stack([true_box(kp) for _, kp in present]) if present else np.zeros((0, 4))
        got = tracker.update(kps, boxes, t)
        row = {i: int(g) for (i, _), g in zip(present, got)}
        ids.append([row.get(i) for i in range(len(frame))])
    return ids


def test_ids_survive_a_crossing_with_identical_poses():
    rng = np.random.default_rng(0)
    frames = 90
    a = noisy(walk((100, 300), (6, 0), frames, 200), 2.0, rng)  # left to right
    b = noisy(walk((634, 300), (-6, 0), frames, 200), 2.0, rng)  # right to left: same path, same gait
    ids = run_tracker([[a[t], b[t]] for t in range(frames)], PoseTracker(), rng)
    assert all(row == [0, 1] for row in ids), [t for t, row in enumerate(ids) if row != [0, 1]]
    # the crossing is real: mid-clip both figures stand within a few pixels of each other
    assert np.abs(a[44, :, :2] - b[44, :, :2]).mean() < 10


def test_ids_survive_a_crossing_with_occlusion_and_a_vertical_offset():
    rng = np.random.default_rng(1)
    frames = 80
    a = noisy(walk((80, 300), (7, 0.5), frames, 220, stride_hz=1.3), 2.5, rng)
    b = noisy(walk((620, 320), (-6, -0.2), frames, 190, stride_hz=0.9), 2.5, rng)
    hidden = set(range(38, 46))  # b is behind a for 8 frames around the crossing
    people = [[a[t], None if t in hidden else b[t]] for t in range(frames)]
    ids = run_tracker(people, PoseTracker(max_age=15), rng)
    assert [row[0] for row in ids] == [0] * frames
    assert [row[1] for t, row in enumerate(ids) if t not in hidden] == [1] * (frames - len(hidden))


def test_new_people_get_new_ids_numbered_left_to_right_and_lost_ones_expire():
    rng = np.random.default_rng(2)
    tracker = PoseTracker(max_age=5)
    left, right, late = figure(100, 300, 200, 0), figure(400, 300, 200, 0), figure(700, 300, 200, 0)
    first = tracker.update(np.stack([right, left]), None, 0)
    assert first.tolist() == [1, 0]  # numbered left to right, whatever the detector's order
    assert order_by_id(first).tolist() == [1, 0]  # people sorted by id = stable order
    assert tracker.update(np.stack([left, right, late]), None, 1).tolist() == [0, 1, 2]
    for t in range(2, 9):  # ``right`` leaves for 7 frames (> max_age); ``late`` stays
        assert tracker.update(np.stack([late, left]), None, t).tolist() == [2, 0]
    assert tracker.update(np.stack([left, right, late]), None, 9).tolist() == [0, 3, 2]
    empty = tracker.update(np.zeros((0, 17, 3)), None, 10)
    assert empty.shape == (0,)
    with pytest.raises(InputError, match="frames must increase"):
        tracker.update(np.stack([left]), None, 10)
    assert noisy(left[None], 0.0, rng).shape == (1, 17, 3)


def test_people_without_confident_keypoints_are_matched_by_box():
    tracker = PoseTracker()
    a, b = figure(100, 300, 200, 0), figure(400, 300, 200, 0)
    a[:, 2], b[:, 2] = 0.05, 0.05  # nothing confident: OKS is undefined, the boxes decide
    boxes = np.stack([true_box(np.concatenate([a[:, :2], np.ones((17, 1))], 1)),
                      true_box(np.concatenate([b[:, :2], np.ones((17, 1))], 1))])
    assert tracker.update(np.stack([a, b]), boxes, 0).tolist() == [0, 1]
    moved = boxes + [5, 0, 0, 0]
    assert tracker.update(np.stack([b, a]), moved[::-1], 1).tolist() == [1, 0]
    assert box_iou(boxes, moved).diagonal().min() > 0.8
    assert tracker.update(torch.as_tensor(np.stack([a])), None, 2).tolist() in ([0], [1])


def test_confident_but_erratic_keypoints_in_steady_boxes_keep_their_ids():
    """Keypoints scattered anew every frame (a poorly fitting model) in two detector boxes that stay put: OKS says
    nothing, so the boxes keep the ids; with nothing to go on at all, new ids would be handed out."""
    rng = np.random.default_rng(5)
    boxes = np.array([[50.0, 100.0, 120.0, 300.0], [260.0, 90.0, 110.0, 320.0]])

    def scattered(box):
        xy = box[:2] + rng.uniform(0, 1, (17, 2)) * box[2:]
        return np.concatenate([xy, np.full((17, 1), 0.9)], axis=1)

    tracker = PoseTracker()
    for t in range(20):
        order = rng.permutation(2)
        kps = np.stack([scattered(boxes[i]) for i in order])
        assert tracker.update(kps, boxes[order], t).tolist() == order.tolist(), t


def test_detect_every_n_boxes_follow_the_person_between_detections():
    """BoxCarrier under the pipeline's lag: boxes for frame t are asked for before results of t-1.. come back."""
    rng = np.random.default_rng(3)
    frames, every, lag = 60, 8, 4
    truth = walk((100, 260), (9, 2), frames, 200, stride_hz=1.5)  # fast: 9 px/frame, a box width in 9 frames
    calls = []

    def detector(image):
        calls.append(carrier.frame)
        box = true_box(truth[carrier.frame])
        return torch.tensor([[*box[:2], *(box[:2] + box[2:]), 0.8]])

    def inside(box, kp) -> float:
        """Smallest margin (fraction of the crop) of the true keypoints inside the crop made from ``box``."""
        center, scale = crop_center_scale(torch.tensor([box], dtype=torch.float64), (192, 256))
        lo, size = (center - scale / 2)[0].numpy(), scale[0].numpy()
        rel = (kp[:, :2] - lo) / size
        return float(np.minimum(rel, 1 - rel).min())

    carrier = BoxCarrier(detector, every)
    gen, pending, carried, stale, centre = carrier.boxes(), [], [], [], []
    for t in range(frames):
        boxes = next(gen)
        if boxes is None:
            found = carrier.detector(torch.zeros(3, 8, 8))
            boxes = [[*found[0, :2].tolist(), *(found[0, 2:4] - found[0, :2]).tolist(), 0.8]]
        (x, y, w, h, score), = boxes
        assert score == pytest.approx(0.8)
        truth_box = true_box(truth[t])
        carried.append(inside([x, y, w, h], truth[t]))
        stale.append(inside(true_box(truth[calls[-1]]).tolist(), truth[t]))
        centre.append(np.abs((x + w / 2, y + h / 2) - (truth_box[:2] + truth_box[2:] / 2)).max())
        result = type("R", (), {"keypoints": torch.as_tensor(noisy(truth[t][None], 1.5, rng))})()
        pending.append((t, result))
        if len(pending) == lag:  # a batch of results comes back
            for frame, res in pending:
                carrier.observe(frame, res)
            pending = []
    assert calls == list(range(0, frames, every))
    # every crop holds the whole figure with room to spare; the box centre stays within 5 % of the figure's height
    assert min(carried) > 0.05, np.round(carried, 2)
    assert max(centre[every:]) < 10, np.round(centre, 1)
    assert min(stale) < 0.0  # the detector's box left where it was would have cut the figure
    with pytest.raises(InputError):
        BoxCarrier(detector, 0)


def test_carrier_detects_again_while_nobody_is_carried():
    calls = []

    def nobody(image):
        calls.append(carrier.frame)
        return torch.zeros(0, 5)

    carrier = BoxCarrier(nobody, 5)
    gen = carrier.boxes()
    for _ in range(3):
        assert next(gen) is None
        carrier.detector(torch.zeros(3, 8, 8))
    assert calls == [0, 1, 2]
