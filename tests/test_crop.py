"""Crop geometry: mmpose's UDP transform, cv2-equivalent warping, exact round trips."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from sdpose_core.engine.crop import (
    apply_affine,
    crop_center_scale,
    fix_aspect_ratio,
    invert_affine,
    warp_crops,
    warp_matrix,
)


def mmpose_udp_matrix(center, scale, rot, output_size):
    """mmpose's get_udp_warp_matrix, written out in numpy as the oracle."""
    input_size = np.asarray(center) * 2
    r = np.deg2rad(rot)
    sx = (output_size[0] - 1) / scale[0]
    sy = (output_size[1] - 1) / scale[1]
    return np.array([
        [math.cos(r) * sx, -math.sin(r) * sx,
         sx * (-0.5 * input_size[0] * math.cos(r) + 0.5 * input_size[1] * math.sin(r) + 0.5 * scale[0])],
        [math.sin(r) * sy, math.cos(r) * sy,
         sy * (-0.5 * input_size[0] * math.sin(r) - 0.5 * input_size[1] * math.cos(r) + 0.5 * scale[1])],
    ])


def test_topdown_center_scale_matches_mmpose():
    boxes = torch.tensor([[10.0, 20.0, 100.0, 50.0], [0.0, 0.0, 30.0, 200.0]], dtype=torch.float64)
    center, scale = crop_center_scale(boxes, (768, 1024))
    torch.testing.assert_close(center, torch.tensor([[60.0, 45.0], [15.0, 100.0]], dtype=torch.float64))
    # padding 1.25, then the short side widened to w/h = 0.75
    torch.testing.assert_close(scale, torch.tensor([[125.0, 125.0 / 0.75], [250.0 * 0.75, 250.0]], dtype=torch.float64))
    stretch_center, stretch_scale = crop_center_scale(boxes, (768, 1024), mode="stretch")
    torch.testing.assert_close(stretch_scale, boxes[:, 2:])
    torch.testing.assert_close(stretch_center, center)


def test_fix_aspect_ratio_keeps_the_long_side():
    s = fix_aspect_ratio(torch.tensor([[300.0, 100.0], [10.0, 400.0]]), 0.75)
    torch.testing.assert_close(s, torch.tensor([[300.0, 400.0], [300.0, 400.0]]))


@pytest.mark.parametrize("rot", [0.0, 17.0, -40.0])
def test_warp_matrix_matches_mmpose(rot):
    center, scale = (123.4, 321.0), (211.0, 281.3)
    ours = warp_matrix(torch.tensor([center], dtype=torch.float64), torch.tensor([scale], dtype=torch.float64),
                       (768, 1024), torch.tensor([rot], dtype=torch.float64))[0]
    np.testing.assert_allclose(ours.numpy(), mmpose_udp_matrix(center, scale, rot, (768, 1024)), rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("mode", ["topdown", "stretch"])
def test_round_trip_image_to_crop_and_back(mode):
    g = torch.Generator().manual_seed(0)
    boxes = torch.rand(20, 4, generator=g, dtype=torch.float64) * torch.tensor([1500, 900, 600, 900]) + 1
    center, scale = crop_center_scale(boxes, (768, 1024), mode)
    rot = torch.rand(20, generator=g, dtype=torch.float64) * 60 - 30
    mats = warp_matrix(center, scale, (768, 1024), rot)
    points = torch.rand(20, 50, 2, generator=g, dtype=torch.float64) * 2000 - 200
    back = apply_affine(invert_affine(mats), apply_affine(mats, points))
    assert (back - points).abs().max() < 1e-3
    # float32 end to end, as the pipeline runs on a GPU, still within 1e-3 px
    back32 = apply_affine(invert_affine(mats.float()), apply_affine(mats.float(), points.float()))
    assert (back32.double() - points).abs().max() < 1e-3


def test_box_corners_land_on_crop_corners_in_stretch_mode():
    boxes = torch.tensor([[40.0, 30.0, 100.0, 300.0]], dtype=torch.float64)
    mats = warp_matrix(*crop_center_scale(boxes, (192, 256), "stretch"), (192, 256))
    corners = torch.tensor([[[40.0, 30.0], [140.0, 330.0]]], dtype=torch.float64)
    torch.testing.assert_close(apply_affine(mats, corners)[0], torch.tensor([[0.0, 0.0], [191.0, 255.0]],
                                                                           dtype=torch.float64))


OPENCV49 = Path(__file__).parent / "data" / "opencv49" / "warps.npz"


def test_warp_crops_are_the_bytes_of_the_official_opencv():
    """Byte for byte what cv2.warpAffine(INTER_LINEAR) of opencv-python 4.9.0.80 (SDPose-OOD's pin) cuts, on random
    images and matrices: tiny and huge scales, extreme aspect ratios, rotations, mirrorings, boxes partly and
    wholly off the image (tests/data/opencv49/make_warps.py wrote them with that OpenCV)."""
    data = np.load(OPENCV49)
    n = len([k for k in data.files if k.startswith("crop")])
    wholly_off = 0
    for i in range(n):
        expected = data[f"crop{i}"]
        crops = warp_crops(data[f"image{i}"], data[f"mat{i}"][None].astype(np.float64), expected.shape[1::-1])
        assert crops.dtype == torch.uint8 and np.array_equal(crops[0].numpy(), expected), i
        wholly_off += int((expected == 0).all())
    assert n == 48 and 5 <= wholly_off <= 40


def test_warp_crops_are_the_same_on_any_tensor_layout():
    data = np.load(OPENCV49)
    image, mat = data["image3"], data["mat3"].astype(np.float64)
    from_numpy = warp_crops(image, mat[None], (48, 64))
    channels_first = torch.from_numpy(image).permute(2, 0, 1).contiguous()
    from_tensor = warp_crops(channels_first.permute(1, 2, 0), mat[None], (48, 64))
    assert torch.equal(from_numpy, from_tensor)
    with pytest.raises(ValueError, match="uint8"):
        warp_crops(image.astype(np.float32), mat[None], (48, 64))


def test_warp_crops_equal_the_official_opencv_run_live():
    """Against opencv-python 4.9.0.80 itself (its own environment, tests/official_opencv.py), not stored bytes."""
    from official_opencv import official_warp_affine

    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (90, 70, 3), dtype=np.uint8)
    mat = np.array([[1.3, 0.2, -7.1], [-0.1, 1.1, 3.3]])
    expected = official_warp_affine()(image, mat.astype(np.float32), (48, 64), flags=cv2.INTER_LINEAR)
    assert np.array_equal(warp_crops(image, mat[None], (48, 64))[0].numpy(), expected)


def test_warp_crops_differ_from_exact_float_sampling():
    """Why OpenCV itself: its 1/32-pixel grid and fixed-point blend differ from exact bilinear sampling."""
    rng = np.random.default_rng(4)
    image = rng.integers(0, 256, (120, 90, 3), dtype=np.uint8)
    box = torch.tensor([[10.3, 7.7, 61.1, 93.9]], dtype=torch.float64)
    mat = warp_matrix(*crop_center_scale(box, (96, 128)), (96, 128))
    src = apply_affine(invert_affine(mat), torch.cartesian_prod(torch.arange(128.0), torch.arange(96.0)
                                                                 ).flip(-1)[None].double())[0].numpy()
    x0, y0 = np.floor(src[:, 0]).astype(int), np.floor(src[:, 1]).astype(int)
    fx, fy = (src[:, 0] - x0)[:, None], (src[:, 1] - y0)[:, None]
    padded = np.pad(image.astype(np.float64), ((1, 2), (1, 2), (0, 0)))

    def at(dx, dy):
        return padded[np.clip(y0 + dy + 1, 0, 122), np.clip(x0 + dx + 1, 0, 92)]

    exact = (at(0, 0) * (1 - fx) * (1 - fy) + at(1, 0) * fx * (1 - fy) + at(0, 1) * (1 - fx) * fy
             + at(1, 1) * fx * fy).reshape(128, 96, 3)
    ours = warp_crops(image, mat, (96, 128))[0].numpy().astype(np.float64)
    assert np.abs(exact - ours).max() > 1.0  # a float warp (grid_sample) is not the official crop
