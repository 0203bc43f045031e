"""Micro SDPose / SD2-style checkpoints for the training tests (fast on two shared CPU cores)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch

_spec = importlib.util.spec_from_file_location("_sdpose_root_conftest", Path(__file__).parents[1] / "conftest.py")
_root = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_root)
tiny_tokenizer = _root.tiny_tokenizer

_DOWN = ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"]
_UP = ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"]
# Smaller than sdpose_core's 'tiny' preset (which these tests would find slow on two shared CPU cores),
# with every block type, the four-level U-Net, the /8 VAE and the projection class embedding kept.
MICRO_UNET = dict(sample_size=8, in_channels=4, out_channels=4, down_block_types=_DOWN, up_block_types=_UP,
                  block_out_channels=[32, 32, 64, 64], layers_per_block=1, attention_head_dim=[1, 1, 2, 2],
                  cross_attention_dim=64, use_linear_projection=True, norm_num_groups=8,
                  class_embed_type="projection", projection_class_embeddings_input_dim=4)
MICRO_VAE = dict(in_channels=3, out_channels=3, latent_channels=4, block_out_channels=[8, 16, 32, 32],
                 down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4,
                 layers_per_block=1, norm_num_groups=8, sample_size=64, scaling_factor=0.18215)
MICRO_TEXT = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=1, num_attention_heads=2,
                  projection_dim=64, hidden_act="gelu", vocab_size=49408, max_position_embeddings=77)


def micro_parts(scheme: str, seed: int = 0, class_embedding: bool = True):
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    from sdpose_core.engine.head import HeatmapHead
    from sdpose_core.engine.schemes import get_scheme

    sch = get_scheme(scheme)
    torch.manual_seed(seed)
    cfg = dict(MICRO_UNET)
    if not class_embedding:
        cfg.pop("class_embed_type"), cfg.pop("projection_class_embeddings_input_dim")
    unet = UNet2DConditionModel(**cfg)
    vae = AutoencoderKL(**MICRO_VAE)
    head = HeatmapHead(sch.feature_channels(MICRO_UNET["block_out_channels"]), sch.num_keypoints)
    with torch.no_grad():  # diffusers zero-initialises some output projections; no path should be dead
        for module in (unet, vae, head):
            for p in module.parameters():
                p.add_(torch.randn_like(p) * 0.02)
        # Like SD's VAE: latents of a few units (x 0.18215 -> about 1) and a narrow posterior
        # (random weights give std ~0.2 latents under unit posterior noise: no signal left to learn from).
        vae.quant_conv.weight[:4] *= 20.0
        vae.quant_conv.weight[4:] *= 0.1
        vae.quant_conv.bias[4:] = -12.0
    text = CLIPTextModel(CLIPTextConfig(**MICRO_TEXT)).eval()
    return unet, vae, head, text


def write_micro_folder(path: Path, scheme: str, seed: int = 0) -> Path:
    """A micro SDPose checkpoint in the official release layout."""
    from sdpose_core.weights.export import save_folder

    unet, vae, head, text = micro_parts(scheme, seed)
    return save_folder(path, unet, vae, head, text, tiny_tokenizer(path.parent / f".tok-{path.name}"))


def write_sd2_like_folder(path: Path, seed: int = 0) -> Path:
    """A Stable-Diffusion-2-style diffusers folder: no class embedding, no head, epsilon scheduler."""
    import json

    unet, vae, _, text = micro_parts("body", seed, class_embedding=False)
    unet.save_pretrained(path / "unet")
    vae.save_pretrained(path / "vae")
    text.save_pretrained(path / "text_encoder")
    tiny_tokenizer(path / "tokenizer")
    (path / "scheduler").mkdir(parents=True)
    (path / "scheduler" / "scheduler_config.json").write_text(json.dumps(
        {"_class_name": "DDIMScheduler", "prediction_type": "v_prediction", "num_train_timesteps": 1000}))
    return path
