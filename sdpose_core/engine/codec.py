"""UDP Gaussian heatmap codec: ``encode`` makes training targets, ``decode`` reads predictions.

Coordinates are crop (model-input) pixels with pixel centres on integers; heatmap pixel ``i`` sits at
crop pixel ``i * (input - 1) / (heatmap - 1)`` (UDP). Decoding is mmpose's ``UDPHeatmap`` with DARK-UDP
refinement, batched in torch on the heatmaps' device.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .options import DEFAULT_INPUT_SIZE


def _gaussian_kernel1d(size: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """OpenCV's Gaussian kernel for ``size`` with sigma derived from the size (sigma=0 in cv2)."""
    sigma = 0.3 * ((size - 1) * 0.5 - 1) + 0.8
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    k = torch.exp(-(x * x) / (2 * sigma * sigma))
    return (k / k.sum()).to(device=device, dtype=dtype)


def _blur_matrix(n: int, kernel: torch.Tensor) -> torch.Tensor:
    """[n, n] matrix of a 1-D convolution with ``kernel`` and zero padding: row i holds the weights of output i."""
    pad = len(kernel) // 2
    i = torch.arange(n, device=kernel.device)
    offset = i[None, :] - i[:, None] + pad
    inside = (offset >= 0) & (offset < len(kernel))
    return torch.where(inside, kernel[offset.clamp(0, len(kernel) - 1)], torch.zeros((), dtype=kernel.dtype,
                                                                                      device=kernel.device))


def blur_heatmaps(heatmaps: torch.Tensor, kernel_size: int = 11) -> torch.Tensor:
    """Gaussian-blur [B, K, H, W] with zero padding, then rescale each map back to its original maximum.

    The separable blur is two small matrix products (rows, then columns): the same sums as a convolution, and
    on the CPU an order of magnitude faster than ``conv2d`` over thousands of one-channel maps."""
    h, w = heatmaps.shape[-2:]
    kern = _gaussian_kernel1d(kernel_size, heatmaps.device, heatmaps.dtype)
    x = _blur_matrix(h, kern) @ (heatmaps @ _blur_matrix(w, kern).T)
    orig_max = heatmaps.amax(dim=(2, 3), keepdim=True)
    blur_max = x.amax(dim=(2, 3), keepdim=True)
    ratio = torch.where(blur_max != 0, orig_max / blur_max.where(blur_max != 0, torch.ones_like(blur_max)),
                        torch.ones_like(blur_max))
    return x * ratio


def heatmap_argmax(heatmaps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Integer peak locations [B, K, 2] (x, y) and peak values [B, K]; location -1 where the peak is <= 0."""
    b, k, h, w = heatmaps.shape
    vals, idx = heatmaps.reshape(b, k, -1).max(dim=-1)
    locs = torch.stack([idx % w, idx // w], dim=-1).to(heatmaps.dtype)
    return locs.masked_fill((vals <= 0)[..., None], -1.0), vals


def refine_dark_udp(locs: torch.Tensor, heatmaps: torch.Tensor, blur_kernel_size: int = 11) -> torch.Tensor:
    """One Newton step on the log of the blurred heatmap around each integer peak (DARK for UDP)."""
    b, k, h, w = heatmaps.shape
    logmap = blur_heatmaps(heatmaps, blur_kernel_size).clamp(1e-3, 50.0).log()
    padded = F.pad(logmap.reshape(b * k, 1, h, w), (1, 1, 1, 1), mode="replicate").reshape(b, k, -1)
    valid = locs[..., 0] >= 0
    px = locs[..., 0].clamp(min=0).long() + 1
    py = locs[..., 1].clamp(min=0).long() + 1
    stride = w + 2

    def at(dx: int, dy: int) -> torch.Tensor:
        return padded.gather(2, ((py + dy) * stride + px + dx).unsqueeze(-1)).squeeze(-1)

    c, xp, xm, yp, ym, xpyp, xmym = at(0, 0), at(1, 0), at(-1, 0), at(0, 1), at(0, -1), at(1, 1), at(-1, -1)
    dx, dy = 0.5 * (xp - xm), 0.5 * (yp - ym)
    dxx, dyy = xp - 2 * c + xm, yp - 2 * c + ym
    dxy = 0.5 * (xpyp - xp - yp + 2 * c - xm - ym + xmym)
    eps = torch.finfo(torch.float32).eps
    a, d = dxx + eps, dyy + eps
    det = a * d - dxy * dxy
    step_x = (d * dx - dxy * dy) / det
    step_y = (a * dy - dxy * dx) / det
    step = torch.stack([step_x, step_y], dim=-1)
    step = torch.where(valid[..., None] & torch.isfinite(step), step, torch.zeros_like(step))
    return locs - step


@dataclass(frozen=True)
class UDPHeatmap:
    """UDP Gaussian heatmaps for a model input of ``input_size`` (w, h) and heatmaps of ``heatmap_size`` (w, h)."""

    input_size: tuple[int, int] = DEFAULT_INPUT_SIZE
    heatmap_size: tuple[int, int] = (192, 256)
    sigma: float = 6.0
    blur_kernel_size: int = 11

    @classmethod
    def for_input(cls, input_size: tuple[int, int], **kwargs) -> UDPHeatmap:
        """The codec SDPose uses for a crop size: heatmaps at a quarter of the input resolution."""
        return cls(input_size=input_size, heatmap_size=(input_size[0] // 4, input_size[1] // 4), **kwargs)

    def _stride(self, device: torch.device) -> torch.Tensor:
        (iw, ih), (hw, hh) = self.input_size, self.heatmap_size
        return torch.tensor([(iw - 1) / (hw - 1), (ih - 1) / (hh - 1)], dtype=torch.float32, device=device)

    def _window(self, keypoints: torch.Tensor, visible: torch.Tensor | None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Heatmap positions (exact, rounded), visibility and whether each point's 3-sigma window meets the map."""
        n, k, _ = keypoints.shape
        w, h = self.heatmap_size
        radius = int(self.sigma * 3)
        mu = keypoints.float() / self._stride(keypoints.device)
        mu_int = torch.trunc(mu + 0.5)  # mmpose rounds with astype(int), i.e. towards zero
        vis = torch.ones(n, k, device=keypoints.device) if visible is None else visible.float()
        inside = ((mu_int[..., 0] - radius < w) & (mu_int[..., 1] - radius < h)
                  & (mu_int[..., 0] + radius + 1 >= 0) & (mu_int[..., 1] + radius + 1 >= 0)
                  & torch.isfinite(mu).all(-1))
        return mu, mu_int, vis, inside

    def target_weights(self, keypoints: torch.Tensor, visible: torch.Tensor | None = None) -> torch.Tensor:
        """The target weights ``encode`` gives [N, K], without drawing the heatmaps (cheap enough for data workers)."""
        _, _, vis, inside = self._window(keypoints, visible)
        return vis * inside

    def encode(self, keypoints: torch.Tensor, visible: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Keypoints [N, K, 2] in crop pixels -> heatmaps [N, K, h, w] and target weights [N, K].

        A point gets a Gaussian of ``sigma`` heatmap pixels inside the (6 sigma + 1)-square window around its
        nearest heatmap pixel; no Gaussian when invisible (< 0.5), and weight 0 when the window misses the map.
        """
        w, h = self.heatmap_size
        radius = int(self.sigma * 3)
        mu, mu_int, vis, inside = self._window(keypoints, visible)
        weights = vis * inside
        drawn = (vis >= 0.5) & inside
        xs = torch.arange(w, dtype=torch.float32, device=keypoints.device)
        ys = torch.arange(h, dtype=torch.float32, device=keypoints.device)
        mu = torch.nan_to_num(mu)
        gx = torch.exp(-((xs - mu[..., :1]) ** 2) / (2 * self.sigma ** 2))
        gy = torch.exp(-((ys - mu[..., 1:]) ** 2) / (2 * self.sigma ** 2))
        gx = gx * ((xs - mu_int[..., :1]).abs() <= radius)
        gy = gy * ((ys - mu_int[..., 1:]).abs() <= radius)
        heatmaps = gy[..., :, None] * gx[..., None, :] * drawn[..., None, None]
        return heatmaps, weights

    def decode(self, heatmaps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Heatmaps [N, K, h, w] -> keypoints [N, K, 2] in crop pixels and scores [N, K] (raw peak values)."""
        heatmaps = heatmaps.float()
        locs, scores = heatmap_argmax(heatmaps)
        locs = refine_dark_udp(locs, heatmaps, self.blur_kernel_size)
        return locs * self._stride(heatmaps.device), scores


def flip_heatmaps(heatmaps: torch.Tensor, flip_indices: tuple[int, ...] | list[int]) -> torch.Tensor:
    """Mirror heatmaps of a flipped crop back: flip the width axis and swap left/right channels."""
    index = torch.as_tensor(flip_indices, device=heatmaps.device)
    return heatmaps.flip(-1).index_select(1, index)
