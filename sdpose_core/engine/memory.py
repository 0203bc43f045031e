"""How much device memory SDPose needs, and the dtype it runs in when the user says 'auto'.

The ComfyUI loader asks ComfyUI to keep :func:`activation_bytes` free next to the weights before it moves the
model (ComfyUI then offloads other models first); ``bench/gpu.py`` prints that reservation next to the peak it
measures (``torch.cuda.max_memory_allocated``), so the estimate is checked on the cards users have.
"""

from __future__ import annotations

import torch

VAE_ACTIVATION_FACTOR = 4  # live full-resolution VAE-encoder tensors, in units of [128, H, W] (ResNet in/out/skip)
UNET_ACTIVATION_FACTOR = 40  # live U-Net tensors, in units of [320, H/8, W/8] (skips of every level, attention)


def activation_bytes(batch_size: int, flip: bool, size: tuple[int, int], element_size: int, vae_chunk: int) -> int:
    """A generous estimate of the working memory of one batch of ``batch_size`` crops of ``size`` (W, H).

    The VAE encoder runs ``vae_chunk`` crops at a time at full resolution; the U-Net runs the whole batch (twice
    with the flip test) at 1/8 resolution.
    """
    w, h = size
    crops = batch_size * (2 if flip else 1)
    vae = min(crops, vae_chunk) * w * h * 128 * element_size * VAE_ACTIVATION_FACTOR
    unet = crops * (w // 8) * (h // 8) * 320 * element_size * UNET_ACTIVATION_FACTOR
    return int(vae + unet)


def model_bytes(model: torch.nn.Module) -> int:
    """Bytes of the model's weights and buffers as they are loaded (the U-Net is already cut)."""
    tensors = list(model.parameters()) + list(model.buffers())
    return sum(t.numel() * t.element_size() for t in tensors)


def reserve_bytes(model: torch.nn.Module, batch_size: int, flip: bool, size: tuple[int, int]) -> int:
    """What a device must hold to run ``model`` on one batch: its weights plus :func:`activation_bytes`."""
    element = torch.finfo(next(model.parameters()).dtype).bits // 8
    vae_chunk = getattr(model, "vae_chunk", 4)
    return model_bytes(model) + activation_bytes(batch_size, flip, size, element, vae_chunk)


def auto_dtype(device: torch.device | str) -> torch.dtype:
    """The dtype 'auto' means on ``device``: bf16 on CUDA GPUs that compute it, fp16 on older GPUs (overflowing
    batches are rerun in fp32 by the pipeline), fp32 on the CPU (the exact path; bf16 there is an explicit choice).
    """
    device = torch.device(device)
    if device.type == "cuda":
        return torch.bfloat16 if _native_cuda_bf16() else torch.float16
    if device.type in ("mps", "xpu"):
        return torch.float16
    return torch.float32


def _native_cuda_bf16() -> bool:
    """Whether the GPU computes bf16 in hardware (Ampere and later, ROCm). Since torch 2.3 ``is_bf16_supported()``
    also says True for older GPUs that only emulate it (far slower than their fp16), so emulation is left out."""
    try:
        return torch.cuda.is_bf16_supported(including_emulation=False)
    except TypeError:  # torch < 2.3: no emulation, nothing to leave out
        return torch.cuda.is_bf16_supported()
