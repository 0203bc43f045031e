"""Mask -> person boxes (sdpose_core.engine.regions), against scipy.ndimage's independent labelling."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from sdpose_core.engine.regions import mask_boxes
from sdpose_core.errors import InputError


def reference_boxes(mask: np.ndarray, min_area: int) -> list[tuple]:
    labels, count = ndimage.label(mask > 0.5, structure=np.ones((3, 3)))
    boxes = []
    for index, region in enumerate(ndimage.find_objects(labels), start=1):
        area = int((labels[region] == index).sum())
        if area >= min_area:
            ys, xs = region
            boxes.append((xs.start, ys.start, xs.stop - xs.start, ys.stop - ys.start, area))
    return boxes


def test_one_box_per_region_above_the_minimum_area():
    rng = np.random.default_rng(0)
    mask = np.zeros((120, 160), np.float32)
    mask[10:60, 20:45] = 1.0  # a person
    mask[30:110, 90:130] = 0.8  # another
    mask[100:103, 5:8] = 1.0  # a speckle (9 px)
    mask[70, 60] = mask[71, 61] = 1.0  # two pixels touching diagonally: one region of 2
    mask += rng.uniform(0, 0.4, mask.shape).astype(np.float32)  # noise below the threshold
    expected = sorted(reference_boxes(mask, 20), key=lambda b: (-b[4], b[1], b[0]))
    got = mask_boxes(mask, min_area=20)
    assert [tuple(b[:4]) for b in got] == [b[:4] for b in expected] and len(got) == 2
    assert all(b[4] == 1.0 for b in got)
    assert len(mask_boxes(mask, min_area=1)) == len(reference_boxes(mask, 1)) == 4


def test_empty_mask_has_nobody_and_bad_masks_are_refused():
    assert mask_boxes(np.zeros((8, 8))) == []
    assert mask_boxes(np.full((8, 8), np.nan), min_area=1) == []
    with pytest.raises(InputError, match="2-D mask"):
        mask_boxes(np.zeros((2, 8, 8)))
    with pytest.raises(InputError, match="min_area"):
        mask_boxes(np.zeros((8, 8)), min_area=0)
