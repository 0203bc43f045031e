"""UDP heatmap codec: exact DARK-UDP decoding (checked against mmpose's algorithm) and target encoding."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from sdpose_core.engine.codec import UDPHeatmap, flip_heatmaps
from sdpose_core.engine.schemes import BODY, WHOLEBODY


def mmpose_decode(heatmaps: np.ndarray, kernel: int = 11) -> tuple[np.ndarray, np.ndarray]:
    """mmpose's UDPHeatmap.decode (argmax, blur, log, one Newton step), written out in numpy/cv2 as the oracle.
    Returns heatmap-pixel coordinates [K, 2] and peak values [K]."""
    k, h, w = heatmaps.shape
    flat = heatmaps.reshape(k, -1)
    idx = flat.argmax(1)
    locs = np.stack([idx % w, idx // w], -1).astype(np.float64)
    vals = flat.max(1)
    border = (kernel - 1) // 2
    blurred = heatmaps.copy()
    for i in range(k):
        padded = np.zeros((h + 2 * border, w + 2 * border), np.float32)
        padded[border:-border, border:-border] = heatmaps[i]
        out = cv2.GaussianBlur(padded, (kernel, kernel), 0)[border:-border, border:-border]
        blurred[i] = out * (heatmaps[i].max() / out.max())
    logm = np.log(np.clip(blurred, 1e-3, 50.0))
    pad = np.pad(logm, ((0, 0), (1, 1), (1, 1)), mode="edge")
    for i in range(k):
        x, y = int(locs[i, 0]) + 1, int(locs[i, 1]) + 1
        p = pad[i]
        dx = 0.5 * (p[y, x + 1] - p[y, x - 1])
        dy = 0.5 * (p[y + 1, x] - p[y - 1, x])
        dxx = p[y, x + 1] - 2 * p[y, x] + p[y, x - 1]
        dyy = p[y + 1, x] - 2 * p[y, x] + p[y - 1, x]
        dxy = 0.5 * (p[y + 1, x + 1] - p[y, x + 1] - p[y + 1, x] + 2 * p[y, x] - p[y, x - 1] - p[y - 1, x]
                     + p[y - 1, x - 1])
        hess = np.array([[dxx, dxy], [dxy, dyy]]) + np.finfo(np.float32).eps * np.eye(2)
        locs[i] -= np.linalg.inv(hess) @ np.array([dx, dy])
    return locs, vals


def mmpose_encode(points: np.ndarray, input_size, heatmap_size, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """mmpose's generate_udp_gaussian_heatmaps for one instance, as the oracle."""
    w, h = heatmap_size
    stride = (np.array(input_size) - 1) / (np.array(heatmap_size) - 1)
    radius = int(sigma * 3)
    size = 2 * radius + 1
    gx = np.arange(size, dtype=np.float32)
    gy = gx[:, None]
    maps = np.zeros((len(points), h, w), np.float32)
    weights = np.ones(len(points), np.float32)
    for k, pt in enumerate(points):
        mu = (pt / stride + 0.5).astype(np.int64)
        left, top = mu - radius
        right, bottom = mu + radius + 1
        if left >= w or top >= h or right < 0 or bottom < 0:
            weights[k] = 0
            continue
        mu_ac = pt / stride
        x0 = radius + mu_ac[0] - mu[0]
        y0 = radius + mu_ac[1] - mu[1]
        g = np.exp(-((gx - x0) ** 2 + (gy - y0) ** 2) / (2 * sigma ** 2))
        gl, gr = max(0, -left), min(right, w) - left
        gt, gb = max(0, -top), min(bottom, h) - top
        maps[k, max(0, top):min(bottom, h), max(0, left):min(right, w)] = g[gt:gb, gl:gr]
    return maps, weights


def _true_peaks(n: int, w: int, h: int, margin: float, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    lo = torch.tensor([margin, margin])
    hi = torch.tensor([w - 1 - margin, h - 1 - margin])
    return lo + torch.rand(1, n, 2, generator=g) * (hi - lo)


def test_interior_peaks_decode_to_the_true_subpixel_peak():
    codec = UDPHeatmap.for_input((768, 1024))
    stride = torch.tensor([767 / 191, 1023 / 255])
    peaks = _true_peaks(300, 192, 256, margin=6.0)
    maps, _ = codec.encode(peaks * stride)
    coords, scores = codec.decode(maps)
    assert ((coords / stride) - peaks).abs().max() < 0.05
    assert ((scores - 1.0).abs() < 0.02).all()


@pytest.mark.parametrize("sigma", [2.0, 6.0])
def test_decode_equals_mmpose_everywhere_including_borders(sigma):
    """Near the border the truncated Gaussian biases DARK (as in mmpose); we match mmpose there exactly."""
    codec = UDPHeatmap.for_input((192, 256), sigma=sigma)
    w, h = codec.heatmap_size
    stride = torch.tensor([191 / (w - 1), 255 / (h - 1)])
    edge = torch.tensor([[[0.0, 0.0], [w - 1.0, h - 1.0], [0.4, 30.2], [w - 1.3, 2.7], [20.5, h - 1.0]]])
    peaks = torch.cat([edge, _true_peaks(40, w, h, margin=0.0, seed=1)], dim=1)
    maps, _ = codec.encode(peaks * stride)
    maps = maps + 0.01 * torch.rand(maps.shape, generator=torch.Generator().manual_seed(2))
    coords, scores = codec.decode(maps)
    ref, ref_vals = mmpose_decode(maps[0].numpy())
    np.testing.assert_allclose((coords[0] / stride).numpy(), ref, atol=1e-3)
    np.testing.assert_allclose(scores[0].numpy(), ref_vals, rtol=1e-6)
    near_border = torch.minimum(peaks[0], torch.tensor([w - 1.0, h - 1.0]) - peaks[0]).min(-1).values < 3
    # even where DARK is biased, the result stays within a heatmap pixel of the truth
    assert ((coords[0] / stride - peaks[0]).abs()[near_border] < 2.0 * sigma / 2).all()


def test_batched_decode_equals_per_map_decode():
    codec = UDPHeatmap.for_input((192, 256))
    maps = torch.rand(3, 5, 64, 48, generator=torch.Generator().manual_seed(3))
    coords, scores = codec.decode(maps)
    for i in range(3):
        c, s = codec.decode(maps[i:i + 1])
        torch.testing.assert_close(c[0], coords[i])
        torch.testing.assert_close(s[0], scores[i])


def test_nonpositive_heatmaps_give_minus_one_like_mmpose():
    codec = UDPHeatmap.for_input((192, 256))
    maps = -torch.rand(1, 2, 64, 48)
    coords, scores = codec.decode(maps)
    assert (scores <= 0).all()
    torch.testing.assert_close(coords, torch.full_like(coords, -1.0) * torch.tensor([191 / 47, 255 / 63]))


def test_encode_matches_mmpose_targets():
    codec = UDPHeatmap.for_input((192, 256), sigma=2.0)
    pts = np.array([[10.3, 20.7], [0.0, 0.0], [191.0, 255.0], [-3.0, 100.0], [-40.0, 50.0], [95.5, 300.0],
                    [100.2, 128.9]], np.float32)
    maps, weights = codec.encode(torch.from_numpy(pts)[None])
    ref_maps, ref_w = mmpose_encode(pts, (192, 256), (48, 64), 2.0)
    np.testing.assert_allclose(maps[0].numpy(), ref_maps, atol=1e-5)
    np.testing.assert_array_equal(weights[0].numpy(), ref_w)
    # the weights alone (what the training data's minimum-keypoint rule counts), without drawing heatmaps
    np.testing.assert_array_equal(codec.target_weights(torch.from_numpy(pts)[None])[0].numpy(), ref_w)


def test_encode_then_decode_is_identity_for_training_targets():
    codec = UDPHeatmap.for_input((768, 1024))
    pts = torch.tensor([[[100.0, 200.0], [383.5, 511.5], [700.25, 900.75]]])
    maps, weights = codec.encode(pts, torch.tensor([[1.0, 1.0, 0.0]]))
    assert weights.tolist() == [[1.0, 1.0, 0.0]] and maps[0, 2].abs().max() == 0
    coords, _ = codec.decode(maps)
    assert (coords[0, :2] - pts[0, :2]).abs().max() < 1e-2


@pytest.mark.parametrize("scheme", [BODY, WHOLEBODY])
def test_flip_indices_are_an_involution_and_flip_heatmaps_too(scheme):
    idx = torch.tensor(scheme.flip_indices)
    assert sorted(scheme.flip_indices) == list(range(scheme.num_keypoints))
    assert torch.equal(idx[idx], torch.arange(scheme.num_keypoints))
    maps = torch.rand(2, scheme.num_keypoints, 8, 6)
    assert torch.equal(flip_heatmaps(flip_heatmaps(maps, scheme.flip_indices), scheme.flip_indices), maps)


def test_wholebody_flip_pairs_follow_names():
    from sdpose_core.keypoints import BODY_NAMES, FOOT_NAMES

    names = BODY_NAMES + FOOT_NAMES
    for i, j in enumerate(WHOLEBODY.flip_indices[:23]):
        assert names[j] == names[i].replace("left", "@").replace("right", "left").replace("@", "right")
    assert WHOLEBODY.flip_indices[91] == 112 and WHOLEBODY.flip_indices[132] == 111  # hands swap
    assert WHOLEBODY.flip_indices[23] == 39 and WHOLEBODY.flip_indices[31] == 31  # jaw ends swap, chin stays


@pytest.mark.parametrize("shape", [(64, 48), (7, 5), (1, 30), (96, 72)])
def test_blur_is_opencv_gaussian_blur_with_zero_border_rescaled(shape):
    """The matrix-product blur = cv2.GaussianBlur (sigma from the size) on a zero-padded map, at any map size."""
    from sdpose_core.engine.codec import blur_heatmaps

    rng = np.random.default_rng(3)
    maps = rng.random((2, 3, *shape)).astype(np.float32)
    got = blur_heatmaps(torch.from_numpy(maps)).numpy()
    border = 5
    for b in range(2):
        for k in range(3):
            padded = np.pad(maps[b, k], border)
            want = cv2.GaussianBlur(padded, (11, 11), 0, borderType=cv2.BORDER_CONSTANT)[border:-border, border:-border]
            np.testing.assert_allclose(got[b, k], want * (maps[b, k].max() / want.max()), rtol=1e-5, atol=1e-6)
