"""Training data: annotation parsing, the augmented top-down crops, and the resumable batch order."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch

from sdpose_core.engine.schemes import BODY
from train.augment import photometric_distortion, pixel_augment, truncnorm
from train.config import AugmentConfig, ConfigError, PhotometricConfig, load_config
from train.data import EpochBatchSampler, TopDownDataset, load_instances, parse_instances

# 17 clearly different colours, one per keypoint (left and right differ here, unlike synth's figures).
COLORS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (255, 0, 255), (0, 255, 255), (255, 128, 0),
          (128, 0, 255), (0, 128, 255), (255, 0, 128), (128, 255, 0), (0, 255, 128), (255, 255, 255),
          (128, 128, 255), (255, 128, 128), (128, 255, 128), (64, 64, 64)]


def dots_dataset(tmp_path, width=200, height=160):
    """One image with 17 big uniquely coloured squares at known keypoints, plus a crowd and an empty person."""
    rng = np.random.default_rng(0)
    img = np.zeros((height, width, 3), np.uint8)
    pts = np.stack([rng.uniform(60, 140, 17), rng.uniform(30, 130, 17)], axis=1)
    for i in range(17):  # keep the squares apart so each keypoint's neighbourhood has one colour
        while any(np.abs(pts[i] - pts[j]).max() < 11 for j in range(i)):
            pts[i] = [rng.uniform(40, 160), rng.uniform(20, 140)]
    for p, c in zip(pts, COLORS):
        x, y = int(round(p[0])), int(round(p[1]))
        img[y - 5:y + 6, x - 5:x + 6] = c
    (tmp_path / "img").mkdir()
    cv2.imwrite(str(tmp_path / "img" / "a.png"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    pts = np.round(pts)
    kp = [v for p in pts for v in (float(p[0]), float(p[1]), 2)]
    x0, y0 = pts.min(0) - 5
    x1, y1 = pts.max(0) + 5
    anns = [{"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 0, "bbox": [x0, y0, x1 - x0, y1 - y0],
             "area": 5000.0, "num_keypoints": 17, "keypoints": kp},
            {"id": 2, "image_id": 1, "category_id": 1, "iscrowd": 1, "bbox": [0, 0, 50, 50], "area": 100.0,
             "num_keypoints": 17, "keypoints": kp},
            {"id": 3, "image_id": 1, "category_id": 1, "iscrowd": 0, "bbox": [0, 0, 50, 50], "area": 100.0,
             "num_keypoints": 0, "keypoints": [0.0] * 51},
            {"id": 4, "image_id": 1, "category_id": 1, "iscrowd": 0, "bbox": [-20, -10, 300, 400], "area": 1.0,
             "num_keypoints": 1, "keypoints": [5.0, 5.0, 1] + [0.0] * 48}]
    coco = {"images": [{"id": 1, "file_name": "a.png", "width": width, "height": height}], "annotations": anns,
            "categories": [{"id": 1, "name": "person"}]}
    (tmp_path / "ann.json").write_text(json.dumps(coco))
    return tmp_path / "ann.json", tmp_path / "img", pts


def test_instances_are_filtered_and_clipped_as_mmpose(tmp_path):
    ann, _, _ = dots_dataset(tmp_path)
    assert len(parse_instances(json.loads(ann.read_text()), "body")) == 4
    valid = load_instances(ann, "body")
    assert [i.id for i in valid] == [1, 4]  # crowd and no-keypoint instances dropped
    clipped = valid[1]
    assert clipped.box_xyxy.tolist() == [0.0, 0.0, 199.0, 159.0]
    assert clipped.visible.tolist() == [1.0] + [0.0] * 16  # min(1, v)


def test_augmented_keypoints_land_on_their_pixels(tmp_path):
    """Flip (with pair swap), half body, shift/scale/rotation and the UDP warp move the image and the
    keypoints together: each visible keypoint inside the crop sits on its own square's colour."""
    ann, img_dir, _ = dots_dataset(tmp_path)
    aug = AugmentConfig()
    aug.photometric.enabled = False
    aug.blur_prob = aug.median_blur_prob = aug.dropout_prob = 0.0
    aug.half_body.min_total_keypoints = 8  # let half-body trigger on this 17-point person too
    aug.half_body.prob = 0.5
    ds = TopDownDataset(load_instances(ann, "body")[:1], img_dir, "body", (128, 128), aug, seed=3)
    flips, rotations, checked = 0, 0, 0
    for epoch in range(24):
        mat, _, _ = ds.geometry(ds.instances[0], np.random.default_rng([3, epoch, 0]))
        item = ds[(epoch, 0)]
        flipped = torch.linalg.det(mat[0, :, :2]) < 0
        flips += int(flipped)
        rotations += int(abs(mat[0, 0, 1]) > 1e-6)
        crop = item["pixels"].permute(1, 2, 0).numpy()
        for k, (p, v) in enumerate(zip(item["keypoints"].numpy(), item["visible"].numpy())):
            x, y = int(round(p[0])), int(round(p[1]))
            if v < 0.5 or not (2 <= x < 126 and 2 <= y < 126):
                continue
            source = BODY.flip_indices[k] if flipped else k  # after a flip, keypoint k is the mirrored partner
            assert tuple(crop[y, x]) == COLORS[source], (epoch, k, flipped)
            checked += 1
    assert 4 <= flips <= 20 and rotations >= 5 and checked > 150


def test_plain_crop_matches_engine_geometry(tmp_path):
    """Without augmentation the crop is exactly the inference crop of the (clipped) box."""
    from sdpose_core.engine.crop import crop_center_scale, warp_crops, warp_matrix

    ann, img_dir, _ = dots_dataset(tmp_path)
    inst = load_instances(ann, "body")[0]
    ds = TopDownDataset([inst], img_dir, "body", (64, 128), None)
    item = ds[0]
    box = torch.tensor([[*inst.box_xyxy[:2], *(inst.box_xyxy[2:] - inst.box_xyxy[:2])]], dtype=torch.float64)
    center, scale = crop_center_scale(box, (64, 128))
    image = cv2.cvtColor(cv2.imread(str(img_dir / "a.png")), cv2.COLOR_BGR2RGB)
    expected = warp_crops(image, warp_matrix(center, scale, (64, 128)), (64, 128))[0]  # the official crop's bytes
    assert torch.equal(item["pixels"], expected.permute(2, 0, 1))
    assert torch.equal(item["pixels"], item["target_rgb"])


def test_samples_are_a_function_of_seed_epoch_index(tmp_path):
    ann, img_dir, _ = dots_dataset(tmp_path)
    ds = TopDownDataset(load_instances(ann, "body"), img_dir, "body", (64, 64), AugmentConfig(), seed=5)
    a, b, c = ds[(2, 1)], ds[(2, 1)], ds[(3, 1)]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["pixels"], c["pixels"])


def test_rgb_target_is_the_crop_before_blur_and_dropout():
    rng = np.random.default_rng(1)
    img = rng.integers(20, 255, (100, 80, 3), dtype=np.uint8)
    cfg = AugmentConfig(blur_prob=0.0, median_blur_prob=0.0)
    for seed in range(10):
        out = pixel_augment(np.random.default_rng(seed), img, cfg)
        hole = (out != img).any(-1)
        ys, xs = np.nonzero(hole)
        h, w = ys.max() - ys.min() + 1, xs.max() - xs.min() + 1
        assert hole.sum() == h * w and (out[hole] == 0).all()  # one rectangular black hole
        assert 0.2 * 100 - 1 <= h <= 0.4 * 100 and 0.2 * 80 - 1 <= w <= 0.4 * 80
    blurred = pixel_augment(np.random.default_rng(0), img, AugmentConfig(blur_prob=1.0, dropout_prob=0.0))
    assert blurred.dtype == np.uint8 and not np.array_equal(blurred, img)


def test_photometric_distortion_changes_colour_not_geometry():
    rng = np.random.default_rng(2)
    img = np.zeros((40, 40, 3), np.uint8)
    img[10:20, 10:20] = (200, 50, 50)
    changed = 0
    for seed in range(12):
        out = photometric_distortion(np.random.default_rng(seed), img, PhotometricConfig())
        assert out.shape == img.shape and out.dtype == np.uint8
        inside = out[10:20, 10:20].reshape(-1, 3)
        assert (inside == inside[0]).all()  # still one uniform square
        changed += int(not np.array_equal(out, img))
    assert changed >= 8
    t = truncnorm(rng, 10000)
    assert np.abs(t).max() <= 1.0 and abs(t.mean()) < 0.02 and 0.25 < t.var() < 0.33  # var of N(0,1) on [-1,1]: 0.291


def test_batch_order_shards_and_resumes():
    full = list(EpochBatchSampler(23, 3, epoch=4, seed=7))
    assert len(full) == 7 and all(len(b) == 3 for b in full)
    assert len({i for b in full for _, i in b}) == 21
    ranks = [list(EpochBatchSampler(23, 3, 4, 7, rank=r, world_size=2)) for r in range(2)]
    assert len(ranks[0]) == len(ranks[1]) == 3  # 23 // 6
    for k in range(3):  # global batch k = rank 0's slice then rank 1's, from the same permutation
        glob = [i for r in range(2) for _, i in ranks[r][k]]
        assert glob == [i for b in full[2 * k:2 * k + 2] for _, i in b]
    assert list(EpochBatchSampler(23, 3, 4, 7, start=5)) == full[5:]
    assert list(EpochBatchSampler(23, 3, 5, 7)) != full


def test_config_rejects_unknown_keys_and_bad_sizes(tmp_path):
    cfg = load_config(None, ["train.batch_size=4", "data.input_size=[128, 192]", "train.mixed_precision=no"])
    assert cfg.train.batch_size == 4 and cfg.data.input_size == (128, 192) and cfg.train.mixed_precision == "no"
    assert cfg.optim.lr == 3e-5 and cfg.data.sigma == 6.0 and cfg.augment.bbox.rotate_factor == 80.0
    with pytest.raises(ConfigError, match="Unknown config key 'train.batchsize'"):
        load_config(None, ["train.batchsize=4"])
    with pytest.raises(Exception, match="multiple of 64"):
        load_config(None, ["data.input_size=[100, 128]"])
    path = tmp_path / "c.yaml"
    path.write_text("scheme: wholebody\noptim:\n  lr: 1.0e-4\n")
    assert load_config(path).scheme == "wholebody"
