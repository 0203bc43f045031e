"""Evaluation: pycocotools AP/AR, COCO-WholeBody per-part protocol, OKS-NMS, the CLI with --results."""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest

from sdpose_core.keypoints import BODY_SIGMAS, FACE_SIGMAS, WHOLEBODY_PARTS, WHOLEBODY_SIGMAS
from train import evaluate as ev
from train.metrics import STAT_NAMES, evaluate_results, oks_nms, rescore_and_nms

THRESHOLDS = np.linspace(0.5, 0.95, 10)


def _person(rng, image_id, ann_id, x, y, w, h, k):
    kp = np.stack([rng.uniform(x, x + w, k), rng.uniform(y, y + h, k), np.full(k, 2.0)], axis=1)
    return {"id": ann_id, "image_id": image_id, "category_id": 1, "iscrowd": 0, "bbox": [x, y, w, h],
            "area": w * h * 0.6, "kp": kp}


def make_gt(scheme: str, seed: int = 0):
    """Four images; people of medium (~5000 px^2) and large (~20000 px^2) area, one per image but image 4 (two)."""
    rng = np.random.default_rng(seed)
    k = 17 if scheme == "body" else 133
    people = [_person(rng, 1, 1, 10, 10, 50, 160, k), _person(rng, 2, 2, 30, 5, 110, 300, k),
              _person(rng, 3, 3, 40, 20, 60, 140, k), _person(rng, 4, 4, 5, 5, 60, 150, k),
              _person(rng, 4, 5, 300, 40, 120, 280, k)]
    anns = []
    for p in people:
        ann = {key: v for key, v in p.items() if key != "kp"}
        flat = p["kp"].reshape(-1).tolist()
        if scheme == "body":
            ann["keypoints"], ann["num_keypoints"] = flat, k
        else:
            for part in WHOLEBODY_PARTS:
                ann[part.field] = p["kp"][part.start:part.stop].reshape(-1).tolist()
            ann["num_keypoints"] = 17
        anns.append(ann)
    images = [{"id": i, "file_name": f"{i:06d}.jpg", "width": 640, "height": 480} for i in range(1, 5)]
    return {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "person"}]}, people


def results_from(people, scheme, shift=None, scores=None):
    """Results equal to the ground truth (score 1 per keypoint), optionally shifted per person."""
    out = []
    for n, p in enumerate(people):
        kp = p["kp"].copy()
        kp[:, 2] = 1.0
        if shift is not None:
            kp[:, :2] += shift(n, p)
        rec = {"image_id": p["image_id"], "category_id": 1, "score": 1.0 if scores is None else scores[n]}
        rec["keypoints"] = kp.reshape(-1).tolist()
        out.append(rec)
    return out


def oks_shift(area, sigmas, target):
    """Per-keypoint x offsets giving every keypoint similarity ``target``: d = 2 sigma sqrt(area) sqrt(-2 ln t)."""
    d = 2 * np.asarray(sigmas) * math.sqrt(area) * math.sqrt(-2 * math.log(target))
    return np.stack([d, np.zeros_like(d)], axis=1)


def expected_ap(oks: float) -> float:
    """One detection per ground truth, all with the same OKS: AP = share of thresholds it passes."""
    return float(np.mean(THRESHOLDS <= oks + 1e-12))


def test_ground_truth_scores_one_body():
    gt, people = make_gt("body")
    metrics = evaluate_results(copy.deepcopy(gt), results_from(people, "body"), "body")
    assert set(metrics) == {"body"}
    assert all(metrics["body"][name] == pytest.approx(1.0) for name in STAT_NAMES), metrics


def test_ground_truth_scores_one_per_part_wholebody():
    gt, people = make_gt("wholebody")
    metrics = evaluate_results(gt, results_from(people, "wholebody"), "wholebody")
    assert list(metrics) == ["body", "foot", "face", "lefthand", "righthand", "hand", "whole"]
    for part, stats in metrics.items():
        assert all(stats[name] == pytest.approx(1.0) for name in STAT_NAMES), (part, stats)


def test_uniform_oks_gives_share_of_thresholds():
    gt, people = make_gt("body")
    results = results_from(people, "body", shift=lambda n, p: oks_shift(p["area"], BODY_SIGMAS, 0.77))
    stats = evaluate_results(gt, results, "body")["body"]
    assert stats["AP"] == pytest.approx(0.6)  # thresholds .50 ... .75
    assert stats["AP50"] == pytest.approx(1.0) and stats["AP75"] == pytest.approx(1.0)
    assert stats["AR"] == pytest.approx(0.6)


def test_mixed_quality_ranking_matches_hand_computation():
    """Two images, one person each: a perfect prediction scored 0.9 and an OKS-0.62 one scored 0.5.

    Thresholds <= 0.60: both match (AP 1). Above: the first detection matches, the second is a false
    positive after it: precision 1 up to recall 0.5, nothing after -> 51 of 101 recall points.
    """
    gt, people = make_gt("body")
    gt["annotations"] = gt["annotations"][:2]
    gt["images"] = gt["images"][:2]
    people = people[:2]
    results = results_from(people, "body", shift=lambda n, p: oks_shift(p["area"], BODY_SIGMAS, 0.62) * n,
                           scores=[0.9, 0.5])
    stats = evaluate_results(gt, results, "body")["body"]
    assert stats["AP"] == pytest.approx((3 * 1.0 + 7 * 51 / 101) / 10)
    assert stats["AR"] == pytest.approx((3 * 1.0 + 7 * 0.5) / 10)


def test_face_only_perturbation_hits_face_and_whole_only():
    gt, people = make_gt("wholebody")

    def shift(n, p):
        s = np.zeros((133, 2))
        s[23:91] = oks_shift(p["area"], FACE_SIGMAS, 0.77)
        return s

    metrics = evaluate_results(gt, results_from(people, "wholebody", shift=shift), "wholebody")
    for part in ("body", "foot", "lefthand", "righthand", "hand"):
        assert metrics[part]["AP"] == pytest.approx(1.0), part
    assert metrics["face"]["AP"] == pytest.approx(0.6)
    whole_oks = (65 * 1.0 + 68 * 0.77) / 133
    assert metrics["whole"]["AP"] == pytest.approx(expected_ap(whole_oks))  # 0.8


def _split(results):
    out = []
    for rec in results:
        kp = np.asarray(rec["keypoints"]).reshape(-1, 3)
        r = {k: v for k, v in rec.items() if k != "keypoints"}
        for part in WHOLEBODY_PARTS:
            r[part.field] = kp[part.start:part.stop].reshape(-1).tolist()
        out.append(r)
    return out


def test_unlabelled_part_follows_the_protocol():
    """Person 1 has no left-hand labels: it is ignored for the left hand. A left-hand prediction lying on
    that person matches the ignored person and is ignored too; one with all scores 0 is dropped; one far
    away is a false positive (here ranked first: precision 0.8 at every recall -> AP 0.8)."""
    gt, people = make_gt("wholebody")
    gt["annotations"][0]["lefthand_kpts"] = [0.0] * 63
    scores = [1.0, 0.9, 0.9, 0.9, 0.9]
    on_person = _split(results_from(people, "wholebody", scores=scores))
    assert evaluate_results(gt, on_person, "wholebody")["lefthand"]["AP"] == pytest.approx(1.0)

    zero = copy.deepcopy(on_person)
    zero[0]["lefthand_kpts"] = [0.0 if i % 3 == 2 else v + 500.0 for i, v in enumerate(zero[0]["lefthand_kpts"])]
    assert evaluate_results(gt, zero, "wholebody")["lefthand"]["AP"] == pytest.approx(1.0)

    far = copy.deepcopy(on_person)
    far[0]["lefthand_kpts"] = [v + 500.0 if i % 3 != 2 else v for i, v in enumerate(far[0]["lefthand_kpts"])]
    metrics = evaluate_results(gt, far, "wholebody")
    assert metrics["lefthand"]["AP"] == pytest.approx(0.8)
    assert metrics["righthand"]["AP"] == pytest.approx(1.0)
    assert metrics["hand"]["AP"] == pytest.approx(0.9)  # mean of left and right


def test_oks_nms_and_rescoring():
    rng = np.random.default_rng(0)
    base = np.concatenate([rng.uniform(0, 100, (17, 2)), np.full((17, 1), 0.9)], axis=1)
    near = base.copy()
    near[:, :2] += 0.5
    far = base.copy()
    far[:, :2] += 300
    sig = np.asarray(BODY_SIGMAS)
    keep = oks_nms(np.stack([base, near, far]), np.array([0.8, 0.9, 0.7]), np.array([5000.0] * 3), sig)
    assert keep == [1, 2]
    low = base.copy()
    low[:5, 2] = 0.1  # below the 0.2 threshold: left out of the mean
    instances = [{"id": 7, "image_id": 1, "keypoints": low, "box_score": 0.5, "area": 5000.0},
                 {"id": 7, "image_id": 1, "keypoints": low, "box_score": 0.5, "area": 5000.0}]  # duplicate id
    out = rescore_and_nms(instances, "body")
    assert len(out) == 1 and out[0]["score"] == pytest.approx(0.5 * 0.9)
    assert len(out[0]["keypoints"]) == 51


def test_cli_results_writes_named_metrics(tmp_path):
    gt, people = make_gt("wholebody")
    ann, res, out = tmp_path / "ann.json", tmp_path / "res.json", tmp_path / "METRICS.json"
    ann.write_text(json.dumps(gt))
    res.write_text(json.dumps(results_from(people, "wholebody")))
    assert ev.main(["--ann", str(ann), "--scheme", "wholebody", "--results", str(res), "--metrics-out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["AP"] == pytest.approx(1.0) and set(STAT_NAMES) <= set(report)
    assert set(report["parts"]) == {"body", "foot", "face", "lefthand", "righthand", "hand", "whole"}
    assert set(report["parts"]["face"]) == set(STAT_NAMES)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"image_id": 99, "category_id": 1, "keypoints": [0.0] * 399, "score": 1.0}]))
    assert ev.main(["--ann", str(ann), "--scheme", "wholebody", "--results", str(bad)]) == 2


def test_shards_cover_every_crop_in_the_same_batches():
    instances = [{"id": i, "image_id": i // 3, "file_name": f"{i // 3}.jpg", "box": [0, 0, 1, 1], "score": 1.0}
                 for i in range(23)]
    single = ev.shard_feed(instances, 4, 0, 1)
    shards = [ev.shard_feed(instances, 4, r, 3) for r in range(3)]
    ids = sorted(i["id"] for feed in shards for _, _, items in feed for i in items)
    assert ids == list(range(23))

    def batches(feed):
        flat = [i["id"] for _, _, items in feed for i in items]
        return [tuple(flat[j:j + 4]) for j in range(0, len(flat), 4)]

    assert sorted(b for feed in shards for b in batches(feed)) == sorted(batches(single))
    assert len(WHOLEBODY_SIGMAS) == 133
