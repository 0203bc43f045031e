"""Training augmentations, equivalent to the official SDPose pipeline (mmpose transforms + albumentations).

Order, as in the official ``train_pipeline``: box centre/scale -> random flip (pair swap) -> random half
body -> random box shift/scale/rotation -> UDP affine crop -> photometric distortion -> [RGB target
cached here] -> blur (p 0.1) -> median blur (p 0.1) -> coarse dropout (p 1, one hole of 20-40 %).

Only the random parameters live here. The geometry (centre/scale, aspect fix, UDP warp matrices, the
warp itself, point transforms) is ``sdpose_core.engine.crop``'s, shared with inference. Every draw comes from
the ``numpy.random.Generator`` passed in, so a sample's augmentation is a pure function of its seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .config import AugmentConfig, BBoxConfig, HalfBodyConfig, PhotometricConfig


def truncnorm(rng: np.random.Generator, size: int) -> np.ndarray:
    """Standard normal samples truncated to [-1, 1] (scipy's ``truncnorm(-1, 1)``), by rejection."""
    out = np.empty(0)
    while out.size < size:
        draw = rng.standard_normal(2 * size + 4)
        out = np.concatenate([out, draw[np.abs(draw) <= 1.0]])
    return out[:size]


@dataclass
class BoxJitter:
    offset: np.ndarray  # (2,) fraction of the box scale added to the centre
    scale: float  # box scale factor
    rotation: float  # degrees, counter-clockwise as sdpose_core.engine.crop.warp_matrix


def random_bbox_jitter(rng: np.random.Generator, cfg: BBoxConfig) -> BoxJitter:
    """mmpose RandomBBoxTransform for one box: truncated-normal shift, scale and rotation, each with its prob."""
    offset = truncnorm(rng, 2) * cfg.shift_factor
    if not rng.random() < cfg.shift_prob:
        offset = np.zeros(2)
    lo, hi = cfg.scale_factor
    scale = float(truncnorm(rng, 1)[0] * (hi - lo) * 0.5 + (hi + lo) * 0.5)
    if not rng.random() < cfg.scale_prob:
        scale = 1.0
    rotation = float(truncnorm(rng, 1)[0] * cfg.rotate_factor)
    if not rng.random() < cfg.rotate_prob:
        rotation = 0.0
    return BoxJitter(offset, scale, rotation)


def random_half_body(rng: np.random.Generator, keypoints: np.ndarray, visible: np.ndarray,
                     upper_ids: tuple[int, ...], lower_ids: tuple[int, ...], cfg: HalfBodyConfig
                     ) -> tuple[np.ndarray, np.ndarray] | None:
    """mmpose RandomHalfBody for one person: (centre, scale) of the upper or lower body, or None to keep the box.

    The half-body box is the extent of the chosen visible keypoints times ``padding``, centred on their mean.
    """
    if visible.sum() < cfg.min_total_keypoints:
        return None
    if rng.random() > cfg.prob:
        return None
    upper = [i for i in upper_ids if visible[i] > 0]
    lower = [i for i in lower_ids if visible[i] > 0]
    prefer_upper = rng.random() < cfg.upper_prioritized_prob
    if len(upper) < cfg.min_upper_keypoints and len(lower) < cfg.min_lower_keypoints:
        return None
    if len(lower) < cfg.min_lower_keypoints:
        chosen = upper
    elif len(upper) < cfg.min_upper_keypoints:
        chosen = lower
    else:
        chosen = upper if prefer_upper else lower
    points = keypoints[chosen]
    center = points.mean(axis=0)
    scale = (points.max(axis=0) - points.min(axis=0)) * cfg.padding
    return center, scale


def _convert(img: np.ndarray, alpha: float = 1.0, beta: float = 0.0) -> np.ndarray:
    """img * alpha + beta, clipped to 0..255 and truncated to uint8 (mmpose's ``_convert``)."""
    return np.clip(img.astype(np.float32) * alpha + beta, 0, 255).astype(np.uint8)


def photometric_distortion(rng: np.random.Generator, img: np.ndarray, cfg: PhotometricConfig) -> np.ndarray:
    """mmpose PhotometricDistortion on an HxWx3 uint8 image.

    Reproduces the official behaviour exactly, quirks included: the contrast step runs both before and
    after the HSV step when ``contrast_mode == 1`` (so twice, with the same factor) and never when it is 0,
    and the hue shift wraps as uint8 before OpenCV's HSV->RGB conversion. Our crops are RGB where mmpose's
    are BGR; HSV values do not depend on the channel order, and the channel swap is a uniform random
    permutation either way.
    """
    contrast_mode = rng.integers(2)
    brightness_flag = rng.integers(2)
    contrast_flag = rng.integers(2)
    hsv_mode = rng.integers(4)
    swap_flag = rng.integers(2)
    brightness_beta = rng.uniform(-cfg.brightness_delta, cfg.brightness_delta)
    contrast_alpha = rng.uniform(*cfg.contrast_range)
    saturation_alpha = rng.uniform(*cfg.saturation_range)
    hue_delta = int(rng.integers(-cfg.hue_delta, cfg.hue_delta))
    order = rng.permutation(3)

    if brightness_flag:
        img = _convert(img, beta=brightness_beta)
    if contrast_mode == 1 and contrast_flag:
        img = _convert(img, alpha=contrast_alpha)
    if hsv_mode:
        hsv = cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_RGB2HSV)
        if hsv_mode in (1, 3):
            hsv[:, :, 1] = _convert(hsv[:, :, 1], alpha=saturation_alpha)
        if hsv_mode in (2, 3):
            hsv[:, :, 0] = (hsv[:, :, 0].astype(np.int64) + hue_delta).astype(np.uint8)
        img = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    if contrast_mode == 1 and contrast_flag:
        img = _convert(img, alpha=contrast_alpha)
    if swap_flag:
        img = img[..., order]
    return np.ascontiguousarray(img)


def _odd_kernel(rng: np.random.Generator, limit: tuple[int, int]) -> int:
    lo, hi = limit
    lo += 1 - lo % 2
    return int(rng.choice(np.arange(lo, hi + 1, 2)))


def pixel_augment(rng: np.random.Generator, img: np.ndarray, cfg: AugmentConfig) -> np.ndarray:
    """The albumentations stage: Blur, MedianBlur, CoarseDropout, each with its probability, in that order."""
    if rng.random() < cfg.blur_prob:
        k = _odd_kernel(rng, cfg.blur_limit)
        img = cv2.blur(img, (k, k))
    if rng.random() < cfg.median_blur_prob:
        k = _odd_kernel(rng, cfg.blur_limit)
        img = cv2.medianBlur(np.ascontiguousarray(img), k)
    if rng.random() < cfg.dropout_prob:
        h, w = img.shape[:2]
        hole_h = int(h * rng.uniform(*cfg.dropout_size))
        hole_w = int(w * rng.uniform(*cfg.dropout_size))
        y0 = int(rng.integers(0, h - hole_h + 1))
        x0 = int(rng.integers(0, w - hole_w + 1))
        img = img.copy()
        img[y0:y0 + hole_h, x0:x0 + hole_w] = 0
    return img
