"""Top-down crop geometry: person boxes -> center/scale -> UDP affine warps, and back to image pixels.

One implementation serves inference and training. Matrices map image pixels to crop pixels with
pixel centres on integer coordinates (UDP), exactly as mmpose's ``get_udp_warp_matrix`` and
``cv2.warpAffine`` do, so ``apply_affine(invert_affine(m), crop_points)`` lands on image pixels.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

BOX_PADDING = 1.25  # mmpose GetBBoxCenterScale default used by SDPose
CROP_MODES = ("topdown", "stretch")


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
    from .errors import InputError

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


def warp_crops(image: torch.Tensor, mats: torch.Tensor, output_size: tuple[int, int]) -> torch.Tensor:
    """Bilinear crops [N, C, h, w] of one image [C, H, W] under image->crop matrices [N, 2, 3].

    Same sampling as ``cv2.warpAffine(..., INTER_LINEAR, BORDER_CONSTANT=0)``: outside the image is 0.
    The sampling grid is built in float32 on the image's device (float64 is unavailable on some GPUs).
    """
    _, height, width = image.shape
    w_out, h_out = output_size
    inv = invert_affine(mats.double()).to(device=image.device, dtype=torch.float32)
    ys, xs = torch.meshgrid(torch.arange(h_out, dtype=torch.float32, device=image.device),
                            torch.arange(w_out, dtype=torch.float32, device=image.device), indexing="ij")
    grid = torch.stack([xs, ys], dim=-1).reshape(1, -1, 2).expand(mats.shape[0], -1, -1)
    src = apply_affine(inv, grid)
    norm = torch.tensor([2.0 / max(width - 1, 1), 2.0 / max(height - 1, 1)], device=image.device)
    grid = (src * norm - 1.0).reshape(-1, h_out, w_out, 2).to(image.dtype)
    source = image.unsqueeze(0).expand(mats.shape[0], -1, -1, -1)
    return F.grid_sample(source, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
