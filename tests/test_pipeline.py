"""The top-down pipeline end to end on a tiny checkpoint: symmetry, batching, streaming, bad inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from official import official_flip_indices
from sdpose_core.engine.pipeline import PoseEstimator, estimate
from sdpose_core.errors import InputError
from sdpose_core.weights.checkpoint import load_model

SIZE = (192, 256)


@pytest.fixture(scope="module")
def body(tiny_body, cache):
    return load_model(tiny_body, cache=cache)


@pytest.fixture(scope="module")
def wholebody(tiny_wholebody, cache):
    return load_model(tiny_wholebody, cache=cache)


def _image(h: int, w: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (h // 8 + 1, w // 8 + 1, 3), dtype=np.uint8)
    return np.kron(base, np.ones((8, 8, 1), np.uint8))[:h, :w]  # blocky, so crops carry structure


class BlobHead(torch.nn.Module):
    """Wraps a random head so each heatmap is one Gaussian blob at the soft-argmax of the random map.

    Random weights give rugged heatmaps on which DARK's Newton step is ill-conditioned (a 1e-5 change
    can move a point by pixels, in mmpose too); blobs keep the decoded points well-defined.
    """

    def __init__(self, head: torch.nn.Module):
        super().__init__()
        self.head = head

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        raw = self.head(features)
        b, k, h, w = raw.shape
        prob = raw.reshape(b, k, -1).softmax(-1).reshape(b, k, h, w)
        ys, xs = torch.arange(h, dtype=raw.dtype), torch.arange(w, dtype=raw.dtype)
        mx = (prob.sum(2) * xs).sum(-1)[..., None, None]
        my = (prob.sum(3) * ys).sum(-1)[..., None, None]
        amp = 1.0 + torch.sigmoid(raw.mean(dim=(2, 3)))[..., None, None]
        return amp * torch.exp(-((xs - mx) ** 2 + (ys[:, None] - my) ** 2) / 8.0)


def _blob(model):
    import copy

    model = copy.copy(model)
    model.head = BlobHead(model.head)
    return model


@pytest.mark.parametrize("which", ["body", "wholebody"])
def test_mirrored_image_gives_mirrored_keypoints(request, which):
    model = _blob(request.getfixturevalue(which))
    image = _image(300, 220, seed=1)
    w = image.shape[1]
    box = [30.0, 40.0, 120.0, 200.0]
    mirrored_box = [(w - 1) - (box[0] + box[2]), box[1], box[2], box[3]]  # mirror about pixel centres
    a, b = estimate(model, [image, image[:, ::-1].copy()], [[box], [mirrored_box]], input_size=SIZE, flip=True)
    flip = torch.tensor(official_flip_indices(which))  # the metainfo's pairs, not the scheme's under test
    expected = a.keypoints[0, flip].clone()
    expected[:, 0] = (w - 1) - expected[:, 0]
    # OpenCV's warp rounds sample positions down to 1/32 px, so a mirrored image's crop is not exactly the
    # mirrored crop: a few hundredths of a pixel, as in the official evaluation
    torch.testing.assert_close(b.keypoints[0], expected, atol=0.05, rtol=1e-4)


@pytest.mark.parametrize("flip", [False, True])
def test_batched_equals_one_at_a_time(wholebody, flip):
    images = [_image(200 + 10 * i, 160 + 20 * i, seed=i) for i in range(4)]
    boxes = [[[5, 5, 100, 150], [50, 20, 90, 120]], [[0, 0, 180, 210]], [], [[10, 30, 60, 80], [1, 1, 30, 30],
                                                                             [90, 100, 100, 120]]]
    model = _blob(wholebody)
    one = estimate(model, images, boxes, input_size=SIZE, flip=flip, batch_size=1)
    many = estimate(model, images, boxes, input_size=SIZE, flip=flip, batch_size=4)
    assert [r.num_people for r in many] == [2, 1, 0, 3]
    for x, y in zip(one, many):
        torch.testing.assert_close(x.keypoints, y.keypoints, atol=1e-3, rtol=1e-4)
        assert (x.width, x.height) == (y.width, y.height)


def test_results_are_deterministic(body):
    image = _image(240, 180, seed=3)
    a = estimate(body, [image], input_size=SIZE)
    b = estimate(body, [image], input_size=SIZE)
    assert torch.equal(a[0].keypoints, b[0].keypoints)


def test_keypoints_are_in_image_pixels_of_the_box_region(body):
    image = _image(400, 600, seed=4)
    (res,) = estimate(body, [image], [[[400, 100, 80, 200]]], input_size=SIZE, flip=False)
    kp = res.keypoints[0]
    assert kp.shape == (17, 3) and torch.isfinite(kp).all()
    # crop region: center (440, 200), scale 1.25 * (80, 200) widened to 0.75 -> 187.5 x 250
    assert (kp[:, 0] >= 440 - 94).all() and (kp[:, 0] <= 440 + 94).all()
    assert (kp[:, 1] >= 200 - 126).all() and (kp[:, 1] <= 200 + 126).all()
    assert torch.equal(res.boxes, torch.tensor([[400.0, 100.0, 80.0, 200.0]]))


def test_streaming_holds_at_most_one_batch_of_images(body):
    consumed = []

    def frames():
        for i in range(12):
            consumed.append(i)
            yield _image(64, 48, seed=i)

    est = PoseEstimator(body, input_size=SIZE, batch_size=3, flip=False)
    for n, _ in enumerate(est(frames()), start=1):
        assert len(consumed) - n <= 3  # never more than a batch of images waiting
    assert n == 12


def test_detector_boxes_and_whole_image_fallback(body):
    seen = []

    def detector(image):
        seen.append(tuple(image.shape))
        return torch.tensor([[10.0, 20.0, 60.0, 100.0, 0.9]]) if len(seen) == 1 else torch.zeros(0, 5)

    results = estimate(body, [_image(120, 80, 0), _image(50, 70, 1)], input_size=SIZE, detector=detector)
    assert seen == [(3, 120, 80), (3, 50, 70)]
    torch.testing.assert_close(results[0].boxes, torch.tensor([[10.0, 20.0, 50.0, 80.0]]))
    assert results[0].box_scores.tolist() == pytest.approx([0.9])
    torch.testing.assert_close(results[1].boxes, torch.tensor([[0.0, 0.0, 70.0, 50.0]]))


def test_stretch_mode_runs_and_differs(body):
    image = _image(200, 300, 5)
    a = estimate(body, [image], [[[20, 20, 200, 60]]], input_size=SIZE, crop_mode="stretch")
    b = estimate(body, [image], [[[20, 20, 200, 60]]], input_size=SIZE)
    assert not torch.allclose(a[0].keypoints, b[0].keypoints)


def test_image_kinds_are_normalised(body):
    rgb = _image(96, 64, 6)
    grey = rgb[..., 0]
    as_rgb = np.repeat(grey[..., None], 3, axis=2)
    rgba = np.concatenate([rgb, np.full((96, 64, 1), 255, np.uint8)], axis=2)
    tensor = torch.from_numpy(rgb).float() / 255  # ComfyUI IMAGE frames are HxWx3 float in 0..1
    r = estimate(body, [grey, as_rgb, rgba, rgb, tensor], input_size=SIZE, flip=False)
    torch.testing.assert_close(r[0].keypoints, r[1].keypoints)
    torch.testing.assert_close(r[2].keypoints, r[3].keypoints)
    torch.testing.assert_close(r[4].keypoints, r[3].keypoints, atol=1e-3, rtol=1e-4)


def test_extreme_aspect_ratio_gives_finite_keypoints(body):
    r = estimate(body, [_image(8, 2000, 7), _image(1500, 4, 8)], input_size=SIZE, flip=False)
    assert all(torch.isfinite(x.keypoints).all() and x.num_people == 1 for x in r)


@pytest.mark.parametrize("image, message", [
    (np.zeros((1, 1, 3), np.uint8), "at least 2 pixels"),
    (np.full((32, 32, 3), np.nan, np.float32), "NaN"),
    (np.full((32, 32, 3), 255.0, np.float32), "0..1"),
    (np.zeros((32, 32, 7), np.uint8), "shape"),
    (np.zeros((0, 32, 3), np.uint8), "at least 2 pixels"),
    ("not an image", "expected an image"),
])
def test_bad_images_are_refused_clearly(body, image, message):
    with pytest.raises(InputError, match=message):
        estimate(body, [image], input_size=SIZE)


def test_empty_batch_and_bad_options_are_refused(body):
    with pytest.raises(InputError, match="No images"):
        estimate(body, [], input_size=SIZE)
    with pytest.raises(InputError, match="multiple of 64"):
        PoseEstimator(body, input_size=(200, 256))
    with pytest.raises(InputError, match="crop mode"):
        PoseEstimator(body, input_size=SIZE, crop_mode="squash")
    with pytest.raises(InputError, match="batch_size must be at least 1"):
        PoseEstimator(body, input_size=SIZE, batch_size=0)
    with pytest.raises(InputError, match="seed must be"):
        PoseEstimator(body, input_size=SIZE, sample_latent=True, seed=-1)
    with pytest.raises(InputError, match="width/height"):
        estimate(body, [_image(64, 64, 0)], [[[0, 0, 0, 10]]], input_size=SIZE)
    with pytest.raises(InputError, match="x, y, w, h"):
        estimate(body, [_image(64, 64, 0)], [[[0, 0, 10]]], input_size=SIZE)


def test_on_batch_reports_progress_and_can_cancel(body):
    calls = []
    est = PoseEstimator(body, input_size=SIZE, batch_size=2, flip=False, on_batch=calls.append)
    list(est([_image(64, 64, i) for i in range(5)]))
    assert calls == [2, 2, 1]

    class Cancelled(Exception):
        pass

    def cancel(_n):
        raise Cancelled

    est = PoseEstimator(body, input_size=SIZE, batch_size=2, flip=False, on_batch=cancel)
    with pytest.raises(Cancelled):
        list(est([_image(64, 64, i) for i in range(5)]))
