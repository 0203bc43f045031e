"""ComfyUI's single-file SDPose layout -> diffusers / head key names (what loading a single file needs).

Comfy-Org repackaged the WholeBody model as one safetensors file (``sdpose_wholebody_fp16.safetensors``)
in the original Stable Diffusion (LDM) checkpoint layout that ComfyUI's checkpoint loader reads:

* ``model.diffusion_model.*``  the SD2 U-Net in LDM names (``input_blocks`` / ``middle_block`` /
  ``output_blocks``, ``time_embed``, ``label_emb`` for the projection class embedding, ``out``);
* ``model.diffusion_model.heatmap_head.*``  the heatmap head, folded into the U-Net, with the same five
  tensor names as the official head (``deconv_layers.0.weight``, ``conv_layers.0.weight/bias``,
  ``final_layer.weight/bias``);
* ``first_stage_model.*``  the VAE in LDM names (``encoder.down.{i}.block.{j}``, ``mid.attn_1.q`` as 1x1
  convolutions, ``quant_conv``, and the decoder with ``post_quant_conv``).

No text encoder is stored: ComfyUI feeds the SDPose U-Net a constant empty-prompt context and the pose
task label itself, so neither is in the file.

Everything here is a pure function over dicts of tensors; tensors are passed through (the VAE attention
projections are reshaped views, [C, C, 1, 1] -> [C, C]), never copied or cast. Expected key sets are checked
against diffusers models built on the meta device (no memory, no weights). Names are one table of module
correspondences per architecture (levels, resnets per level, attention placement), read in either direction:
loading reads LDM -> diffusers, and errors name tensors as the file names them (missing ones included) by reading
it back; writing whole single files is test-only (``tests/comfy_keys.py``).

Key name conventions were learnt from ComfyUI (``comfy/model_detection.py``, ``comfy/utils.py``
``unet_to_diffusers``, ``comfy/diffusers_convert.py``, ``comfy/ldm/modules/diffusionmodules/openaimodel.py``,
``comfy/ldm/modules/sdpose.py``); the code is our own.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping

import torch
from torch import Tensor

from ..engine.head import HEAD_KEYS
from ..errors import CheckpointError
from .strict import listing, mismatches

UNET_PREFIX = "model.diffusion_model."
HEAD_PREFIX = UNET_PREFIX + "heatmap_head."
VAE_PREFIX = "first_stage_model."
# The key ComfyUI's model detection itself uses to decide that a U-Net carries the SDPose head.
COMFY_HEAD_MARKER = HEAD_PREFIX + "conv_layers.0.weight"

HEAD_DIM = 64  # SD2 convention (ComfyUI: num_head_channels=64): heads = channels // 64, at least 1
NORM_GROUPS = 32  # GroupNorm groups of every SD U-Net / VAE (not visible in tensor shapes)

# What single files often carry and SDPose never uses; ignored on load (with one log line), whatever is there.
UNUSED_PARTS = {
    "text encoder": ("cond_stage_model.", "conditioner.", "text_encoders.", "text_encoder.", "clip."),
    "EMA weights": ("model_ema.",),
    "VAE decoder": (VAE_PREFIX + "decoder.", VAE_PREFIX + "post_quant_conv."),
}
SCHEDULE_BUFFERS = frozenset({  # LDM noise-schedule buffers, stored at the top level of SD checkpoints
    "betas", "alphas_cumprod", "alphas_cumprod_prev", "sqrt_alphas_cumprod", "sqrt_one_minus_alphas_cumprod",
    "log_one_minus_alphas_cumprod", "sqrt_recip_alphas_cumprod", "sqrt_recipm1_alphas_cumprod",
    "posterior_variance", "posterior_log_variance_clipped", "posterior_mean_coef1", "posterior_mean_coef2",
    "logvar", "lvlb_weights", "model_ema.decay", "model_ema.num_updates",
})


def unused_part(key: str) -> str | None:
    """The name of the unused part a single-file key belongs to ('text encoder', ...), or None if SDPose uses it."""
    if key in SCHEDULE_BUFFERS:
        return "noise schedule"
    for part, prefixes in UNUSED_PARTS.items():
        if key.startswith(prefixes):
            return part
    return None


# ---------------------------------------------------------------------------------------------------------
# Names: one table of module correspondences per architecture, read both ways


class _ModuleNames:
    """Module names diffusers <-> LDM, one table read in either direction.

    A key is renamed by the longest module prefix the table knows; the rest of the key (the parameter name, a
    transformer's internals, which both layouts name alike) is kept. A key with no known module has no name (None).
    """

    def __init__(self, pairs: Iterable[tuple[str, str]]):
        self._to_ldm = dict(pairs)
        self._from_ldm = {ldm: diffusers for diffusers, ldm in self._to_ldm.items()}
        assert len(self._from_ldm) == len(self._to_ldm), "module name tables are one-to-one"

    def to_ldm(self, key: str) -> str | None:
        return self._rename(key, self._to_ldm)

    def from_ldm(self, key: str) -> str | None:
        return self._rename(key, self._from_ldm)

    @staticmethod
    def _rename(key: str, table: Mapping[str, str]) -> str | None:
        parts = key.split(".")
        for n in range(len(parts) - 1, 0, -1):
            module = table.get(".".join(parts[:n]))
            if module is not None:
                return ".".join((module, *parts[n:]))
        return None


_UNET_BASIC = {  # diffusers module -> LDM module
    "conv_in": "input_blocks.0.0",
    "time_embedding.linear_1": "time_embed.0",
    "time_embedding.linear_2": "time_embed.2",
    "class_embedding.linear_1": "label_emb.0.0",
    "class_embedding.linear_2": "label_emb.0.2",
    "conv_norm_out": "out.0",
    "conv_out": "out.2",
}
_RESNET = {  # diffusers ResnetBlock2D module -> LDM ResBlock module
    "norm1": "in_layers.0",
    "conv1": "in_layers.2",
    "time_emb_proj": "emb_layers.1",
    "norm2": "out_layers.0",
    "conv2": "out_layers.3",
    "conv_shortcut": "skip_connection",
}
_VAE_RESNET = {"norm1": "norm1", "conv1": "conv1", "norm2": "norm2", "conv2": "conv2", "conv_shortcut": "nin_shortcut"}
_VAE_ATTN = {"group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "proj_out"}
_VAE_ATTN_PROJ = {"q", "k", "v", "proj_out"}  # 1x1 convolutions in LDM, Linear layers in diffusers


def _blocks(diffusers: str, ldm: str, parts: Mapping[str, str]) -> list[tuple[str, str]]:
    return [(f"{diffusers}.{d}", f"{ldm}.{c}") for d, c in parts.items()]


@functools.lru_cache(maxsize=8)
def _unet_names(levels: int, layers: int, up_attention: frozenset[int]) -> _ModuleNames:
    """The SD U-Net's names: ``levels`` levels of ``layers`` resnets (``layers + 1`` going up), each resnet followed
    by its attention on the way down (a level without attention just has no such keys) and on the way up at the
    levels in ``up_attention``. LDM numbers the blocks flat: ``input_blocks.{1 + (layers + 1) * level + i}``, the
    downsampler last; ``output_blocks.{(layers + 1) * level + i}``, the upsampler in a level's last block after its
    attention (slot 2) or, with no attention there, after its resnet (slot 1)."""
    pairs = list(_UNET_BASIC.items())
    for level in range(levels):
        down, up = 1 + (layers + 1) * level, (layers + 1) * level  # the level's first input / output block
        for i in range(layers):
            pairs += _blocks(f"down_blocks.{level}.resnets.{i}", f"input_blocks.{down + i}.0", _RESNET)
            pairs.append((f"down_blocks.{level}.attentions.{i}", f"input_blocks.{down + i}.1"))
        for i in range(layers + 1):
            pairs += _blocks(f"up_blocks.{level}.resnets.{i}", f"output_blocks.{up + i}.0", _RESNET)
            if level in up_attention:
                pairs.append((f"up_blocks.{level}.attentions.{i}", f"output_blocks.{up + i}.1"))
        if level < levels - 1:  # the deepest level neither down- nor upsamples
            pairs.append((f"down_blocks.{level}.downsamplers.0.conv", f"input_blocks.{down + layers}.0.op"))
            slot = 2 if level in up_attention else 1
            pairs.append((f"up_blocks.{level}.upsamplers.0.conv", f"output_blocks.{up + layers}.{slot}.conv"))
    for i in (0, 1):
        pairs += _blocks(f"mid_block.resnets.{i}", f"middle_block.{2 * i}", _RESNET)
    pairs.append(("mid_block.attentions.0", "middle_block.1"))
    return _ModuleNames(pairs)


def _unet_names_of_diffusers(keys: Iterable[str]) -> _ModuleNames:
    """The name table for a U-Net given in diffusers names."""
    keys = list(keys)
    layers = _diffusers_layers_per_block(keys)
    levels = _indices(keys, r"^down_blocks\.(\d+)\.")[-1] + 1
    return _unet_names(levels, layers, frozenset(_indices(keys, r"^up_blocks\.(\d+)\.attentions\.")))


def _unet_names_of_ldm(keys: Iterable[str], layers: int) -> _ModuleNames:
    """The name table for a U-Net given in LDM names with ``layers`` resnets per level."""
    keys = list(keys)
    levels = _indices(keys, r"^input_blocks\.(\d+)\.")[-1] // (layers + 1) + 1
    with_attention = _indices(keys, r"^output_blocks\.(\d+)\.1\.(?!conv\.)")  # slot 1 not an upsampler
    return _unet_names(levels, layers, frozenset(n // (layers + 1) for n in with_attention))


@functools.lru_cache(maxsize=8)
def _vae_names(levels: int, layers: int) -> _ModuleNames:
    """The SD VAE's names: ``levels`` levels of ``layers`` resnets in the encoder, ``layers + 1`` in the decoder.
    LDM numbers the decoder's levels from the image (``decoder.up.0`` is the last), diffusers from the bottleneck."""
    pairs = [("quant_conv", "quant_conv"), ("post_quant_conv", "post_quant_conv")]
    for side in ("encoder", "decoder"):
        pairs += [(f"{side}.conv_in", f"{side}.conv_in"), (f"{side}.conv_out", f"{side}.conv_out"),
                  (f"{side}.conv_norm_out", f"{side}.norm_out")]
        for i in (0, 1):
            pairs += _blocks(f"{side}.mid_block.resnets.{i}", f"{side}.mid.block_{i + 1}", _VAE_RESNET)
        pairs += _blocks(f"{side}.mid_block.attentions.0", f"{side}.mid.attn_1", _VAE_ATTN)
    for level in range(levels):
        up = levels - 1 - level
        for i in range(layers):
            pairs += _blocks(f"encoder.down_blocks.{level}.resnets.{i}", f"encoder.down.{level}.block.{i}", _VAE_RESNET)
        for i in range(layers + 1):
            pairs += _blocks(f"decoder.up_blocks.{level}.resnets.{i}", f"decoder.up.{up}.block.{i}", _VAE_RESNET)
        if level < levels - 1:
            pairs.append((f"encoder.down_blocks.{level}.downsamplers.0.conv", f"encoder.down.{level}.downsample.conv"))
            pairs.append((f"decoder.up_blocks.{level}.upsamplers.0.conv", f"decoder.up.{up}.upsample.conv"))
    return _ModuleNames(pairs)


def _vae_names_of_diffusers(keys: Iterable[str]) -> _ModuleNames:
    """The name table for a VAE given in diffusers names."""
    keys = list(keys)
    layers = _count_from_zero(_indices(keys, r"^encoder\.down_blocks\.0\.resnets\.(\d+)\."))
    return _vae_names(_vae_levels_diffusers(keys), layers)


def _vae_names_of_ldm(keys: Iterable[str]) -> _ModuleNames:
    """The name table for a VAE given in LDM names."""
    keys = list(keys)
    return _vae_names(_vae_levels_comfy(keys), _count_from_zero(_indices(keys, r"^encoder\.down\.0\.block\.(\d+)\.")))


def _indices(keys: Iterable[str], pattern: str) -> list[int]:
    rx = re.compile(pattern)
    return sorted({int(m.group(1)) for k in keys if (m := rx.match(k))})


def _diffusers_layers_per_block(keys: Iterable[str]) -> int:
    count = _count_from_zero(_indices(keys, r"^down_blocks\.0\.resnets\.(\d+)\."))
    if not count:
        raise CheckpointError("U-Net weights have no 'down_blocks.0.resnets.*' tensors: not a UNet2DConditionModel.")
    return count


def _comfy_layers_per_block(keys: Iterable[str]) -> int:
    """Resnets per level, from the position of the first downsampler (input_blocks.{layers+1}.0.op)."""
    keys = list(keys)
    ops = _indices(keys, r"^input_blocks\.(\d+)\.0\.op\.")
    if ops:
        return ops[0] - 1
    blocks = _indices(keys, r"^input_blocks\.(\d+)\.")
    if len(blocks) < 2:
        raise CheckpointError(f"The U-Net ({UNET_PREFIX}*) has no input_blocks beyond the input convolution.")
    return blocks[-1]  # a single-level U-Net: no downsampler at all


def _is_vae_attn_proj_weight(comfy_key: str) -> bool:
    module, _, param = comfy_key.rpartition(".")
    return param == "weight" and ".mid.attn_1." in comfy_key and module.rsplit(".", 1)[-1] in _VAE_ATTN_PROJ


def _vae_levels_comfy(keys: Iterable[str]) -> int:
    levels = _indices(keys, r"^encoder\.down\.(\d+)\.")
    if not levels:
        raise CheckpointError(f"The VAE ({VAE_PREFIX}*) has no encoder blocks (encoder.down.*).")
    return levels[-1] + 1


def _vae_levels_diffusers(keys: Iterable[str]) -> int:
    levels = _indices(keys, r"^encoder\.down_blocks\.(\d+)\.")
    if not levels:
        raise CheckpointError("VAE weights have no 'encoder.down_blocks.*' tensors: not an AutoencoderKL.")
    return levels[-1] + 1


# ---------------------------------------------------------------------------------------------------------
# Checks


def _meta_state(cls, config: dict) -> dict[str, tuple[int, ...]]:
    """Key -> shape of ``cls(**config)`` built on the meta device (no memory, no weights)."""
    try:
        with torch.device("meta"):
            module = cls(**config)
    except Exception as exc:  # a config inferred from inconsistent shapes
        raise CheckpointError(f"{cls.__name__} cannot be built from the shapes in the checkpoint ({exc}).") from exc
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def _compare(expected: Mapping[str, tuple[int, ...]], found: Mapping[str, Tensor], what: str,
             name: dict[str, str] | None = None) -> None:
    """One CheckpointError listing missing keys, unexpected keys and wrong shapes (in the file's names)."""
    name = name or {}
    problems = mismatches(expected, found, lambda k: name.get(k, k))
    if problems:
        raise CheckpointError(f"{what} does not match its architecture: " + "; ".join(problems) + ".")


def _check_head(head_sd: Mapping[str, Tensor], what: str, name: dict[str, str] | None = None) -> None:
    """Exactly the five head tensors, with consistent shapes [C,C,4,4], [C,C,1,1], [C], [K,C,1,1], [K]."""
    name = name or {}
    if "final_layer.weight" not in head_sd:
        raise CheckpointError(f"{what}: missing '{name.get('final_layer.weight', 'final_layer.weight')}' (found "
                              f"{listing(sorted(name.get(k, k) for k in head_sd))}).")
    if head_sd["final_layer.weight"].ndim != 4:
        raise CheckpointError(f"{what}: '{name.get('final_layer.weight', 'final_layer.weight')}' must be a "
                              f"[K, C, 1, 1] convolution weight, got {tuple(head_sd['final_layer.weight'].shape)}.")
    k, c = head_sd["final_layer.weight"].shape[:2]
    expected = {
        "deconv_layers.0.weight": (c, c, 4, 4),
        "conv_layers.0.weight": (c, c, 1, 1),
        "conv_layers.0.bias": (c,),
        "final_layer.weight": (k, c, 1, 1),
        "final_layer.bias": (k,),
    }
    _compare(expected, head_sd, what, name)


def _require(sd: Mapping[str, Tensor], key: str, what: str, display: Callable[[str], str] | None = None) -> Tensor:
    if key not in sd:
        raise CheckpointError(f"{what}: missing '{display(key) if display else key}'.")
    return sd[key]


def _count_from_zero(indices: list[int]) -> int:
    """How many of 0, 1, 2, ... are present (ComfyUI's count_blocks rule): stray indices are not counted."""
    count = 0
    while count in indices:
        count += 1
    return count


# ---------------------------------------------------------------------------------------------------------
# Public API


def is_comfy_sdpose(keys: Iterable[str]) -> bool:
    """True for ComfyUI's single-file SDPose layout: an LDM U-Net with the heatmap head folded into it.

    Uses the same marker as ComfyUI's model detection (``heatmap_head.conv_layers.0.weight`` under the
    U-Net prefix) plus the U-Net's input convolution; the VAE and the rest are checked on conversion.
    """
    keys = set(keys)
    return COMFY_HEAD_MARKER in keys and UNET_PREFIX + "input_blocks.0.0.weight" in keys


def comfy_to_diffusers(sd: Mapping[str, Tensor]) -> tuple[dict, dict, dict]:
    """ComfyUI single-file state dict -> (unet_sd, vae_sd, head_sd) in diffusers / head names.

    The U-Net must exactly cover ``UNet2DConditionModel(**infer_unet_config(unet_sd))``, the VAE the encoder and
    ``quant_conv`` of ``AutoencoderKL(**infer_vae_config(vae_sd))`` plus, all or nothing, its decoder and
    ``post_quant_conv``; the head its five tensors. Anything else (unknown prefixes, keys that have no place in the
    architecture, wrong shapes) raises a CheckpointError naming the keys. Drop :func:`unused_part` keys first.
    """
    from diffusers import AutoencoderKL, UNet2DConditionModel

    what = "ComfyUI SDPose checkpoint"
    unet_c: dict[str, Tensor] = {}
    vae_c: dict[str, Tensor] = {}
    head_sd: dict[str, Tensor] = {}
    unknown = []
    for key, value in sd.items():
        if key.startswith(HEAD_PREFIX):
            head_sd[key[len(HEAD_PREFIX):]] = value
        elif key.startswith(UNET_PREFIX):
            unet_c[key[len(UNET_PREFIX):]] = value
        elif key.startswith(VAE_PREFIX):
            vae_c[key[len(VAE_PREFIX):]] = value
        else:
            unknown.append(key)
    if unknown:
        raise CheckpointError(f"{what}: {len(unknown)} unexpected keys outside {UNET_PREFIX}, {VAE_PREFIX}: "
                              f"{listing(sorted(unknown))}.")
    if not head_sd:
        raise CheckpointError(f"{what}: no heatmap head ({HEAD_PREFIX}*); this is a plain SD2/Lotus checkpoint, "
                              "not SDPose.")
    if not unet_c:
        raise CheckpointError(f"{what}: no U-Net tensors ({UNET_PREFIX}*).")
    if not vae_c:
        raise CheckpointError(f"{what}: no VAE tensors ({VAE_PREFIX}*); the image encoder is required.")
    _check_head(head_sd, f"{what}: the heatmap head", {k: HEAD_PREFIX + k for k in (*HEAD_KEYS, *head_sd)})

    # U-Net
    layers = _comfy_layers_per_block(unet_c)
    names = _unet_names_of_ldm(unet_c, layers)
    unet_sd, unet_names, bad = _rename_all(unet_c, names.from_ldm, UNET_PREFIX)
    if bad:
        raise CheckpointError(f"{what}: {len(bad)} U-Net keys have no place in an SD U-Net with {layers} "
                              f"resnets per level: {listing(sorted(bad))}.")
    unet_what = f"{what}: the U-Net ({UNET_PREFIX}*)"
    display = _display(names, UNET_PREFIX)
    unet_expected = _meta_state(UNet2DConditionModel, infer_unet_config(unet_sd, display))
    _compare(unet_expected, unet_sd, unet_what, {**{k: display(k) for k in unet_expected}, **unet_names})

    # VAE
    names = _vae_names_of_ldm(vae_c)
    vae_sd, vae_names, bad = _rename_all(vae_c, names.from_ldm, VAE_PREFIX)
    if bad:
        raise CheckpointError(f"{what}: {len(bad)} VAE keys have no place in an SD VAE: {listing(sorted(bad))}.")
    for new, name in vae_names.items():
        if _is_vae_attn_proj_weight(name):
            value = vae_sd[new]
            if value.ndim != 4 or tuple(value.shape[2:]) != (1, 1):
                raise CheckpointError(f"{what}: '{name}' has shape {tuple(value.shape)}, expected a "
                                      "1x1 convolution weight [C, C, 1, 1].")
            vae_sd[new] = value.reshape(value.shape[0], value.shape[1])
    display = _display(names, VAE_PREFIX)
    vae_expected = _vae_expected(AutoencoderKL, vae_sd, display)
    _compare(vae_expected, vae_sd, f"{what}: the VAE ({VAE_PREFIX}*)",
             {**{k: display(k) for k in vae_expected}, **vae_names})
    return unet_sd, vae_sd, head_sd


def _rename_all(part: Mapping[str, Tensor], rename: Callable[[str], str | None],
                prefix: str) -> tuple[dict[str, Tensor], dict[str, str], list[str]]:
    """(tensors by diffusers name, the file's name of each, file keys with no place or a place already taken)."""
    renamed: dict[str, Tensor] = {}
    names: dict[str, str] = {}
    bad: list[str] = []
    for key, value in part.items():
        new = rename(key)
        if new is None or new in renamed:
            bad.append(prefix + key)
            continue
        renamed[new] = value
        names[new] = prefix + key
    return renamed, names, bad


def _display(names: _ModuleNames, prefix: str) -> Callable[[str], str]:
    """Diffusers key -> its name in the ComfyUI file, for error messages (missing keys included)."""

    def display(key: str) -> str:
        ldm = names.to_ldm(key)
        return prefix + ldm if ldm else key

    return display


def _vae_expected(cls, vae_sd: Mapping[str, Tensor], display: Callable[[str], str]) -> dict[str, tuple[int, ...]]:
    """Expected VAE keys: encoder + quant_conv always; decoder + post_quant_conv only if any is present."""
    expected = _meta_state(cls, infer_vae_config(vae_sd, display))
    has_decoder = any(k.startswith(("decoder.", "post_quant_conv.")) for k in vae_sd)
    if not has_decoder:
        expected = {k: v for k, v in expected.items() if not k.startswith(("decoder.", "post_quant_conv."))}
    return expected


def _heads(channels: int) -> int:
    return max(1, channels // HEAD_DIM)


def infer_unet_config(unet_sd: Mapping[str, Tensor], _display: Callable[[str], str] | None = None) -> dict:
    """A diffusers ``UNet2DConditionModel`` config read off diffusers-named U-Net tensor shapes.

    Structure (levels, channels, resnets per level, which blocks carry attention and how many transformer
    layers, cross-attention width, linear or conv projections, class/time embeddings, in/out channels) comes
    from the weights. What shapes cannot show follows SD2 / ComfyUI:

    * ``attention_head_dim``: diffusers' (historically misnamed) per-level *head count*, SD2 convention
      ``channels // 64`` (ComfyUI: ``num_head_channels=64``) -> (5, 10, 20, 20) for SD2. Levels narrower than
      64 channels get 1 head (tiny test models; ComfyUI would not load those).
    * ``norm_num_groups=32``, ``upcast_attention=True`` (SD2 768-v; ComfyUI's SD2 runs attention in fp32),
      ``sample_size=96`` (unused at inference), default sinusoidal time embedding (flip_sin_to_cos, shift 0).
    """
    what = "U-Net"
    keys = list(unet_sd)
    conv_in = _require(unet_sd, "conv_in.weight", what, _display)
    conv_out = _require(unet_sd, "conv_out.weight", what, _display)
    levels = _indices(keys, r"^down_blocks\.(\d+)\.")
    if not levels or levels != list(range(len(levels))):
        raise CheckpointError(f"{what}: down_blocks are missing or not numbered 0..n-1 (found {levels}).")
    n = len(levels)
    layers = _diffusers_layers_per_block(keys)
    channels = [int(_require(unet_sd, f"down_blocks.{i}.resnets.0.conv1.weight", what, _display).shape[0])
                for i in range(n)]
    if channels[0] != conv_in.shape[0]:
        show = _display or (lambda key: key)
        raise CheckpointError(f"{what}: '{show('conv_in.weight')}' has {conv_in.shape[0]} output channels, the first "
                              f"level ('{show('down_blocks.0.resnets.0.conv1.weight')}') works at {channels[0]}.")
    down_attn = [any(k.startswith(f"down_blocks.{i}.attentions.") for k in keys) for i in range(n)]
    up_attn = [any(k.startswith(f"up_blocks.{i}.attentions.") for k in keys) for i in range(n)]
    mid_attn = any(k.startswith("mid_block.attentions.") for k in keys)
    has_mid = any(k.startswith("mid_block.") for k in keys)

    proj = [k for k in keys if k.endswith(".proj_in.weight")]
    use_linear = bool(proj) and unet_sd[proj[0]].ndim == 2
    cross = sorted({int(unet_sd[k].shape[1]) for k in keys if k.endswith(".attn2.to_k.weight")})
    if len(cross) > 1:
        raise CheckpointError(f"{what}: cross-attention widths differ between blocks ({cross}).")
    depth = []
    for i in range(n):
        d = _count_from_zero(_indices(keys, rf"^down_blocks\.{i}\.attentions\.0\.transformer_blocks\.(\d+)\."))
        depth.append(d or 1)

    config: dict = dict(
        sample_size=96,
        in_channels=int(conv_in.shape[1]),
        out_channels=int(conv_out.shape[0]),
        down_block_types=["CrossAttnDownBlock2D" if a else "DownBlock2D" for a in down_attn],
        up_block_types=["CrossAttnUpBlock2D" if a else "UpBlock2D" for a in up_attn],
        block_out_channels=channels,
        layers_per_block=layers,
        attention_head_dim=[_heads(c) for c in channels],
        cross_attention_dim=cross[0] if cross else 1024,
        use_linear_projection=use_linear,
        transformer_layers_per_block=depth[0] if len(set(depth)) == 1 else depth,
        upcast_attention=True,
        norm_num_groups=NORM_GROUPS,
        flip_sin_to_cos=True,
        freq_shift=0,
    )
    if not has_mid:
        config["mid_block_type"] = None
    elif not mid_attn:
        config["mid_block_type"] = "UNetMidBlock2D"
    if conv_in.shape[-1] != 3:
        config["conv_in_kernel"] = int(conv_in.shape[-1])
    if conv_out.shape[-1] != 3:
        config["conv_out_kernel"] = int(conv_out.shape[-1])
    time_dim = _require(unet_sd, "time_embedding.linear_1.weight", what, _display).shape[0]
    if time_dim != 4 * channels[0]:
        config["time_embedding_dim"] = int(time_dim)
    if any(k.startswith("class_embedding.") for k in keys):
        config["class_embed_type"] = "projection"
        config["projection_class_embeddings_input_dim"] = int(
            _require(unet_sd, "class_embedding.linear_1.weight", what, _display).shape[1])
    return config


def infer_vae_config(vae_sd: Mapping[str, Tensor], _display: Callable[[str], str] | None = None) -> dict:
    """A diffusers ``AutoencoderKL`` config read off diffusers-named VAE tensor shapes (decoder optional).

    ``norm_num_groups=32``, ``scaling_factor=0.18215`` and ``sample_size=768`` are the SD2 VAE values (not
    visible in shapes).
    """
    what = "VAE"
    keys = list(vae_sd)
    n = _vae_levels_diffusers(keys)
    layers = _indices(keys, r"^encoder\.down_blocks\.0\.resnets\.(\d+)\.")
    if not layers:
        raise CheckpointError(f"{what}: no 'encoder.down_blocks.0.resnets.*' tensors.")
    channels = [int(_require(vae_sd, f"encoder.down_blocks.{i}.resnets.0.conv1.weight", what, _display).shape[0])
                for i in range(n)]
    enc_in = _require(vae_sd, "encoder.conv_in.weight", what, _display)
    enc_out = _require(vae_sd, "encoder.conv_out.weight", what, _display)
    dec_out = vae_sd.get("decoder.conv_out.weight")
    config = dict(
        in_channels=int(enc_in.shape[1]),
        out_channels=int(dec_out.shape[0]) if dec_out is not None else int(enc_in.shape[1]),
        latent_channels=int(enc_out.shape[0]) // 2,
        block_out_channels=channels,
        down_block_types=["DownEncoderBlock2D"] * n,
        up_block_types=["UpDecoderBlock2D"] * n,
        layers_per_block=layers[-1] + 1,
        norm_num_groups=NORM_GROUPS,
        sample_size=768,
        scaling_factor=0.18215,
    )
    if not any(k.startswith("encoder.mid_block.attentions.") for k in keys):
        config["mid_block_add_attention"] = False
    if not any(k.startswith("quant_conv.") for k in keys):
        config["use_quant_conv"] = False
    if dec_out is not None and not any(k.startswith("post_quant_conv.") for k in keys):
        config["use_post_quant_conv"] = False
    return config
