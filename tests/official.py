"""The official SDPose inference path, transcribed step by step: the oracle for tests, the baseline for benchmarks.

It does what the official evaluation does, each step its own way and independently of ``sdpose_core.engine.crop``
and ``sdpose_core.engine.pipeline``: mmpose's ``GetBBoxCenterScale`` and ``TopdownAffine`` (UDP, float32 geometry,
``cv2.warpAffine`` on the 8-bit BGR image), ``x / 255 * 2 - 1``; ``SDPose_D_Pipeline`` with
``Modified_forward`` (the empty prompt through the text encoder on every call, the complete U-Net with forward
hooks on every up-block keeping the tapped one, the flipped crop as a second pass, heatmaps flipped back and
averaged); mmpose's ``UDPHeatmap`` decoding and ``add_pred_to_datasample`` back to the image. It is slow on
purpose; the engine must give the same heatmaps and keypoints.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import torch

from sdpose_core.engine.codec import flip_heatmaps, heatmap_argmax, refine_dark_udp
from sdpose_core.engine.model import LATENT_SCALE, TIMESTEP, task_embedding
from sdpose_core.engine.schemes import Scheme


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
                      flip: bool = True, sample: bool = False,
                      generator: torch.Generator | None = None) -> torch.Tensor:
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


def official_crops(image_bgr: np.ndarray, boxes_xywh: np.ndarray, input_size: tuple[int, int] = (768, 1024),
                   padding: float = 1.25, warp_affine: Callable = cv2.warpAffine
                   ) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    """Model inputs [N, 3, H, W] in [-1, 1], centres [N, 2] and scales [N, 2] as the official evaluation makes them.

    ``image_bgr``: the image as mmpose's LoadImage reads it (``cv2.imread``, 8-bit BGR); COCO boxes (x, y, w, h).
    mmpose keeps boxes, centres, scales and the warp matrix in float32; the evaluator reorders the crops to RGB
    and scales them in float. ``warp_affine``: ``cv2.warpAffine`` of the OpenCV the official code runs with
    (its pin, 4.9.0.80, cuts different bytes from OpenCV 4.11+).
    """
    boxes = np.asarray(boxes_xywh, dtype=np.float32).reshape(-1, 4)
    xyxy = np.concatenate([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], axis=1)  # COCO dataset: xywh -> xyxy
    centers = (np.stack([xyxy[:, 0] + xyxy[:, 2], xyxy[:, 1] + xyxy[:, 3]], axis=1) * 0.5).astype(np.float32)
    scales = (np.stack([xyxy[:, 2] - xyxy[:, 0], xyxy[:, 3] - xyxy[:, 1]], axis=1) * padding).astype(np.float32)
    w_in, h_in = input_size
    aspect = w_in / h_in
    w, h = scales[:, :1], scales[:, 1:]
    scales = np.where(w > h * aspect, np.hstack([w, w / aspect]), np.hstack([h * aspect, h])).astype(np.float32)
    crops = []
    for center, scale in zip(centers, scales):
        mat = np.zeros((2, 3), dtype=np.float32)  # mmpose get_udp_warp_matrix, rotation 0
        sx, sy = (w_in - 1) / scale[0], (h_in - 1) / scale[1]
        cos, sin = math.cos(0.0), math.sin(0.0)
        mat[0] = [cos * sx, -sin * sx, sx * (-center[0] * cos + center[1] * sin + 0.5 * scale[0])]
        mat[1] = [sin * sy, cos * sy, sy * (-center[0] * sin - center[1] * cos + 0.5 * scale[1])]
        crops.append(warp_affine(image_bgr, mat, (w_in, h_in), flags=cv2.INTER_LINEAR))
    inputs = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2)[:, [2, 1, 0]]
    return inputs.float() / 255.0 * 2.0 - 1.0, centers, scales


def official_keypoints(heatmaps: torch.Tensor, centers: np.ndarray, scales: np.ndarray,
                       input_size: tuple[int, int] = (768, 1024)) -> np.ndarray:
    """Keypoints [N, K, 3] (x, y, score) in image pixels: mmpose UDPHeatmap decoding, then its back-projection."""
    heatmaps = heatmaps.float().cpu()
    locs, scores = heatmap_argmax(heatmaps)
    locs = refine_dark_udp(locs, heatmaps).double().numpy()
    h, w = heatmaps.shape[-2:]
    size = np.asarray(input_size, dtype=np.float64)
    in_input = locs / [w - 1, h - 1] * size
    points = in_input / size * scales[:, None] + centers[:, None] - 0.5 * scales[:, None]
    return np.concatenate([points, scores.double().numpy()[..., None]], axis=-1)


def load_official(folder: Path, scheme: Scheme, device: torch.device | str = "cpu") -> list:
    """(vae, unet, head, tokenizer, text_encoder) loaded the way the official evaluator does (from_pretrained)."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from safetensors.torch import load_file
    from transformers import CLIPTextModel, CLIPTokenizer

    from sdpose_core.engine.head import HeatmapHead

    folder = Path(folder)
    unet = UNet2DConditionModel.from_pretrained(folder, subfolder="unet", class_embed_type="projection",
                                                projection_class_embeddings_input_dim=4)
    vae = AutoencoderKL.from_pretrained(folder, subfolder="vae")
    tokenizer = CLIPTokenizer.from_pretrained(folder, subfolder="tokenizer")
    text_encoder = CLIPTextModel.from_pretrained(folder, subfolder="text_encoder")
    head_sd = load_file(str(folder / "decoder" / "decoder.safetensors"))
    head = HeatmapHead(head_sd["final_layer.weight"].shape[1], scheme.num_keypoints)
    head.load_state_dict(head_sd)
    return [m.eval().to(device) for m in (vae, unet, head)] + [tokenizer, text_encoder.eval().to(device)]
