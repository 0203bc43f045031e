"""Test-only: diffusers / head state dicts -> ComfyUI's single-file SDPose layout (LDM key names).

The library only reads that layout (``sdpose_core.weights.comfy_layout.comfy_to_diffusers``); tests write tiny
single files with this inverse, read off the library's name tables so that both directions share them.
"""

from __future__ import annotations

from collections.abc import Mapping

from torch import Tensor

from sdpose_core.errors import CheckpointError
from sdpose_core.weights.comfy_layout import (
    HEAD_PREFIX,
    UNET_PREFIX,
    VAE_PREFIX,
    _check_head,
    _is_vae_attn_proj_weight,
    _unet_names_of_diffusers,
    _vae_names_of_diffusers,
)
from sdpose_core.weights.strict import listing


def diffusers_to_comfy(unet_sd: Mapping[str, Tensor], vae_sd: Mapping[str, Tensor],
                       head_sd: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """The exact inverse of ``comfy_to_diffusers``: the single-file layout ComfyUI's loader reads."""
    _check_head(head_sd, "Heatmap head")
    out: dict[str, Tensor] = {}
    names = _unet_names_of_diffusers(unet_sd)
    bad = []
    for key, value in unet_sd.items():
        new = names.to_ldm(key)
        if new is None:
            bad.append(key)
        else:
            out[UNET_PREFIX + new] = value
    if bad:
        raise CheckpointError(f"U-Net: {len(bad)} keys have no LDM name: {listing(sorted(bad))}.")
    names = _vae_names_of_diffusers(vae_sd)
    for key, value in vae_sd.items():
        new = names.to_ldm(key)
        if new is None:
            bad.append(key)
            continue
        if _is_vae_attn_proj_weight(new):
            if value.ndim != 2:
                raise CheckpointError(f"VAE: '{key}' has shape {tuple(value.shape)}, expected a Linear weight [C, C].")
            value = value.reshape(*value.shape, 1, 1)
        out[VAE_PREFIX + new] = value
    if bad:
        raise CheckpointError(f"VAE: {len(bad)} keys have no LDM name: {listing(sorted(bad))}.")
    for key, value in head_sd.items():
        out[HEAD_PREFIX + key] = value
    if len(out) != len(unet_sd) + len(vae_sd) + len(head_sd):
        raise CheckpointError("Two tensors map to the same ComfyUI key; the input state dicts are inconsistent.")
    return out
