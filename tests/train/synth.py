"""Synthetic COCO-format keypoint data for the training tests: stick figures with known keypoints.

Every figure faces the camera (its left side on the image's right, as a COCO person facing the viewer),
so a horizontal flip with left/right swap is a label-consistent augmentation. Each joint is a filled dot
whose colour names the joint up to side (left and right share a colour; side follows from position).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np

# One colour per joint kind (RGB): nose, eyes, ears, shoulders, elbows, wrists, hips, knees, ankles.
KIND_COLORS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (255, 0, 255), (0, 255, 255),
               (255, 128, 0), (128, 0, 255), (255, 255, 255)]
KIND_OF = [0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8]
LIMBS = [(5, 6), (5, 7), (7, 9), (6, 8), (8, 10), (5, 11), (6, 12), (11, 12), (11, 13), (13, 15), (12, 14),
         (14, 16), (0, 1), (0, 2), (1, 3), (2, 4)]


def figure_keypoints(rng: np.random.Generator, height: float, cx: float, cy: float) -> np.ndarray:
    """(17, 2) COCO-order keypoints of a standing figure ``height`` px tall centred at (cx, cy)."""
    u = height
    pts = np.zeros((17, 2))
    neck = np.array([0.0, -0.28 * u])
    hip = np.array([0.0, 0.08 * u])
    nose = neck + [rng.uniform(-0.03, 0.03) * u, -0.13 * u]
    pts[0] = nose
    pts[1], pts[2] = nose + [0.035 * u, -0.03 * u], nose + [-0.035 * u, -0.03 * u]  # left eye on image right
    pts[3], pts[4] = nose + [0.07 * u, -0.005 * u], nose + [-0.07 * u, -0.005 * u]
    half_sh, half_hip = rng.uniform(0.1, 0.14) * u, rng.uniform(0.06, 0.09) * u
    pts[5], pts[6] = neck + [half_sh, 0], neck + [-half_sh, 0]
    pts[11], pts[12] = hip + [half_hip, 0], hip + [-half_hip, 0]
    for side, sign in ((0, 1.0), (1, -1.0)):  # 0: left (+x), 1: right (-x)
        a1, a2 = rng.uniform(-0.2, 1.6), rng.uniform(-0.4, 1.2)
        elbow = pts[5 + side] + 0.16 * u * np.array([sign * math.sin(a1), math.cos(a1)])
        wrist = elbow + 0.14 * u * np.array([sign * math.sin(a1 + a2), math.cos(a1 + a2)])
        pts[7 + side], pts[9 + side] = elbow, wrist
        l1, l2 = rng.uniform(-0.1, 0.5), rng.uniform(-0.5, 0.1)
        knee = pts[11 + side] + 0.2 * u * np.array([sign * math.sin(l1), math.cos(l1)])
        ankle = knee + 0.2 * u * np.array([sign * math.sin(l1 + l2), math.cos(l1 + l2)])
        pts[13 + side], pts[15 + side] = knee, ankle
    return pts + [cx, cy]


def draw_figure(img: np.ndarray, pts: np.ndarray, radius: int) -> None:
    for a, b in LIMBS:
        cv2.line(img, tuple(int(round(v)) for v in pts[a]), tuple(int(round(v)) for v in pts[b]), (128, 128, 128),
                 max(1, radius // 2), cv2.LINE_AA)
    for i, p in enumerate(pts):
        cv2.circle(img, (int(round(p[0] * 4)), int(round(p[1] * 4))), radius * 4, KIND_COLORS[KIND_OF[i]], -1,
                   cv2.LINE_AA, shift=2)


def wholebody_extra(rng: np.random.Generator, pts: np.ndarray, height: float) -> dict[str, np.ndarray]:
    """Foot / face / hand points near the ankles, nose and wrists (for 133-keypoint plumbing tests)."""
    u = height
    foot = np.concatenate([pts[15] + rng.normal(0, 0.02 * u, (3, 2)), pts[16] + rng.normal(0, 0.02 * u, (3, 2))])
    face = pts[0] + rng.normal(0, 0.03 * u, (68, 2))
    lhand = pts[9] + rng.normal(0, 0.025 * u, (21, 2))
    rhand = pts[10] + rng.normal(0, 0.025 * u, (21, 2))
    return {"foot_kpts": foot, "face_kpts": face, "lefthand_kpts": lhand, "righthand_kpts": rhand}


def _flat(points: np.ndarray, v: int = 2) -> list[float]:
    return [float(x) for p in points for x in (round(float(p[0]), 2), round(float(p[1]), 2), v)]


def make_dataset(root: Path, num_images: int, seed: int, size: tuple[int, int] = (96, 96),
                 people: tuple[int, int] = (1, 2), height: tuple[float, float] = (52, 76),
                 wholebody: bool = False) -> tuple[Path, Path]:
    """Write ``root/images/*.png`` and ``root/annotations.json``; return (annotation file, image folder)."""
    rng = np.random.default_rng(seed)
    img_dir = root / "images"
    img_dir.mkdir(parents=True, exist_ok=True)
    w, h = size
    images, anns = [], []
    for i in range(num_images):
        base = rng.integers(0, 90, 3)
        grad = np.linspace(0, 1, w)[None, :, None] * rng.integers(0, 60, 3)[None, None, :]
        img = (base[None, None, :] + grad + rng.normal(0, 6, (h, w, 3))).clip(0, 255).astype(np.uint8)
        img = np.ascontiguousarray(img)
        n = int(rng.integers(people[0], people[1] + 1))
        for j in range(n):
            ht = rng.uniform(*height)
            cx = rng.uniform(0.3, 0.7) * w if n == 1 else (j + 0.5) * w / n + rng.uniform(-0.05, 0.05) * w
            cy = h / 2 + rng.uniform(-0.06, 0.06) * h
            pts = figure_keypoints(rng, ht, cx, cy)
            draw_figure(img, pts, radius=max(2, int(round(ht / 22))))
            x0, y0 = pts.min(0) - 0.06 * ht
            x1, y1 = pts.max(0) + 0.06 * ht
            x0, y0, x1, y1 = max(0.0, x0), max(0.0, y0), min(w - 1.0, x1), min(h - 1.0, y1)
            ann = {"id": len(anns) + 1, "image_id": i + 1, "category_id": 1, "iscrowd": 0,
                   "bbox": [round(x0, 2), round(y0, 2), round(x1 - x0, 2), round(y1 - y0, 2)],
                   "area": round(float((x1 - x0) * (y1 - y0) * 0.55), 2), "num_keypoints": 17,
                   "keypoints": _flat(pts)}
            if wholebody:
                for field, p in wholebody_extra(rng, pts, ht).items():
                    ann[field] = _flat(p)
            anns.append(ann)
        name = f"{i + 1:06d}.png"
        cv2.imwrite(str(img_dir / name), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        images.append({"id": i + 1, "file_name": name, "width": w, "height": h})
    coco = {"images": images, "annotations": anns,
            "categories": [{"id": 1, "name": "person", "supercategory": "person"}]}
    ann_file = root / "annotations.json"
    ann_file.write_text(json.dumps(coco))
    return ann_file, img_dir
