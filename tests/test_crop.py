"""Crop geometry: mmpose's UDP transform, cv2-equivalent warping, exact round trips."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch

from sdpose_core.crop import (
    apply_affine, crop_center_scale, fix_aspect_ratio, invert_affine, warp_crops, warp_matrix,
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


def test_warp_crops_matches_cv2_warp_affine():
    """Same sampling as the official cv2.warpAffine (bilinear, zero border), up to cv2's 1/32-px grid."""
    h, w = 240, 320
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    image = np.stack([np.sin(xx / 13.0), np.cos(yy / 9.0), np.sin((xx + yy) / 21.0)], axis=-1) * 0.5 + 0.5
    boxes = torch.tensor([[30.0, 20.0, 120.0, 180.0], [250.0, 150.0, 100.0, 120.0]], dtype=torch.float64)
    mats = warp_matrix(*crop_center_scale(boxes, (192, 256)), (192, 256), torch.tensor([0.0, 25.0],
                                                                                          dtype=torch.float64))
    crops = warp_crops(torch.from_numpy(image).permute(2, 0, 1), mats.float(), (192, 256))
    for crop, mat in zip(crops, mats):
        ref = cv2.warpAffine(image, mat.numpy(), (192, 256), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        diff = np.abs(crop.permute(1, 2, 0).numpy() - ref)
        assert diff.max() < 0.03 and diff.mean() < 2e-3
