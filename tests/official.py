"""The official SDPose inference path, transcribed step by step: the oracle for tests, the baseline for benchmarks.

It does what the official evaluation does (T-S-Liang/SDPose-OOD at d5f91ff: ``eval/SDPose_Evaluator.py``,
``pipelines/SDPose_D_Pipeline.py``, ``models/ModifiedUNet.py``, ``models/HeatmapHead.py`` and its bundled mmpose),
each step written out here and importing nothing it checks: only diffusers' U-Net and VAE (and transformers' CLIP)
come from elsewhere. mmpose's ``GetBBoxCenterScale`` and ``TopdownAffine`` (UDP, float32 geometry,
``cv2.warpAffine`` on the 8-bit BGR image), ``x / 255 * 2 - 1``; ``SDPose_D_Pipeline`` with ``Modified_forward``
(the VAE latent times 0.18215, the empty prompt through the text encoder on every call, the task label [1, 0] as
cat(sin, cos), the complete U-Net at timestep 999 with forward hooks on every up-block keeping the tapped one, the
flipped crop as a second pass); mmpose's ``HeatmapHead`` with ``use_silu`` (deconvolution, InstanceNorm + SiLU,
1x1 convolution, InstanceNorm + SiLU, 1x1 classifier); its ``flip_heatmaps`` (mirror, swap left/right channels by
the COCO-WholeBody metainfo in tests/data, no shift) and the average; mmpose's ``UDPHeatmap`` decoding (argmax,
``gaussian_blur`` with cv2, DARK-UDP Newton step in numpy) and ``add_pred_to_datasample`` back to the image.
It is slow on purpose; the engine must give the same heatmaps and keypoints.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

# The paper says "t = 1000"; the official code passes timesteps=[999] (eval/launch_evaluator.py's default).
OFFICIAL_TIMESTEP = 999
OFFICIAL_LATENT_SCALE = 0.18215  # SDPose_D_Pipeline.rgb_latent_scale_factor
OFFICIAL_POSE_LABEL = (1.0, 0.0)  # the pose task; (0, 1) is RGB reconstruction (paper, Fig. 2)
# Modified_forward: up-block outputs reversed, body takes [0] (the last block), wholebody [1] (the one before).
OFFICIAL_TAP = {"body": 3, "wholebody": 2}
OFFICIAL_NUM_KEYPOINTS = {"body": 17, "wholebody": 133}
METAINFO = Path(__file__).resolve().parent / "data" / "coco_wholebody_metainfo.json"


def _scheme_name(scheme) -> str:
    return str(getattr(scheme, "name", scheme)).lower()


def official_task_embedding(batch: int) -> torch.Tensor:
    """The pipeline's class label: the pose label [1, 0] as cat(sin, cos), one row per crop."""
    label = torch.tensor([OFFICIAL_POSE_LABEL], dtype=torch.float32)
    return torch.cat([torch.sin(label), torch.cos(label)], dim=-1).repeat(batch, 1)


def official_flip_indices(scheme) -> list[int]:
    """mmpose's flip_indices from the metainfo's swap pairs (the body's 17 are COCO's, the first 17 of the 133)."""
    count = OFFICIAL_NUM_KEYPOINTS[_scheme_name(scheme)]
    indices = list(range(count))
    for a, b in json.loads(METAINFO.read_text())["flip_pairs"]:
        if b < count:
            indices[a], indices[b] = b, a
    return indices


def official_flip_heatmaps(heatmaps: torch.Tensor, flip_indices: list[int]) -> torch.Tensor:
    """mmpose flip_heatmaps, flip_mode 'heatmap', shift_heatmap False (the pipeline's test_cfg)."""
    return heatmaps.flip(-1)[:, flip_indices]


class OfficialHead(torch.nn.Module):
    """mmpose HeatmapHead as HeatmapHead.py builds it (one 4x4 deconv, one 1x1 conv, use_silu), written as functions
    over the five tensors of ``decoder.safetensors``."""

    def __init__(self, state_dict: dict[str, torch.Tensor]):
        super().__init__()
        self.weights = {k: v.detach().clone() for k, v in state_dict.items()}

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        w = self.weights
        x = F.conv_transpose2d(features, w["deconv_layers.0.weight"], stride=2, padding=1, output_padding=0)
        x = F.silu(F.instance_norm(x, eps=1e-5))
        x = F.conv2d(x, w["conv_layers.0.weight"], w["conv_layers.0.bias"])
        x = F.silu(F.instance_norm(x, eps=1e-5))
        return F.conv2d(x, w["final_layer.weight"], w["final_layer.bias"])


def empty_prompt_context(tokenizer, text_encoder) -> torch.Tensor:
    """The empty prompt tokenized without padding (BOS, EOS) through the text encoder."""
    max_length = min(tokenizer.model_max_length, text_encoder.config.max_position_embeddings)
    ids = tokenizer("", padding="do_not_pad", max_length=max_length, truncation=True, return_tensors="pt").input_ids
    return text_encoder(ids.to(text_encoder.device))[0]


def hooked_features(unet, latent: torch.Tensor, context: torch.Tensor, tap_block: int) -> torch.Tensor:
    """Full U-Net forward at t=999 with the pose label and hooks on all up-blocks; the tapped block's output."""
    outputs: list[torch.Tensor] = []
    handles = [blk.register_forward_hook(lambda _m, _i, out: outputs.append(out)) for blk in unet.up_blocks]
    try:
        batch = latent.shape[0]
        task = official_task_embedding(batch).to(latent.device)
        t = torch.tensor(OFFICIAL_TIMESTEP, device=latent.device).long()
        unet(latent, t, context.repeat(batch, 1, 1), class_labels=task, return_dict=False)
    finally:
        for h in handles:
            h.remove()
    return outputs[tap_block]


@torch.no_grad()
def official_heatmaps(vae, unet, head, tokenizer, text_encoder, scheme, pixels: torch.Tensor,
                      flip: bool = True, sample: bool = False,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """Heatmaps for crops ``pixels`` in [-1, 1] exactly as the official pipeline computes them.

    ``scheme``: 'body' or 'wholebody' (or an object with that ``name``); ``head``: an ``OfficialHead`` (or a
    wrapper around one), never the engine's head."""
    name = _scheme_name(scheme)

    def one_pass(x: torch.Tensor) -> torch.Tensor:
        dist = vae.encode(x).latent_dist
        latent = (dist.sample(generator) if sample else dist.mean) * OFFICIAL_LATENT_SCALE
        context = empty_prompt_context(tokenizer, text_encoder).to(latent.dtype)
        return head(hooked_features(unet, latent, context, OFFICIAL_TAP[name]))

    heat = one_pass(pixels)
    if flip:
        heat = 0.5 * (heat + official_flip_heatmaps(one_pass(pixels.flip(-1)), official_flip_indices(name)))
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


def _gaussian_blur(heatmaps: np.ndarray, kernel: int) -> np.ndarray:
    """mmpose gaussian_blur: zero border, cv2.GaussianBlur (sigma from the size), rescaled to each map's maximum."""
    border = (kernel - 1) // 2
    out = np.empty_like(heatmaps)
    for k, heatmap in enumerate(heatmaps):
        padded = np.zeros((heatmap.shape[0] + 2 * border, heatmap.shape[1] + 2 * border), dtype=np.float32)
        padded[border:-border, border:-border] = heatmap
        blurred = cv2.GaussianBlur(padded, (kernel, kernel), 0)[border:-border, border:-border]
        out[k] = blurred * (heatmap.max() / blurred.max())
    return out


def official_decode(heatmaps: np.ndarray, blur_kernel_size: int = 11) -> tuple[np.ndarray, np.ndarray]:
    """mmpose UDPHeatmap.decode of one instance's heatmaps [K, H, W] (float32): heatmap locations [K, 2], scores [K].

    The integer maximum (location -1 where the peak is <= 0), then one Newton step on the log of the blurred map,
    clipped to [1e-3, 50], with central differences on the edge-padded map and the Hessian plus eps * I inverted."""
    k, h, w = heatmaps.shape
    flat = heatmaps.reshape(k, -1)
    ys, xs = np.unravel_index(flat.argmax(axis=1), (h, w))
    locs = np.stack([xs, ys], axis=-1).astype(np.float32)
    scores = flat.max(axis=1)
    locs[scores <= 0] = -1
    logmap = np.log(np.clip(_gaussian_blur(heatmaps.copy(), blur_kernel_size), 1e-3, 50.0))
    padded = np.pad(logmap, ((0, 0), (1, 1), (1, 1)), mode="edge")
    for j in range(k):
        x, y = int(locs[j, 0]) + 1, int(locs[j, 1]) + 1
        patch = padded[j]
        dx = 0.5 * (patch[y, x + 1] - patch[y, x - 1])
        dy = 0.5 * (patch[y + 1, x] - patch[y - 1, x])
        dxx = patch[y, x + 1] - 2 * patch[y, x] + patch[y, x - 1]
        dyy = patch[y + 1, x] - 2 * patch[y, x] + patch[y - 1, x]
        dxy = 0.5 * (patch[y + 1, x + 1] - patch[y, x + 1] - patch[y + 1, x] + 2 * patch[y, x] - patch[y, x - 1]
                     - patch[y - 1, x] + patch[y - 1, x - 1])
        hessian = np.array([[dxx, dxy], [dxy, dyy]]) + np.finfo(np.float32).eps * np.eye(2)
        locs[j] -= np.linalg.inv(hessian) @ np.array([dx, dy])
    return locs, scores


def official_keypoints(heatmaps: torch.Tensor, centers: np.ndarray, scales: np.ndarray,
                       input_size: tuple[int, int] = (768, 1024)) -> np.ndarray:
    """Keypoints [N, K, 3] (x, y, score) in image pixels: mmpose UDPHeatmap decoding, then its back-projection."""
    maps = heatmaps.float().cpu().numpy()
    h, w = maps.shape[-2:]
    size = np.asarray(input_size, dtype=np.float64)
    out = []
    for one, center, scale in zip(maps, centers, scales):
        locs, scores = official_decode(one)
        in_input = locs / [w - 1, h - 1] * size
        points = in_input / size * scale + center - 0.5 * scale
        out.append(np.concatenate([points, scores[:, None]], axis=-1))
    return np.stack(out).astype(np.float64)


def load_official(folder: Path, scheme, device: torch.device | str = "cpu") -> list:
    """(vae, unet, head, tokenizer, text_encoder) loaded the way the official evaluator does (from_pretrained)."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from safetensors.torch import load_file
    from transformers import CLIPTextModel, CLIPTokenizer

    folder = Path(folder)
    unet = UNet2DConditionModel.from_pretrained(folder, subfolder="unet", class_embed_type="projection",
                                                projection_class_embeddings_input_dim=4)
    vae = AutoencoderKL.from_pretrained(folder, subfolder="vae")
    tokenizer = CLIPTokenizer.from_pretrained(folder, subfolder="tokenizer")
    text_encoder = CLIPTextModel.from_pretrained(folder, subfolder="text_encoder")
    head_sd = load_file(str(folder / "decoder" / "decoder.safetensors"))
    assert head_sd["final_layer.weight"].shape[0] == OFFICIAL_NUM_KEYPOINTS[_scheme_name(scheme)]
    head = OfficialHead({k: v.to(device) for k, v in head_sd.items()})
    return [m.eval().to(device) for m in (vae, unet, head)] + [tokenizer, text_encoder.eval().to(device)]
