"""The DWPose-look renderer: pixel-identical to comfyui_controlnet_aux's goldens, options, round trip, command."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from sdpose_core.cli.draw import draw_command
from sdpose_core.errors import InputError
from sdpose_core.formats.openpose import load_pose_keypoint, save_pose_keypoint, to_pose_keypoint
from sdpose_core.pose.render import (
    BODY_COLORS,
    HAND_COLORS,
    output_size,
    overlay,
    render_frame,
    render_pose_keypoint,
    stick_scale,
)

GOLDEN = Path(__file__).parent / "data" / "golden"
NODE_CASES = ["body_single", "wholebody_three", "wholebody_three_noface_nohands", "wholebody_three_xinsr",
              "wholebody_three_xinsr_small", "wholebody_three_float32"]


def golden(name: str) -> np.ndarray:
    return np.asarray(Image.open(GOLDEN / f"{name}.png").convert("RGB"))


def spec(name: str) -> dict:
    return json.loads((GOLDEN / f"{name}.input.json").read_text())


def node_options(s: dict) -> dict:
    return {"resolution": s["resolution"], "body": s["include_body"], "hands": s["include_hand"],
            "face": s["include_face"], "xinsr": s["xinsr_stick_scaling"]}


def golden_pose(name: str) -> list:
    return json.loads((GOLDEN / f"{name}.pose.json").read_text())


@pytest.mark.parametrize("name", NODE_CASES)
def test_pixel_identical_to_dwpose_node(name):
    s = spec(name)
    (image,) = render_pose_keypoint(golden_pose(name), **node_options(s))
    assert image.dtype == np.uint8 and image.shape == golden(name).shape
    assert np.array_equal(image, golden(name))


@pytest.mark.parametrize("name", NODE_CASES)
def test_keypoints_to_image_matches_node(name):
    s = spec(name)
    dtype = np.float32 if name.endswith("float32") else np.float64
    pose = to_pose_keypoint(np.asarray(s["keypoints"], dtype), s["width"], s["height"])
    assert np.array_equal(render_frame(pose, **node_options(s)), golden(name))


def test_normalized_pose_matches_dwpose_json_path():
    pose = json.loads((GOLDEN / "normalized.pose.json").read_text())
    assert np.array_equal(render_frame(pose, resolution=640), golden("normalized"))


def test_round_trip_through_json_file(tmp_path):
    s = spec("wholebody_three")
    pose = to_pose_keypoint(np.asarray(s["keypoints"]), s["width"], s["height"], feet=True, raw_scores=True)
    path = save_pose_keypoint([pose, pose], tmp_path / "pose.json")
    direct = render_frame(pose, resolution=512)
    assert all(np.array_equal(direct, img) for img in render_pose_keypoint(path, resolution=512))
    assert np.array_equal(render_frame(load_pose_keypoint(path)[0], resolution=512), direct)


def test_output_size_follows_dwpreprocessor():
    assert output_size(640, 480, None) == (640, 480)
    assert output_size(640, 480, 512) == (683, 512)
    assert output_size(1920, 1080, 512) == (910, 512)
    assert output_size(900, 700, 704) == (905, 704)
    assert output_size(700, 900, 64) == (64, 82)
    for bad in (0, 63, 512.0, True, "512"):
        with pytest.raises(InputError, match="resolution"):
            output_size(640, 480, bad)


def test_render_resolution_sizes_and_interpolation():
    pose = golden_pose("wholebody_three")[0]
    native = render_frame(pose)
    assert native.shape == (700, 900, 3)
    up = render_frame(pose, resolution=1400)
    assert up.shape == (1400, 1800, 3)
    assert np.array_equal(up, cv2.resize(native, (1800, 1400), interpolation=cv2.INTER_CUBIC))
    down = render_frame(pose, resolution=350)
    assert np.array_equal(down, cv2.resize(native, (450, 350), interpolation=cv2.INTER_AREA))


def test_stick_scale_for_xinsr():
    assert [stick_scale(w, 100, True) for w in (499, 500, 999, 1000, 2500, 9000)] == [1, 2, 2, 3, 4, 7]
    assert stick_scale(4000, 3000, False) == 1


def test_hand_colors_are_dwpose_rainbow():
    colors = pytest.importorskip("matplotlib.colors")
    for i, expected in enumerate(HAND_COLORS):
        canvas = np.zeros((5, 5, 3), np.uint8)
        cv2.line(canvas, (1, 2), (3, 2), colors.hsv_to_rgb([i / 20.0, 1.0, 1.0]) * 255, thickness=2)
        assert tuple(canvas[2, 2]) == expected


def person_with(body_score=1.0, feet=None, hands=True, face=True) -> dict:
    kp = np.zeros((133, 3))
    rng = np.random.default_rng(5)
    kp[:, 0], kp[:, 1], kp[:, 2] = rng.uniform(60, 340, 133), rng.uniform(60, 240, 133), body_score
    pose = to_pose_keypoint(kp[None], 400, 300, feet=True, hands=hands, face=face)
    if feet is not None:
        pose["people"][0]["foot_keypoints_2d"] = feet
    return pose


def colors_in(image: np.ndarray) -> set:
    return set(map(tuple, image.reshape(-1, 3)))


def test_toggles_remove_parts():
    pose = person_with()
    full = render_frame(pose)
    assert (255, 255, 255) in colors_in(full) and (0, 0, 255) in colors_in(full)
    assert (255, 255, 255) not in colors_in(render_frame(pose, face=False))
    no_hands = render_frame(pose, hands=False)
    assert not any(c in colors_in(no_hands) for c in HAND_COLORS[1:6])
    body_only = set(BODY_COLORS) - set(HAND_COLORS) - {(0, 0, 255), (255, 255, 255)}
    assert body_only & colors_in(full)
    assert not body_only & colors_in(render_frame(pose, body=False, feet=False))
    assert not render_frame(pose, body=False, hands=False, face=False, feet=False).any()


def test_feet_drawn_as_native_dots_only_when_present_and_enabled():
    feet = [350.0, 280.0, 1.0] + [0.0, 0.0, 0.0] * 5
    pose = person_with(feet=feet, hands=False, face=False)
    pose["people"][0]["pose_keypoints_2d"] = [0.0] * 54
    with_feet = render_frame(pose)
    assert tuple(with_feet[280, 350]) == BODY_COLORS[0]
    assert not render_frame(pose, feet=False).any()


def test_raw_scores_are_thresholded_when_drawing():
    pose = {"canvas_width": 100, "canvas_height": 100,
            "people": [{"face_keypoints_2d": [20.0, 20.0, 0.2, 60.0, 60.0, 0.5] + [0.0, 0.0, 0.0] * 66}]}
    image = render_frame(pose)
    assert not image[20, 20].any() and tuple(image[60, 60]) == (255, 255, 255)
    assert tuple(render_frame(pose, threshold=0.1)[20, 20]) == (255, 255, 255)


def test_draw_order_is_per_person():
    """Person 2's body covers person 1's face (DWPose order), unlike controlnet-aux 0.0.10 (all bodies first)."""
    face = [50.0, 50.0, 1.0] + [0.0, 0.0, 0.0] * 69
    body = np.zeros((18, 3))
    body[[1, 2], :] = [[20.0, 50.0, 1.0], [80.0, 50.0, 1.0]]          # neck -> right shoulder through (50, 50)
    pose = {"canvas_width": 100, "canvas_height": 100, "people": [
        {"pose_keypoints_2d": [0.0] * 54, "face_keypoints_2d": face},
        {"pose_keypoints_2d": body.reshape(-1).tolist()}]}
    assert tuple(render_frame(pose)[50, 50]) == (153, 0, 0)
    pose["people"].reverse()
    assert tuple(render_frame(pose)[50, 50]) == (255, 255, 255)


def test_many_people():
    s = spec("wholebody_three")
    kp = np.asarray(s["keypoints"])
    many = np.concatenate([kp + [dx, 0, 0] for dx in range(-300, 301, 100)])
    image = render_frame(to_pose_keypoint(many, 900, 700))
    assert image.shape == (700, 900, 3) and image.any()


def test_overlay_on_source_image():
    pose = golden_pose("wholebody_three")[0]
    drawn = render_frame(pose)
    photo = np.full((700, 900, 3), 90, np.uint8)
    on_top = render_frame(pose, image=photo)
    mask = drawn.any(axis=2)
    assert np.array_equal(on_top[mask], drawn[mask]) and (on_top[~mask] == 90).all()
    half = render_frame(pose, image=photo.astype(np.float32) / 255.0, alpha=0.5)
    assert np.abs(half[mask].astype(int) - (drawn[mask].astype(int) + 90) / 2).max() <= 1
    assert np.array_equal(render_frame(pose, image=photo, alpha=0.0), photo)
    small = render_frame(pose, image=photo, resolution=350)
    assert small.shape == (350, 450, 3)
    with pytest.raises(InputError, match="pose canvas is 900x700"):
        render_frame(pose, image=photo[:10])
    with pytest.raises(InputError, match="alpha"):
        overlay(photo, drawn, 1.5)


def test_render_frame_rejects_lists():
    with pytest.raises(InputError, match="render_pose_keypoint"):
        render_frame(golden_pose("wholebody_three") * 2)


def test_draw_command_single_dict(tmp_path):
    pose = golden_pose("wholebody_three")[0]
    src = save_pose_keypoint(pose, tmp_path / "one.json")
    out = tmp_path / "one.png"
    assert draw_command(src, out, resolution=512) == [out]
    assert np.array_equal(np.asarray(Image.open(out)), golden("wholebody_three"))
    with pytest.raises(InputError, match="already exists"):
        draw_command(src, out)
    assert np.array_equal(np.asarray(Image.open(out)), golden("wholebody_three"))
    assert draw_command(src, out, overwrite=True, hands=False) == [out]
    folder = tmp_path / "folder"
    folder.mkdir()
    assert draw_command(src, folder) == [folder / "one.png"]


def test_draw_command_list_writes_one_png_per_frame(tmp_path):
    frames = golden_pose("body_single") + golden_pose("wholebody_three")
    src = save_pose_keypoint(frames, tmp_path / "clip.json")
    out = tmp_path / "frames"
    written = draw_command(src, out)
    assert [p.name for p in written] == ["clip_00000.png", "clip_00001.png"]
    assert Image.open(written[0]).size == (640, 480) and Image.open(written[1]).size == (900, 700)
    stamp = written[1].stat().st_mtime_ns
    with pytest.raises(InputError, match="already exists"):
        draw_command(src, out, resolution=512)
    assert written[1].stat().st_mtime_ns == stamp
    assert draw_command(src, out, resolution=512, overwrite=True) == written
    assert Image.open(written[1]).size == (658, 512)
    with pytest.raises(InputError, match="is a file"):
        draw_command(src, tmp_path / "clip.json")


def test_draw_command_rejects_bad_input(tmp_path):
    empty = tmp_path / "empty.json"
    empty.write_text("[]")
    with pytest.raises(InputError, match="nothing to draw"):
        draw_command(empty, tmp_path / "x")
    src = save_pose_keypoint(golden_pose("body_single")[0], tmp_path / "p.json")
    with pytest.raises(InputError, match="resolution"):
        draw_command(src, tmp_path / "p.png", resolution=10)
    assert not (tmp_path / "p.png").exists()


def test_absurd_resolutions_and_batches_fail_before_allocating():
    """resolution 16384 on a square canvas would draw 268 megapixels (11 GB peak): refused, as are 1e6 and batches
    whose IMAGE output would not fit."""
    from sdpose_core.pose.render import MAX_BATCH_PIXELS, check_batch

    frame = {"people": [], "canvas_width": 64, "canvas_height": 64}
    for resolution, match in ((16384, "megapixels"), (10 ** 6, "larger than 16384"), (8192.5, "whole number")):
        with pytest.raises(InputError, match=match):
            render_frame(frame, resolution=resolution)
    assert render_frame(frame, resolution=2048).shape == (2048, 2048, 3)
    check_batch([(640, 480)] * 10, 512)
    frames = MAX_BATCH_PIXELS // (683 * 512) + 1
    with pytest.raises(InputError, match="split the batch"):
        check_batch([(640, 480)] * frames, 512)
