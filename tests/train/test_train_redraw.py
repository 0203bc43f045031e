"""The official minimum-keypoint rule: an augmented crop keeping fewer than 3 (body) / 8 (wholebody) keypoints
with target weight is replaced by a seeded random draw, and the replacement survives resuming."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from synth import make_dataset

from train.config import AugmentConfig
from train.data import MAX_REDRAWS, MIN_KEYPOINTS, DataError, EpochBatchSampler, TopDownDataset, load_instances

SIZE = (64, 64)
SIGMA = 1.5


def keep_labels(ann_file, keep: dict[int, list[int]]) -> None:
    """Unlabel (v = 0, x = y = 0) every keypoint of annotation ``id`` but those listed (133-point indices)."""
    coco = json.loads(ann_file.read_text())
    fields = ("keypoints", "foot_kpts", "face_kpts", "lefthand_kpts", "righthand_kpts")
    for ann in coco["annotations"]:
        if ann["id"] not in keep:
            continue
        offset = 0
        for f in (f for f in fields if f in ann):
            pts = np.asarray(ann[f], dtype=float).reshape(-1, 3)
            for i in range(len(pts)):
                if offset + i not in keep[ann["id"]]:
                    pts[i] = 0.0
            ann[f] = pts.reshape(-1).tolist()
            offset += len(pts)
        ann["num_keypoints"] = int(sum(1 for i in keep[ann["id"]] if i < 17))
    ann_file.write_text(json.dumps(coco))


def pushing_augment() -> AugmentConfig:
    """The official pipeline with half body always on and a strong box shift: joints leave the crop."""
    aug = AugmentConfig()
    aug.photometric.enabled = False
    aug.blur_prob = aug.median_blur_prob = aug.dropout_prob = 0.0
    aug.half_body.prob = 1.0
    aug.bbox.shift_prob, aug.bbox.shift_factor = 1.0, 0.6
    return aug


def codec_weight_count(ds: TopDownDataset, keypoints: torch.Tensor, visible: torch.Tensor) -> int:
    """Keypoints the training loss weights: the weights of the codec's own ``encode`` (heatmap targets)."""
    _, weights = ds.codec.encode(keypoints[None].float(), visible[None])
    return int(torch.count_nonzero(weights))


@pytest.fixture(scope="module")
def sparse_body(tmp_path_factory):
    """Synthetic figures; a few people keep only 3 or 4 labelled joints (head or legs), as COCO's partly seen people."""
    root = tmp_path_factory.mktemp("sparse")
    ann, images = make_dataset(root, 10, seed=3)
    keep_labels(ann, {1: [0, 15, 16], 3: [9, 10, 15, 16], 5: [0, 9, 16], 7: [3, 4, 13, 14], 9: [1, 2, 11]})
    return ann, images


def test_crops_below_three_weighted_keypoints_are_redrawn(sparse_body):
    """Half body and shift push joints out of the crop: exactly the draws left with fewer than 3 weighted
    keypoints are replaced, every sample delivered has at least 3, and substitutes are varied instances."""
    ann, images = sparse_body
    ds = TopDownDataset(load_instances(ann, "body"), images, "body", SIZE, pushing_augment(), seed=11, sigma=SIGMA)
    assert ds.min_keypoints == MIN_KEYPOINTS["body"] == 3
    slots = [(epoch, i) for epoch in range(12) for i in range(len(ds))]
    redrawn, substitutes, first_counts = 0, set(), []
    for epoch, i in slots:
        mat, points, visible = ds.geometry(ds.instances[i], np.random.default_rng([11, epoch, i]))  # draw 0
        first = codec_weight_count(ds, points, torch.as_tensor(visible, dtype=torch.float32))
        first_counts.append(first)
        source, redraws, _, (_, points_used, visible_used) = ds.draw(epoch, i)
        assert (redraws == 0) == (first >= 3), (epoch, i, first)
        assert codec_weight_count(ds, points_used, torch.as_tensor(visible_used, dtype=torch.float32)) >= 3
        if redraws:
            redrawn += 1
            substitutes.add(source)
    counts = np.bincount(first_counts)
    print(f"\n{redrawn} of {len(slots)} draws redrawn; first-draw weighted-keypoint counts {counts.tolist()}")
    assert 8 <= redrawn <= 0.5 * len(slots)
    assert counts[:3].sum() == redrawn and counts[3:].sum() > 0  # both sides of the threshold occur
    assert len(substitutes) >= 5

    item = ds[(slots[0][0], slots[0][1])]
    assert codec_weight_count(ds, item["keypoints"], item["visible"]) >= 3
    redrawn_slot = next((e, i) for e, i in slots if ds.draw(e, i)[1] > 0)
    item = ds[redrawn_slot]
    source, redraws, *_ = ds.draw(*redrawn_slot)
    assert int(item["instance"]) == source and int(item["redraws"]) == redraws > 0
    assert codec_weight_count(ds, item["keypoints"], item["visible"]) >= 3

    keep_all = TopDownDataset(ds.instances, images, "body", SIZE, pushing_augment(), seed=11, sigma=SIGMA,
                              min_keypoints=0)
    assert all(keep_all.draw(e, i)[1] == 0 for e, i in slots)


def test_thresholds_are_three_for_body_and_eight_for_wholebody(tmp_path):
    """Plain crops (no augmentation) of people with exactly threshold - 1 and threshold labelled keypoints."""
    ann, images = make_dataset(tmp_path / "body", 2, seed=5, people=(2, 2))
    keep_labels(ann, {1: [0, 5, 6], 2: [0, 5], 3: [5, 6, 11, 12], 4: [0, 1, 2]})
    ds = TopDownDataset(load_instances(ann, "body"), images, "body", SIZE, None, seed=0, sigma=SIGMA)
    draws = {ds.instances[i].id: ds.draw(0, i) for i in range(len(ds))}
    assert {k: v[1] for k, v in draws.items()} == {1: 0, 2: 1, 3: 0, 4: 0}
    assert draws[2][0] != 1  # the person with two keypoints was replaced by another one

    ann, images = make_dataset(tmp_path / "wb", 2, seed=6, people=(2, 2), wholebody=True)
    face, lhand = list(range(23, 91)), list(range(91, 112))
    keep_labels(ann, {1: [0, 5, 6] + face[:5], 2: [0, 5, 6] + face[:4], 3: [9] + lhand[:7], 4: lhand[:7]})
    ds = TopDownDataset(load_instances(ann, "wholebody"), images, "wholebody", SIZE, None, sigma=SIGMA)
    assert ds.min_keypoints == MIN_KEYPOINTS["wholebody"] == 8
    # annotation 4 has no body keypoint: mmpose drops it before training (num_keypoints 0)
    assert sorted(i.id for i in ds.instances) == [1, 2, 3]
    assert {ds.instances[i].id: ds.draw(0, i)[1] > 0 for i in range(len(ds))} == {1: False, 2: True, 3: False}


def test_no_usable_crop_is_one_clear_error(tmp_path):
    ann, images = make_dataset(tmp_path / "d", 1, seed=7, people=(2, 2))
    keep_labels(ann, {1: [0, 1], 2: [15, 16]})
    ds = TopDownDataset(load_instances(ann, "body"), images, "body", SIZE, None, sigma=SIGMA)
    with pytest.raises(DataError, match=f"at least 3 keypoints in view after {MAX_REDRAWS}"):
        ds[0]


def _stream(ds, epoch: int, start: int = 0, workers: int = 0) -> list[tuple]:
    sampler = EpochBatchSampler(len(ds), 4, epoch, seed=11, start=start)
    loader = torch.utils.data.DataLoader(ds, batch_sampler=sampler, num_workers=workers)
    return [(b["instance"].tolist(), b["redraws"].tolist(), b["keypoints"], b["pixels"]) for b in loader]


def test_redraws_are_the_same_after_resuming_and_with_workers(sparse_body):
    """The substitutes come from the seeded (seed, epoch, slot) draws: a run resumed mid-epoch, or loading
    with worker processes, gets the same instances, augmentations and pixels."""
    ann, images = sparse_body
    ds = TopDownDataset(load_instances(ann, "body"), images, "body", SIZE, pushing_augment(), seed=11, sigma=SIGMA)
    full = [_stream(ds, epoch) for epoch in range(3)]
    assert sum(r for epoch in full for batch in epoch for r in batch[1]) > 0  # some redraws happen here
    resumed = _stream(ds, 1, start=2)
    with_workers = _stream(ds, 2, workers=2)
    for ref, got in ((full[1][2:], resumed), (full[2], with_workers)):
        assert len(ref) == len(got)
        for a, b in zip(ref, got):
            assert a[0] == b[0] and a[1] == b[1]
            assert torch.equal(a[2], b[2]) and torch.equal(a[3], b[3])
    other_seed = TopDownDataset(ds.instances, images, "body", SIZE, pushing_augment(), seed=12, sigma=SIGMA)
    assert any(not torch.equal(a[2], b[2]) for a, b in zip(_stream(other_seed, 0), full[0]))
