"""The official SDPose inference path, transcribed step by step: the oracle for tests, the baseline for benchmarks.

It does what ``SDPose_D_Pipeline`` with ``Modified_forward`` does: encode the empty prompt with the
text encoder on every call, run the complete U-Net with forward hooks on every up-block and keep the
tapped one, run the flipped crop as a second pass, flip the heatmaps back and average. It is slow on
purpose; ``SDPoseModel`` must give the same heatmaps.
"""

from __future__ import annotations

import torch

from .codec import flip_heatmaps
from .model import LATENT_SCALE, TIMESTEP, task_embedding
from .schemes import Scheme


def empty_prompt_context(tokenizer, text_encoder) -> torch.Tensor:
    """The empty prompt tokenized without padding (BOS, EOS) through the text encoder."""
    max_length = min(tokenizer.model_max_length, text_encoder.config.max_position_embeddings)
    ids = tokenizer("", padding="do_not_pad", max_length=max_length, truncation=True, return_tensors="pt").input_ids
    return text_encoder(ids.to(text_encoder.device))[0]


def hooked_features(unet, latent: torch.Tensor, context: torch.Tensor, tap_block: int) -> torch.Tensor:
    """Full U-Net forward with hooks on all up-blocks; returns the tapped block's output."""
    outputs: list[torch.Tensor] = []
    handles = [blk.register_forward_hook(lambda _m, _i, out: outputs.append(out)) for blk in unet.up_blocks]
    try:
        batch = latent.shape[0]
        task = task_embedding().to(latent.device).repeat(batch, 1)
        t = torch.tensor(TIMESTEP, device=latent.device).long()
        unet(latent, t, context.repeat(batch, 1, 1), class_labels=task, return_dict=False)
    finally:
        for h in handles:
            h.remove()
    return outputs[tap_block]


@torch.no_grad()
def official_heatmaps(vae, unet, head, tokenizer, text_encoder, scheme: Scheme, pixels: torch.Tensor,
                      flip: bool = True, sample: bool = False, generator: torch.Generator | None = None) -> torch.Tensor:
    """Heatmaps for crops ``pixels`` in [-1, 1] exactly as the official pipeline computes them."""

    def one_pass(x: torch.Tensor) -> torch.Tensor:
        dist = vae.encode(x).latent_dist
        latent = (dist.sample(generator) if sample else dist.mean) * LATENT_SCALE
        context = empty_prompt_context(tokenizer, text_encoder).to(latent.dtype)
        return head(hooked_features(unet, latent, context, scheme.tap_block))

    heat = one_pass(pixels)
    if flip:
        heat = 0.5 * (heat + flip_heatmaps(one_pass(pixels.flip(-1)), scheme.flip_indices))
    return heat
