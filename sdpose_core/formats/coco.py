"""COCO keypoint results: the record format and the official instance rescoring."""

from __future__ import annotations

import torch

KEYPOINT_SCORE_THRESHOLD = 0.2


def rescore(box_score: float, keypoint_scores: torch.Tensor, threshold: float = KEYPOINT_SCORE_THRESHOLD) -> float:
    """Box score times the mean of the keypoint scores above ``threshold`` (0 when none is), as mmpose's CocoMetric."""
    valid = keypoint_scores[keypoint_scores > threshold]
    return float(box_score) * (float(valid.mean()) if valid.numel() else 0.0)


def image_id_from_stem(stem: str) -> int | str:
    """COCO ids are integers; file stems like '000000397133' become 397133, other stems stay strings."""
    return int(stem) if stem.isdigit() else stem


def coco_records(image_id: int | str, keypoints: torch.Tensor, boxes: torch.Tensor, box_scores: torch.Tensor) -> list[dict]:
    """One COCO keypoint result per person: keypoints [N, K, 3] and boxes [N, 4] xywh in image pixels."""
    return [
        {
            "image_id": image_id,
            "category_id": 1,
            "bbox": [round(float(v), 3) for v in box],
            "keypoints": [round(float(v), 3) for v in kp.reshape(-1)],
            "score": round(rescore(float(s), kp[:, 2]), 6),
        }
        for kp, box, s in zip(keypoints, boxes, box_scores)
    ]
