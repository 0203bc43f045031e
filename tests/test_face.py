"""Face boxes and crops: box from the landmarks, steadier over time, gaps take the nearest box, crops land right."""

from __future__ import annotations

import numpy as np
import pytest

from sdpose_core.errors import InputError
from sdpose_core.formats.openpose import BODY_KEY, FACE_KEY, ID_KEY
from sdpose_core.pose.face import all_face_boxes, bounding_boxes, crop, crop_faces, face_box, face_boxes
from test_smooth import jitter


def face_person(cx, cy, r=20.0, pid=None) -> dict:
    """A face of 68 landmarks on a circle of radius ``r`` (the last two points are the eyes, at the centre)."""
    t = np.linspace(0, 2 * np.pi, 68, endpoint=False)
    face = np.stack([cx + r * np.cos(t), cy + 1.5 * r * np.sin(t), np.ones(68)], axis=1)
    face = np.concatenate([face, [[cx, cy, 1], [cx, cy, 1]]])
    p = {BODY_KEY: [0.0] * 54, FACE_KEY: face.reshape(-1).tolist(), "hand_left_keypoints_2d": None,
         "hand_right_keypoints_2d": None}
    if pid is not None:
        p[ID_KEY] = [pid]
    return p


def frame(*people, w=320, h=240) -> dict:
    return {"people": list(people), "canvas_width": w, "canvas_height": h}


def test_box_from_landmarks_scaled_and_squared():
    p = face_person(100, 80)
    np.testing.assert_allclose(face_box(p, scale=1.0, square=False), [80, 50, 40, 60], atol=1e-6)
    np.testing.assert_allclose(face_box(p, scale=1.5, square=True), [55, 35, 90, 90], atol=1e-6)
    body_only = {BODY_KEY: np.zeros((18, 3)).reshape(-1).tolist(), FACE_KEY: None}
    assert face_box(body_only) is None


def test_clip_boxes_are_steadier_and_gaps_take_the_nearest_box():
    rng = np.random.default_rng(0)
    clip = [frame(face_person(100 + 2 * t + rng.normal(0, 1.5), 80 + rng.normal(0, 1.5), pid=2)) for t in range(60)]
    raw = face_boxes(clip, person=2, by_track_id=True, smooth=False)
    smoothed = face_boxes(clip, person=2, by_track_id=True)
    centre = lambda b: (b[:, :2] + b[:, 2:] / 2)[:, None, :]  # noqa: E731
    assert jitter(centre(raw)[5:-5]) / jitter(centre(smoothed)[5:-5]) > 1.5
    np.testing.assert_allclose(smoothed[:, 2], smoothed[:, 3])  # still square
    clip[0] = frame()
    clip[30] = frame()
    clip[31] = frame(face_person(0, 0, pid=9))  # somebody else: not the chosen track
    boxes = face_boxes(clip, person=2, by_track_id=True, smooth=False)
    np.testing.assert_allclose(boxes[0], boxes[1])
    np.testing.assert_allclose(boxes[30], boxes[29])  # tie between 29 and 32 goes to the earlier
    np.testing.assert_allclose(boxes[31], boxes[32])
    assert bounding_boxes(boxes[:1]) == [[{"x": boxes[0, 0], "y": boxes[0, 1], "width": boxes[0, 2],
                                           "height": boxes[0, 3], "label": "face"}]]


def test_crops_cut_the_box_and_pad_outside_the_image():
    image = np.zeros((240, 320, 3), dtype=np.uint8)
    image[60:100, 80:120] = (255, 0, 0)
    crops = crop_faces([image], np.array([[80.0, 60.0, 40.0, 40.0], [-20.0, -20.0, 40.0, 40.0]]), size=(64, 64))
    assert crops[0].shape == (64, 64, 3)
    assert (crops[0][4:-4, 4:-4] == (255, 0, 0)).all()
    assert (crops[1][:30, :30] == 0).all()  # outside the image: black


def test_no_face_anywhere_is_one_clear_error():
    with pytest.raises(InputError, match="No face of person 0"):
        face_boxes([frame(), frame()])
    with pytest.raises(InputError, match="images for 2 face boxes"):
        crop_faces([np.zeros((4, 4, 3))] * 3, np.ones((2, 4)))


def wan22_face_box(landmarks: np.ndarray, scale: float, image_shape: tuple[int, int]) -> list[int]:
    """Wan2.2's face box rule, transcribed here from reading ``get_face_bboxes`` in
    wan/modules/animate/preprocess/utils.py (commit 42bf4cfa): x1, x2, y1, y2 in whole pixels."""
    h, w = image_shape
    min_x, min_y = landmarks.min(axis=0)
    max_x, max_y = landmarks.max(axis=0)
    width, height = max_x - min_x, max_y - min_y
    area = width * height * scale
    new_width, new_height = np.sqrt(area * width / height), np.sqrt(area * height / width)
    dw, dh = (new_width - width) / 2, (new_height - height) / 4
    return [int(max(min_x - dw, 0)), int(min(max_x + dw, w)), int(max(min_y - 3 * dh, 0)), int(min(max_y + dh, h))]


def face_of(landmarks: np.ndarray) -> dict:
    face = np.concatenate([landmarks, np.ones((68, 1))], axis=1)
    return {BODY_KEY: [0.0] * 54, FACE_KEY: face.reshape(-1).tolist()}


@pytest.mark.parametrize("seed", range(6))
def test_wan_animate_framing_is_within_2_percent_of_wan22(seed):
    """Random faces of every size and aspect, some reaching past the image edge (clipped there)."""
    rng = np.random.default_rng(seed)
    w, h = 640, 480
    size = rng.uniform(30, 200, 2)
    landmarks = rng.uniform(-0.5, 0.5, (68, 2)) * size + rng.uniform([0, 0], [w, h])
    x1, x2, y1, y2 = wan22_face_box(landmarks, 1.3, (h, w))
    x, y, bw, bh = face_box(face_of(landmarks), 1.3, square=False, framing="wan_animate", canvas=(w, h))
    ours = np.array([x, x + bw, y, y + bh])
    tolerance = 0.02 * np.array([x2 - x1, x2 - x1, y2 - y1, y2 - y1])
    assert (np.abs(ours - [x1, x2, y1, y2]) <= np.maximum(tolerance, 1.0)).all()


def test_wan_animate_framing_puts_the_face_centre_above_the_crop_centre():
    """Three quarters of the added height go above the face: centre at (0.75 g + h / 2) / (h + g), g = h (1.3^0.5 - 1),
    0.531 of the crop height (the issue's ~0.54)."""
    landmarks = np.array([[100.0, 100.0], [180.0, 200.0]] * 34)
    x, y, bw, bh = face_box(face_of(landmarks), 1.3, square=False, framing="wan_animate", canvas=(640, 480))
    grown = 100.0 * (1.3 ** 0.5 - 1)
    assert abs((150.0 - y) / bh - (0.75 * grown + 50.0) / (100.0 + grown)) < 1e-9
    assert abs((bw * bh) / (80 * 100) - 1.3) < 1e-6 and abs(bw / bh - 0.8) < 1e-6  # area x1.3, aspect kept
    padded = face_box(face_of(landmarks), 1.3, square=False, framing="wan_animate", canvas=(640, 480), padding=10)
    np.testing.assert_allclose(padded, [x - 10, y - 10, bw + 20, bh + 20])


def test_centered_framing_scale_is_linear_and_padding_adds_pixels():
    landmarks = np.array([[100.0, 100.0], [180.0, 200.0]] * 34)
    np.testing.assert_allclose(face_box(face_of(landmarks), 1.5, square=False, padding=5), [75, 70, 130, 160])


def test_keep_aspect_pad_letterboxes_and_stretch_fills():
    image = np.full((240, 320, 3), 200, dtype=np.uint8)
    box = np.array([100.0, 50.0, 100.0, 50.0])  # 2:1 box into a square crop
    padded = crop(image, box, (64, 64), keep_aspect="pad")
    assert (padded[:15] == 0).all() and (padded[-15:] == 0).all() and (padded[17:47] == 200).all()
    assert (crop(image, box, (64, 64), keep_aspect="stretch") == 200).all()
    with pytest.raises(InputError, match="stretch, pad"):
        crop(image, box, (64, 64), keep_aspect="fit")


def test_all_people_get_one_box_stream_each():
    clip = [frame(face_person(60, 60, pid=4), face_person(200, 120, pid=7)) for _ in range(5)]
    clip[2] = frame(face_person(200, 120, pid=7))  # track 4 missing for a frame: the nearest box
    by_id = all_face_boxes(clip, by_track_id=True, smooth=False)
    assert list(by_id) == [4, 7]
    np.testing.assert_allclose(by_id[4][2], by_id[4][1])
    np.testing.assert_allclose(by_id[7][0], face_boxes(clip, person=7, by_track_id=True, smooth=False)[0])
    by_place = all_face_boxes(clip, smooth=False)
    assert list(by_place) == [0, 1]
    listed = bounding_boxes(list(by_id.values()))
    assert len(listed) == 5 and [len(f) for f in listed] == [2] * 5
    with pytest.raises(InputError, match="No face is visible"):
        all_face_boxes([frame(), frame()])


def test_framing_choices_are_checked():
    with pytest.raises(InputError, match="centered, wan_animate"):
        face_boxes([frame(face_person(60, 60))], framing="wan")
    with pytest.raises(InputError, match="padding"):
        face_boxes([frame(face_person(60, 60))], padding=-1)
    for bad in (float("inf"), float("nan"), "2", True):  # never an infinite box or a TypeError
        with pytest.raises(InputError, match="scale must be a positive number"):
            face_boxes([frame(face_person(60, 60))], scale=bad)
        with pytest.raises(InputError, match="padding must be 0 or more"):
            all_face_boxes([frame(face_person(60, 60))], padding=bad)


def test_estimate_face_crops_writes_the_face_video(tiny_wholebody, cache, tmp_path):
    from sdpose_core.cli.main import main
    from sdpose_core.video.io import VideoWriter, count_frames, probe_video

    clip = tmp_path / "walk.mp4"
    rng = np.random.default_rng(0)
    with VideoWriter(clip, 8) as writer:
        for _ in range(3):
            writer.write(rng.integers(0, 255, (96, 64, 3), dtype=np.uint8))
    out = tmp_path / "out"
    assert main(["estimate", str(clip), "--model", str(tiny_wholebody), "--out", str(out), "--input-size", "192x256",
                 "--no-flip", "--detector", "none", "--cache-dir", str(cache), "--device", "cpu", "--threshold", "0",
                 "--face-crops"]) == 0
    assert count_frames(out / "walk_face.mp4") == 3
    assert (probe_video(out / "walk_face.mp4").width, probe_video(out / "walk_face.mp4").height) == (512, 512)
