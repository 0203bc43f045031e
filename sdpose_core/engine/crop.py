"""Top-down crop geometry: person boxes -> center/scale -> UDP affine warps, and back to image pixels.

One implementation serves inference and training. Matrices map image pixels to crop pixels with
pixel centres on integer coordinates (UDP), exactly as mmpose's ``get_udp_warp_matrix`` and
``cv2.warpAffine`` do, so ``apply_affine(invert_affine(m), crop_points)`` lands on image pixels.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .options import CROP_MODES

BOX_PADDING = 1.25  # mmpose GetBBoxCenterScale default used by SDPose


def boxes_to_center_scale(boxes_xywh: torch.Tensor, padding: float = BOX_PADDING) -> tuple[torch.Tensor, torch.Tensor]:
    """Boxes [N, 4] as (x, y, w, h) -> centers [N, 2] and scales [N, 2] (box size times ``padding``)."""
    xy, wh = boxes_xywh[:, :2], boxes_xywh[:, 2:4]
    return xy + 0.5 * wh, wh * padding


def fix_aspect_ratio(scale: torch.Tensor, aspect_ratio: float) -> torch.Tensor:
    """Widen the short side of each (w, h) so that w / h == ``aspect_ratio``, as mmpose's TopdownAffine."""
    w, h = scale[:, 0], scale[:, 1]
    wider = w > h * aspect_ratio
    return torch.stack([torch.where(wider, w, h * aspect_ratio), torch.where(wider, w / aspect_ratio, h)], dim=1)


def crop_center_scale(boxes_xywh: torch.Tensor, input_size: tuple[int, int], mode: str = "topdown"
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """Center and scale of the crop region for each box.

    ``topdown`` (default, the paper's evaluation and training transform): padded by 1.25 and widened to
    the input aspect ratio, so people are never distorted. ``stretch``: the raw box, resized to the
    input size whatever its shape (the official demo's and ComfyUI-native's behaviour).
    """
    if mode == "topdown":
        center, scale = boxes_to_center_scale(boxes_xywh)
        return center, fix_aspect_ratio(scale, input_size[0] / input_size[1])
    if mode == "stretch":
        return boxes_to_center_scale(boxes_xywh, padding=1.0)
    from ..errors import InputError

    raise InputError(f"Unknown crop mode '{mode}'; use one of: {', '.join(CROP_MODES)}.")


def warp_matrix(center: torch.Tensor, scale: torch.Tensor, output_size: tuple[int, int],
                rotation_deg: torch.Tensor | None = None) -> torch.Tensor:
    """UDP affine matrices [N, 2, 3] taking image pixels to crop pixels (rotation counter-clockwise, degrees)."""
    n = center.shape[0]
    rot = torch.zeros(n, dtype=center.dtype, device=center.device) if rotation_deg is None else rotation_deg
    rad = rot * (math.pi / 180.0)
    cos, sin = torch.cos(rad), torch.sin(rad)
    sx = (output_size[0] - 1) / scale[:, 0]
    sy = (output_size[1] - 1) / scale[:, 1]
    cx, cy = center[:, 0], center[:, 1]
    row0 = torch.stack([cos * sx, -sin * sx, sx * (-cx * cos + cy * sin + 0.5 * scale[:, 0])], dim=1)
    row1 = torch.stack([sin * sy, cos * sy, sy * (-cx * sin - cy * cos + 0.5 * scale[:, 1])], dim=1)
    return torch.stack([row0, row1], dim=1)


def invert_affine(mat: torch.Tensor) -> torch.Tensor:
    """Inverse of affine matrices [N, 2, 3]."""
    a, t = mat[:, :, :2], mat[:, :, 2:]
    a_inv = torch.linalg.inv(a)
    return torch.cat([a_inv, -a_inv @ t], dim=2)


def apply_affine(mat: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Apply [N, 2, 3] matrices to points [N, K, 2]."""
    return points @ mat[:, :, :2].transpose(1, 2) + mat[:, None, :, 2]


# OpenCV's fixed-point affine warp (releases up to 4.10; the official SDPose code pins opencv-python 4.9.0.80):
# source coordinates in 1/1024 px rounded to 1/32 px (INTER_BITS), bilinear weights in 1/32768 (15 bits).
_AB_SCALE, _INTER_BITS, _COEF_BITS = 1024, 5, 15
_TAB = 1 << _INTER_BITS


def _opencv_inverse(mat: np.ndarray) -> np.ndarray:
    """The crop->image matrix as cv2.warpAffine computes it (float32 matrix, inverted in float64)."""
    m = mat.astype(np.float32).astype(np.float64).reshape(6)
    det = m[0] * m[4] - m[1] * m[3]
    d = 1.0 / det if det != 0 else 0.0
    a0, a1, a3, a4 = m[4] * d, -m[1] * d, -m[3] * d, m[0] * d
    return np.array([a0, a1, -a0 * m[2] - a1 * m[5], a3, a4, -a3 * m[2] - a4 * m[5]])


def _source_positions(mat: np.ndarray, w_out: int, h_out: int, device: torch.device) -> tuple[torch.Tensor, ...]:
    """Per crop pixel: integer source pixel (x, y) and 1/32-px fractions (fx, fy), as OpenCV's warp rounds them
    (per row and column, round half to even in float64 on the CPU; then 32-bit sums and shifts on ``device``)."""
    m = _opencv_inverse(mat)
    xs, ys = np.arange(w_out, dtype=np.float64), np.arange(h_out, dtype=np.float64)
    half_step = _AB_SCALE // _TAB // 2

    def fixed(values: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.rint(values * _AB_SCALE).astype(np.int64)).to(device=device, dtype=torch.int32)

    shift = 10 - _INTER_BITS
    gx = ((fixed(m[1] * ys + m[2]) + half_step)[:, None] + fixed(m[0] * xs)[None]) >> shift
    gy = ((fixed(m[4] * ys + m[5]) + half_step)[:, None] + fixed(m[3] * xs)[None]) >> shift
    sx = (gx >> _INTER_BITS).clamp_(-32768, 32767)  # OpenCV keeps source pixels as shorts
    sy = (gy >> _INTER_BITS).clamp_(-32768, 32767)
    return sx, sy, gx & (_TAB - 1), gy & (_TAB - 1)


def warp_crop(image: torch.Tensor, mat: np.ndarray, output_size: tuple[int, int]) -> torch.Tensor:
    """One crop [h, w, C] uint8 of an image [H, W, C] uint8 under an image->crop matrix [2, 3], zero border.

    Bit-exact ``cv2.warpAffine(image, mat.astype(float32), (w, h), flags=INTER_LINEAR)`` of OpenCV 4.9 (the
    official crop), whatever OpenCV is installed (OpenCV 4.11+ samples in floating point and differs by a few
    grey levels on most pixels, enough to move keypoints), on the image's device, in integer arithmetic.
    """
    w_out, h_out = output_size
    h, w, c = image.shape
    sx, sy, fx, fy = _source_positions(mat, w_out, h_out, image.device)
    inside = (sx >= -1) & (sx < w) & (sy >= -1) & (sy < h)  # at least one of the four neighbours is in the image
    flat = torch.nn.functional.pad(image.permute(2, 0, 1), (1, 1, 1, 1)).reshape(c, -1)  # the zero border
    top_left = torch.where(inside, (sy + 1) * (w + 2) + sx + 1, 0).reshape(-1)
    fx, fy = fx.reshape(-1).to(torch.int16), fy.reshape(-1).to(torch.int32)

    def row(offset: int) -> torch.Tensor:  # horizontal blend in 1/32 steps: at most 255 * 32, fits int16
        left = flat.index_select(1, top_left + offset).to(torch.int16)
        right = flat.index_select(1, top_left + offset + 1).to(torch.int16)
        return (left * (_TAB - fx) + right * fx).to(torch.int32)

    # OpenCV's 15-bit weights are (32 - fy or fy) * (32 - fx or fx) * 32, so its sum is 32 times this one
    blend = row(0) * (_TAB - fy) + row(w + 2) * fy
    shift = _COEF_BITS - 5
    out = ((blend + (1 << (shift - 1))) >> shift).to(torch.uint8).reshape(c, h_out, w_out)
    return out.masked_fill_(~inside, 0).permute(1, 2, 0)


def warp_crops(image: torch.Tensor | np.ndarray, mats: torch.Tensor | np.ndarray, output_size: tuple[int, int]
               ) -> torch.Tensor:
    """Crops [N, h, w, C] uint8 of one image [H, W, C] uint8 under image->crop matrices [N, 2, 3].

    The official crop (mmpose TopdownAffine: cv2.warpAffine of the 8-bit image, float32 matrix), byte for
    byte; see :func:`warp_crop`. Runs on the image's device (a numpy image: the CPU).
    """
    image = torch.from_numpy(image) if isinstance(image, np.ndarray) else image
    if image.dtype != torch.uint8 or image.ndim != 3:
        raise ValueError(f"warp_crops takes an HxWxC uint8 image, got {image.dtype} {tuple(image.shape)}")
    mats = mats.cpu().numpy() if isinstance(mats, torch.Tensor) else np.asarray(mats)
    return torch.stack([warp_crop(image, mat, output_size) for mat in mats.reshape(-1, 2, 3)])
