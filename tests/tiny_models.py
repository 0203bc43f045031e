"""Model configs: SD2-size (the released SDPose architecture) and a tiny one of the same shape.

``random_parts`` builds random-weight models from them, for tests and benchmarks: no weights can be
downloaded there, and the tiny preset keeps every block type, the four-level U-Net and the /8 VAE.
"""

from __future__ import annotations

import torch

from sdpose_core.engine.head import HeatmapHead
from sdpose_core.engine.schemes import Scheme, get_scheme

_DOWN = ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"]
_UP = ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"]

UNET_CONFIGS: dict[str, dict] = {
    "sd2": dict(
        sample_size=96, in_channels=4, out_channels=4, down_block_types=_DOWN, up_block_types=_UP,
        block_out_channels=[320, 640, 1280, 1280], layers_per_block=2, attention_head_dim=[5, 10, 20, 20],
        cross_attention_dim=1024, use_linear_projection=True, upcast_attention=True, norm_num_groups=32,
        class_embed_type="projection", projection_class_embeddings_input_dim=4,
    ),
    "tiny": dict(
        sample_size=32, in_channels=4, out_channels=4, down_block_types=_DOWN, up_block_types=_UP,
        block_out_channels=[64, 64, 128, 128], layers_per_block=1, attention_head_dim=[1, 1, 2, 2],
        cross_attention_dim=64, use_linear_projection=True, norm_num_groups=32,
        class_embed_type="projection", projection_class_embeddings_input_dim=4,
    ),
}
VAE_CONFIGS: dict[str, dict] = {
    "sd2": dict(
        in_channels=3, out_channels=3, latent_channels=4, block_out_channels=[128, 256, 512, 512],
        down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4,
        layers_per_block=2, norm_num_groups=32, sample_size=768, scaling_factor=0.18215,
    ),
    "tiny": dict(
        in_channels=3, out_channels=3, latent_channels=4, block_out_channels=[32, 32, 32, 32],
        down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4,
        layers_per_block=1, norm_num_groups=32, sample_size=64, scaling_factor=0.18215,
    ),
}
TEXT_CONFIGS: dict[str, dict] = {
    "sd2": dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=23, num_attention_heads=16,
                projection_dim=512, hidden_act="gelu", vocab_size=49408, max_position_embeddings=77),
    "tiny": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2,
                 projection_dim=64, hidden_act="gelu", vocab_size=49408, max_position_embeddings=77),
}


def random_parts(preset: str, scheme: str | Scheme, seed: int = 0) -> tuple:
    """(unet, vae, head) with random weights for ``preset`` ('sd2' | 'tiny'), deterministic in ``seed``."""
    from diffusers import AutoencoderKL, UNet2DConditionModel

    scheme = get_scheme(scheme)
    torch.manual_seed(seed)
    unet = UNet2DConditionModel(**UNET_CONFIGS[preset]).eval()
    vae = AutoencoderKL(**VAE_CONFIGS[preset]).eval()
    head = HeatmapHead(scheme.feature_channels(UNET_CONFIGS[preset]["block_out_channels"]), scheme.num_keypoints)
    # Random U-Net init zeroes some output projections; perturb every tensor so no path is trivially dead.
    with torch.no_grad():
        for module in (unet, vae, head):
            for p in module.parameters():
                p.add_(torch.randn_like(p) * 0.02)
    return unet, vae, head.eval()
