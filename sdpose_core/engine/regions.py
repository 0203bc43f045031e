"""Person boxes from a mask: one box per connected region, for people boxed by segmentation nodes.

A mask from any segmentation or detector node (SAM, Grounding DINO + SAM, a person segmenter, a hand-painted mask)
marks where the people are; each separate region is one person. Regions smaller than ``min_area`` pixels are
speckles, not people, and are left out.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import InputError

MASK_THRESHOLD = 0.5  # a pixel belongs to a region when its mask value is above this (masks are 0..1)


def mask_boxes(mask: np.ndarray, min_area: int = 64, threshold: float = MASK_THRESHOLD) -> list[list[float]]:
    """[[x, y, w, h, 1.0], ...] in pixels: the bounding box of every 8-connected region of ``mask > threshold``
    holding at least ``min_area`` pixels, largest first (ties: top-left first). A box covers its pixels whole
    (a region spanning columns 3..5 is x=3, w=3)."""
    import cv2

    mask = np.asarray(mask)
    if mask.ndim != 2 or not mask.size:
        raise InputError(f"mask: expected a 2-D mask (height x width), got shape {tuple(mask.shape)}.")
    if not math.isfinite(threshold) or not 0.0 <= threshold < 1.0:
        raise InputError(f"mask threshold must be in [0, 1), got {threshold}.")
    if min_area < 1:
        raise InputError(f"min_area must be at least 1 pixel, got {min_area}.")
    binary = (np.nan_to_num(mask.astype(np.float32), nan=0.0) > threshold).astype(np.uint8)
    count, _, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    regions = [stats[i] for i in range(1, count) if stats[i][cv2.CC_STAT_AREA] >= min_area]
    regions.sort(key=lambda s: (-int(s[cv2.CC_STAT_AREA]), int(s[cv2.CC_STAT_TOP]), int(s[cv2.CC_STAT_LEFT])))
    return [[float(s[cv2.CC_STAT_LEFT]), float(s[cv2.CC_STAT_TOP]), float(s[cv2.CC_STAT_WIDTH]),
             float(s[cv2.CC_STAT_HEIGHT]), 1.0] for s in regions]
