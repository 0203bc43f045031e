"""What trains: the full SD2 U-Net and the heatmap head, with the frozen VAE encoder beside them.

The pose path is ``sdpose_core``'s own: an ``SDPoseModel`` built over a *view* of the training U-Net
(the same block objects, its up-blocks list cut after the tapped one), so training and inference share
one implementation of the U-Net pass, the conditioning (t = 999, class embedding, empty-prompt context),
the tap and the VAE encoding. The RGB-reconstruction task needs the U-Net's full output, which is
diffusers' own ``UNet2DConditionModel.forward`` with the RGB task label as class label.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from sdpose_core.engine.head import HeatmapHead
from sdpose_core.engine.model import TIMESTEP, SDPoseModel, task_embedding
from sdpose_core.engine.schemes import Scheme, get_scheme

RGB_TASK = (0.0, 1.0)  # Lotus-style task label of the RGB-reconstruction task; (1, 0) is pose
# What a hub start downloads: fp32 weights only, no fp16/ema copies.
START_FILES = ("unet/config.json", "unet/diffusion_pytorch_model.safetensors", "vae/config.json",
               "vae/diffusion_pytorch_model.safetensors", "text_encoder/config.json", "text_encoder/model.safetensors",
               "tokenizer/*", "scheduler/*", "decoder/*", "model_index.json")


class StartError(ValueError):
    """The folder to start from is not an SD2 or SDPose diffusers folder."""


@dataclass
class StartParts:
    """Everything loaded from the starting folder."""

    unet: nn.Module  # full U-Net with the 4-d projection class embedding
    vae: nn.Module  # full AutoencoderKL (the decoder is only kept to be saved in the release layout)
    head: HeatmapHead
    text_encoder: nn.Module
    tokenizer: object
    context: torch.Tensor  # [1, L, D] empty-prompt context
    kind: str  # "sdpose" or "sd2"


def init_head(head: HeatmapHead) -> HeatmapHead:
    """mmpose HeatmapHead initialisation: convolution weights N(0, 0.001), biases 0."""
    for m in head.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, std=0.001)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return head


def load_start(init: str, scheme: str | Scheme, *, reset_head: bool = False, seed: int = 0,
               cache_dir: str | None = None) -> StartParts:
    """Load an SDPose release folder (U-Net, VAE, head) or an SD2 folder (new class embedding and head).

    ``init`` is found the way inference finds a model (a local folder, else a hub id downloaded once into the cache),
    and the U-Net config is read by the same reader. New weights (SD2's class embedding, a fresh head) are
    initialised deterministically from ``seed``.
    """
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTokenizer

    from sdpose_core.weights.checkpoint import build_head, check_state_dict, compute_context, read_weights, weights_file
    from sdpose_core.weights.source import HEAD_FILE, read_unet_config, resolve_source
    from sdpose_core.weights.source import cache_dir as default_cache

    scheme = get_scheme(scheme)
    folder = resolve_source(init, default_cache(cache_dir), START_FILES)
    for sub in ("unet", "vae", "text_encoder", "tokenizer"):
        if not (folder / sub).is_dir():
            raise StartError(f"'{folder}' has no {sub}/; start from a Stable Diffusion 2 diffusers folder "
                             "(e.g. stabilityai/stable-diffusion-2) or an SDPose release folder.")
    head_file = folder / HEAD_FILE
    kind = "sdpose" if head_file.is_file() else "sd2"

    config = read_unet_config(folder)
    torch.manual_seed(seed)
    unet = UNet2DConditionModel.from_config(config)
    weights_path = weights_file(folder / "unet")
    weights = read_weights(weights_path)
    expected = unet.state_dict()
    new_keys = [k for k in expected if k.startswith("class_embedding.") and k not in weights]
    check_state_dict({k: v for k, v in expected.items() if k not in new_keys}, weights, f"'{weights_path}'")
    unet.load_state_dict(weights, strict=False)
    del weights

    vae = AutoencoderKL.from_pretrained(folder / "vae").eval().requires_grad_(False)
    channels = scheme.feature_channels(unet.config.block_out_channels)
    if kind == "sdpose" and not reset_head:
        head = build_head(read_weights(head_file), f"'{head_file}'").requires_grad_(True)
        if (head.in_channels, head.num_keypoints) != (channels, scheme.num_keypoints):
            raise StartError(f"'{head_file}' is a head for {head.num_keypoints} keypoints on "
                             f"{head.in_channels}-channel features; the {scheme.name} scheme needs "
                             f"{scheme.num_keypoints} on {channels}. "
                             "Set model.reset_head: true to start a new head.")
    else:
        torch.manual_seed(seed + 1)
        head = init_head(HeatmapHead(channels, scheme.num_keypoints))
    tokenizer = CLIPTokenizer.from_pretrained(folder / "tokenizer")
    text_encoder = CLIPTextModel.from_pretrained(folder / "text_encoder").eval()
    context = compute_context(folder)
    return StartParts(unet.train(), vae, head.train(), text_encoder, tokenizer, context, kind)


def _unet_view(unet: nn.Module) -> nn.Module:
    """A shallow copy of ``unet`` sharing every submodule and weight but owning its module table, so
    ``SDPoseModel`` can cut the view's up-blocks without touching the training U-Net."""
    view = copy.copy(unet)
    view._modules = dict(unet._modules)
    return view


class SDPoseTrainModel(nn.Module):
    """The trainable modules (U-Net, head) plus the frozen VAE encoder, which is not a registered child:
    it is never in the optimizer, in DDP/FSDP/DeepSpeed wrapping or in training checkpoints, but it moves
    with the model (``.to``)."""

    def __init__(self, unet: nn.Module, head: HeatmapHead, vae: nn.Module, context: torch.Tensor,
                 scheme: str | Scheme, vae_chunk: int = 8):
        super().__init__()
        self.scheme = get_scheme(scheme)
        self.unet = unet
        self.head = head
        encoder_only = copy.copy(vae)  # the encoder side, copied: ``vae`` itself stays as loaded, for saving
        encoder_only._modules = {k: copy.deepcopy(v) for k, v in vae._modules.items() if k in ("encoder", "quant_conv")}
        self.__dict__["vae"] = encoder_only.eval().requires_grad_(False)
        self.vae_chunk = vae_chunk
        self.register_buffer("context", context.detach().clone().float(), persistent=False)
        self.register_buffer("rgb_task", task_embedding(RGB_TASK), persistent=False)

    def _apply(self, fn, recurse: bool = True):
        super()._apply(fn, recurse)
        self.vae._apply(fn, recurse)
        return self

    def pose_model(self) -> SDPoseModel:
        """sdpose_core's model over a view of the current U-Net (rebuilt per call: cheap, and always the
        live modules, whatever a distributed wrapper did to them)."""
        return SDPoseModel(self.vae, _unet_view(self.unet), self.head, self.context, self.scheme,
                           vae_chunk=self.vae_chunk)

    @torch.no_grad()
    def encode(self, pixels: torch.Tensor, sample: bool, generator: torch.Generator | None = None) -> torch.Tensor:
        """Frozen VAE latents (x 0.18215) of crops in [-1, 1], ``vae_chunk`` crops per encoder call."""
        engine = self.pose_model()
        pixels = pixels.to(self.vae.encoder.conv_in.weight.dtype)  # DeepSpeed casts the whole model (bf16)
        return torch.cat([engine.encode(c, sample, generator) for c in pixels.split(self.vae_chunk)])

    def forward(self, latents: torch.Tensor, rgb: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(pose heatmaps [B, K, 2h', 2w'], RGB-task latent prediction [B, 4, h, w] or None)."""
        latents = latents.to(self.unet.conv_in.weight.dtype)
        heatmaps = self.head(self.pose_model().features(latents))
        if not rgb:
            return heatmaps, None
        batch = latents.shape[0]
        out = self.unet(latents, TIMESTEP, encoder_hidden_states=self.context.to(latents.dtype).expand(batch, -1, -1),
                        class_labels=self.rgb_task.expand(batch, -1)).sample
        return heatmaps, out


def heatmap_loss(pred: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """mmpose KeypointMSELoss(use_target_weight=True): mean of ((pred - target) * w)^2 over B, K, H, W."""
    return (((pred.float() - target) * weights[..., None, None]) ** 2).mean()


def latent_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error of the reconstructed latent."""
    return ((pred.float() - target.float()) ** 2).mean()
