"""SDPose as one module: VAE encoder -> one U-Net call at t=999 stopped at the tapped block -> heatmap head."""

from __future__ import annotations

import math

import torch
from torch import nn

from .head import HeatmapHead
from .schemes import Scheme

LATENT_SCALE = 0.18215  # the constant the official pipeline multiplies VAE latents by
TIMESTEP = 999  # the one fixed diffusion step SDPose is trained and evaluated at
POSE_TASK = (1.0, 0.0)  # Lotus-style task label for pose; (0, 1) is RGB reconstruction


def task_embedding(task: tuple[float, float] = POSE_TASK) -> torch.Tensor:
    """cat(sin x, cos x) of the task label, the 4-d input of the U-Net's projection class embedding."""
    x = torch.tensor([task], dtype=torch.float32)
    return torch.cat([torch.sin(x), torch.cos(x)], dim=-1)


class SDPoseModel(nn.Module):
    """Crops in [-1, 1], shape [B, 3, H, W] (H, W multiples of 64) -> heatmaps [B, K, H/4, W/4].

    Only the VAE encoder is kept, and the U-Net's up-blocks after the tapped one (plus its output
    convolution) are removed: they never influence the pose heatmaps.
    """

    def __init__(self, vae: nn.Module, unet: nn.Module, head: HeatmapHead, context: torch.Tensor, scheme: Scheme,
                 vae_chunk: int = 4):
        super().__init__()
        self.scheme = scheme
        self.vae_chunk = vae_chunk  # crops per VAE-encoder call: its full-resolution activations dominate memory
        # on a CPU batching the encoder gains no speed (its convolutions already fill every core), only memory:
        # one crop per call cut peak RSS by 244 MiB in bench_engine (body, SD2 size, 192x256) at the same speed
        self.cpu_vae_chunk = 1
        self.encoder = vae.encoder
        self.quant_conv = vae.quant_conv if getattr(vae.config, "use_quant_conv", True) else None
        self.unet = unet
        self.unet.up_blocks = nn.ModuleList(list(unet.up_blocks)[: scheme.tap_block + 1])
        self.unet.conv_norm_out = self.unet.conv_act = self.unet.conv_out = None
        self.head = head
        self.register_buffer("context", context.detach().clone(), persistent=False)
        self.register_buffer("task", task_embedding(), persistent=False)
        self.channels_last = False  # set with the weights' layout: inputs then follow it

    @property
    def dtype(self) -> torch.dtype:
        return self.unet.conv_in.weight.dtype

    @property
    def device(self) -> torch.device:
        return self.unet.conv_in.weight.device

    def encode(self, pixels: torch.Tensor, sample: bool = False,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """VAE latent of ``pixels``: the posterior mean (default) or a sample from it, times 0.18215."""
        moments = self.encoder(pixels)
        if self.quant_conv is not None:
            moments = self.quant_conv(moments)
        mean, logvar = moments.chunk(2, dim=1)
        if sample:
            std = torch.exp(0.5 * logvar.clamp(-30.0, 20.0))
            noise = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
            mean = mean + std * noise
        return mean * LATENT_SCALE

    def conditioning(self, task: torch.Tensor | None = None) -> torch.Tensor:
        """Timestep plus task embedding for one sample, [1, D]; identical for every crop."""
        unet = self.unet
        t = torch.full((1,), TIMESTEP, dtype=torch.long, device=self.device)
        emb = unet.time_embedding(unet.time_proj(t).to(self.dtype))
        task = self.task if task is None else task
        return emb + unet.class_embedding(task.to(self.device, self.dtype)).to(self.dtype)

    def features(self, latent: torch.Tensor, task: torch.Tensor | None = None) -> torch.Tensor:
        """The tapped up-block output of one U-Net pass at t=999 with the empty-prompt context."""
        unet = self.unet
        batch = latent.shape[0]
        emb = self.conditioning(task).expand(batch, -1)
        context = self.context.to(latent.dtype).expand(batch, -1, -1)
        up_factor = 2 ** len([b for b in unet.down_blocks if getattr(b, "downsamplers", None)])
        pass_size = any(d % up_factor for d in latent.shape[-2:])

        x = unet.conv_in(latent)
        skips: tuple[torch.Tensor, ...] = (x,)
        for block in unet.down_blocks:
            if getattr(block, "has_cross_attention", False):
                x, res = block(hidden_states=x, temb=emb, encoder_hidden_states=context)
            else:
                x, res = block(hidden_states=x, temb=emb)
            skips += res
        x = unet.mid_block(x, emb, encoder_hidden_states=context)
        for block in unet.up_blocks:
            res, skips = skips[-len(block.resnets):], skips[: -len(block.resnets)]
            size = skips[-1].shape[2:] if pass_size and skips else None
            if getattr(block, "has_cross_attention", False):
                x = block(hidden_states=x, temb=emb, res_hidden_states_tuple=res, encoder_hidden_states=context,
                          upsample_size=size)
            else:
                x = block(hidden_states=x, temb=emb, res_hidden_states_tuple=res, upsample_size=size)
        return x

    def forward(self, pixels: torch.Tensor, sample: bool = False, generator: torch.Generator | None = None,
                check_finite: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Heatmaps of ``pixels``; with ``check_finite``, also a 0-d bool tensor on the device that is True when the
        latents, the features and the heatmaps are all finite (read it later: reading it now would wait for the
        device)."""
        if self.channels_last:
            pixels = pixels.contiguous(memory_format=torch.channels_last)
        size = self.cpu_vae_chunk if pixels.device.type == "cpu" else self.vae_chunk
        latents = torch.cat([self.encode(chunk, sample, generator) for chunk in pixels.split(size)])
        features = self.features(latents)
        heat = self.head(features)
        if not check_finite:
            return heat
        return heat, torch.isfinite(latents).all() & torch.isfinite(features).all() & torch.isfinite(heat).all()


def check_input_size(width: int, height: int) -> None:
    """Crops must be multiples of 64 so the VAE (/8) and the U-Net's three downsamplings (/8) divide them."""
    from ..errors import InputError

    if width < 64 or height < 64 or width % 64 or height % 64:
        w, h = (max(64, 64 * math.ceil(v / 64)) for v in (width, height))
        raise InputError(f"Input size {width}x{height} is not a multiple of 64 per side; use e.g. {w}x{h} "
                         "(the default, and what SDPose was trained on, is 768x1024).")
