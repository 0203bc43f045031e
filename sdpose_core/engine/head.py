"""The SDPose heatmap head: one stride-2 deconvolution, one 1x1 convolution, a 1x1 classifier."""

from __future__ import annotations

import torch
from torch import nn

HEAD_KEYS = (
    "deconv_layers.0.weight",
    "conv_layers.0.weight",
    "conv_layers.0.bias",
    "final_layer.weight",
    "final_layer.bias",
)


class HeatmapHead(nn.Module):
    """Features [B, C, h, w] -> heatmaps [B, K, 2h, 2w].

    Same layers and state-dict names as the official mmpose ``HeatmapHead`` with ``use_silu``:
    InstanceNorm (no affine) + SiLU after the deconvolution and after the 1x1 convolution.
    """

    def __init__(self, in_channels: int, num_keypoints: int):
        super().__init__()
        c = in_channels
        self.deconv_layers = nn.Sequential(
            nn.ConvTranspose2d(c, c, kernel_size=4, stride=2, padding=1, bias=False),
            nn.InstanceNorm2d(c),
            nn.SiLU(),
        )
        self.conv_layers = nn.Sequential(nn.Conv2d(c, c, kernel_size=1), nn.InstanceNorm2d(c), nn.SiLU())
        self.final_layer = nn.Conv2d(c, num_keypoints, kernel_size=1)

    @property
    def in_channels(self) -> int:
        return self.final_layer.in_channels

    @property
    def num_keypoints(self) -> int:
        return self.final_layer.out_channels

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.final_layer(self.conv_layers(self.deconv_layers(features)))
