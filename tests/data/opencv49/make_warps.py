"""Writes warps.npz: crops cut by the official OpenCV (opencv-python-headless 4.9.0.80, SDPose-OOD's pin).

Run it with that OpenCV (it needs numpy < 2), e.g.:
    python -m venv /tmp/cv49 && /tmp/cv49/bin/pip install numpy==1.26.4 opencv-python-headless==4.9.0.80
    /tmp/cv49/bin/python tests/data/opencv49/make_warps.py
Cases: random images of random sizes (2..80 px), matrices with tiny and huge scales, extreme aspect ratios,
rotations and mirrorings, boxes partly and wholly off the image. tests/test_crop.py checks ``warp_crops`` against
these bytes.
"""

from pathlib import Path

import cv2
import numpy as np

OUT = Path(__file__).with_name("warps.npz")
CROP = (48, 64)


def cases(rng: np.random.Generator, n: int):
    for t in range(n):
        h, w = (int(v) for v in rng.integers(2, 80, 2))
        image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        if t % 3 == 0:
            image = cv2.GaussianBlur(image, (5, 5), 2)
        angle = rng.uniform(-np.pi, np.pi) if t % 2 else 0.0
        scale = np.exp(rng.uniform(-5, 4, 2))
        if t % 5 == 1:
            scale[rng.integers(2)] *= 300.0  # extreme aspect ratio
        rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]) * scale[:, None]
        if t % 4 == 1:
            rot[0] *= -1  # mirrored
        anchor = np.array([w, h]) * (0.5 + rng.uniform(-0.75, 0.75, 2))  # the source point at the crop centre
        shift = np.array(CROP) / 2.0 - rot @ anchor  # inside, partly or wholly off the image
        yield image, np.hstack([rot, shift[:, None]]).astype(np.float32)


def main() -> None:
    assert cv2.__version__.startswith("4.9."), f"needs OpenCV 4.9 (the official pin), found {cv2.__version__}"
    rng = np.random.default_rng(2026)
    data = {}
    for i, (image, mat) in enumerate(cases(rng, 48)):
        data[f"image{i}"] = image
        data[f"mat{i}"] = mat
        data[f"crop{i}"] = cv2.warpAffine(image, mat, CROP, flags=cv2.INTER_LINEAR)
    np.savez_compressed(OUT, **data)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes) with OpenCV {cv2.__version__}")


if __name__ == "__main__":
    main()
