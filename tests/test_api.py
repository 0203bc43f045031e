"""SDPoseDetector, the controlnet_aux-shaped Python API: the Estimator node's pixels and POSE_KEYPOINT, from any
image type, for batches and clips."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from sdpose_core import EstimatorOptions, SDPoseDetector, load_estimator
from sdpose_core.engine.pipeline import PoseEstimator, pose_frame
from sdpose_core.errors import InputError
from sdpose_core.pose.render import render_frame
from sdpose_core.video.options import ClipOptions
from sdpose_core.weights.checkpoint import load_model

TINY_INPUT = (192, 256)  # small crops (W x H, multiples of 64): the tiny checkpoints run fast

BOXES_DETECTOR_OUTPUT = torch.tensor([[4.0, 6.0, 40.0, 70.0, 0.9], [30.0, 10.0, 60.0, 76.0, 0.8]], dtype=torch.float64)


def two_people(_image: torch.Tensor) -> torch.Tensor:
    """A person detector that always finds the same two people (x1, y1, x2, y2, score)."""
    return BOXES_DETECTOR_OUTPUT


@pytest.fixture(scope="module")
def detector(tiny_wholebody, cache):
    return SDPoseDetector.from_pretrained(tiny_wholebody, detector=two_people, device="cpu", cache_dir=cache,
                                          input_size=TINY_INPUT, batch_size=3)


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (80, 64, 3), dtype=np.uint8)


def node_path(model_dir, cache, image, resolution=512, hands=True, face=True, body=True, threshold=0.3):
    """What the Estimator node computes, composed here from the library calls it makes (nodes/estimator.py): the
    estimator with the node's options, ``pose_frame`` at the score threshold, ``render_frame`` with DWPose's
    toggles (never the feet)."""
    estimator = PoseEstimator(load_model(model_dir, cache=cache), input_size=TINY_INPUT, flip=True, batch_size=4,
                              detector=two_people)
    frame = pose_frame(next(iter(estimator([image]))), threshold=threshold)
    return frame, render_frame(frame, resolution=resolution, body=body, hands=hands, face=face, feet=False)


def test_the_pose_image_is_the_nodes_pixels(detector, image, tiny_wholebody, cache):
    frame, pixels = node_path(tiny_wholebody, cache, image, resolution=128, face=False)
    ours = detector(image, include_face=False, detect_resolution=None, image_resolution=128, output_type="np")
    assert ours.dtype == np.uint8 and ours.shape == pixels.shape and ours.shape[1] == 128
    assert np.array_equal(ours, pixels)
    assert detector.pose_keypoint(image, detect_resolution=None) == frame
    assert len(frame["people"]) == 2 and any(v for v in frame["people"][0]["hand_left_keypoints_2d"])


def test_pil_numpy_and_torch_images_give_the_same_result(detector, image):
    want = detector(image, detect_resolution=None, output_type="np")
    pil = detector(Image.fromarray(image), detect_resolution=None)
    assert isinstance(pil, Image.Image) and np.array_equal(np.asarray(pil), want)
    hwc = torch.from_numpy(image).float() / 255.0  # ComfyUI's layout
    assert np.array_equal(detector(hwc, detect_resolution=None, output_type="np"), want)
    chw = hwc.permute(2, 0, 1)
    pt = detector(chw, detect_resolution=None, output_type="pt")
    assert pt.dtype == torch.float32 and torch.equal(pt, torch.from_numpy(want).float() / 255.0)


def test_a_batch_gives_a_list_in_order(detector, image):
    other = image[::-1].copy()
    batch = torch.from_numpy(np.stack([image, other])).float() / 255.0  # a ComfyUI IMAGE [B, H, W, 3]
    drawn = detector(batch, detect_resolution=None, output_type="np")
    assert isinstance(drawn, list) and len(drawn) == 2
    assert np.array_equal(drawn[1], detector(other, detect_resolution=None, output_type="np"))
    frames = detector.pose_keypoint([image, other], detect_resolution=None)
    assert isinstance(frames, list) and frames == detector.pose_keypoint(batch, detect_resolution=None)
    assert [(f["canvas_width"], f["canvas_height"]) for f in frames] == [(64, 80)] * 2


def test_detect_resolution_poses_a_resized_image_and_answers_in_the_input_pixels(detector, image):
    """As controlnet_aux: the model sees the image resized (OpenCV bicubic up, area down) to a short side of
    detect_resolution; keypoints and canvas are in the input's pixels (so the drawing keeps the input's aspect)."""
    import cv2

    whole = SDPoseDetector(PoseEstimator(detector.estimator.model, input_size=TINY_INPUT, flip=False))
    frame = whole.pose_keypoint(image, detect_resolution=128)
    assert (frame["canvas_width"], frame["canvas_height"]) == (64, 80)
    big = cv2.resize(image, (128, 160), interpolation=cv2.INTER_CUBIC)
    direct = whole.pose_keypoint(big, detect_resolution=None)
    ours = np.array(frame["people"][0]["pose_keypoints_2d"]).reshape(-1, 3)
    theirs = np.array(direct["people"][0]["pose_keypoints_2d"]).reshape(-1, 3)
    assert np.array_equal(ours[:, 2], theirs[:, 2]) and ours[:, 2].any()
    np.testing.assert_allclose(ours[:, :2], theirs[:, :2] / 2, atol=1e-3)


def test_a_clip_is_tracked_through_the_same_object(detector, image):
    frames = detector.pose_keypoint([image, image, image], detect_resolution=None, video=ClipOptions())
    assert len(frames) == 3 and all("person_id" in p for f in frames for p in f["people"])


def test_bad_arguments_are_one_clear_error(detector, image, tiny_body, cache):
    with pytest.raises(InputError, match="output_type 'latent'"):
        detector(image, output_type="latent")
    with pytest.raises(InputError, match="crop_mode 'squash'"):
        load_estimator(tiny_body, detector=None, device="cpu", cache_dir=cache, crop_mode="squash")
    with pytest.raises(TypeError):
        EstimatorOptions(flip_test=True)  # a node's name, not a field
    for bad in (-5, 0, 10 ** 9, 12.5, True):  # a resize to a 1x1 image, or to gigapixels, is never silent
        with pytest.raises(InputError, match="resolution"):
            detector.pose_keypoint(image, detect_resolution=bad)
    for field, bad in (("seed", "7"), ("seed", 1.5), ("batch_size", True), ("batch_size", 2.0)):
        with pytest.raises(InputError, match=f"{field} must be"):
            EstimatorOptions(**{field: bad}).check()


def test_the_threshold_given_in_options_reaches_the_detector(tiny_body, cache):
    options = EstimatorOptions(input_size=TINY_INPUT, flip=False, threshold=0.6)
    assert SDPoseDetector.from_pretrained(tiny_body, detector=None, device="cpu", cache_dir=cache,
                                          options=options).threshold == 0.6
    assert SDPoseDetector.from_pretrained(tiny_body, detector=None, device="cpu", cache_dir=cache,
                                          options=options, threshold=0.2).threshold == 0.2


def test_load_estimator_reads_the_options(tiny_body, cache):
    est = load_estimator(tiny_body, detector="none", device="cpu", cache_dir=cache,
                         options=EstimatorOptions(input_size=TINY_INPUT, flip=False), batch_size=2)
    assert (est.input_size, est.flip, est.batch_size, est.detector) == (TINY_INPUT, False, 2, None)
