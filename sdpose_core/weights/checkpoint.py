"""Load SDPose checkpoints: official diffusers folders, ComfyUI's single file, or a hub id.

Loading is strict: every tensor the model needs must be present with the right shape, nothing else may
be there, and every failure names the file and what to do. Weights are read with safetensors only
(or ``torch.load(weights_only=True)`` for legacy ``.bin``); no code from a checkpoint ever runs.
"""

from __future__ import annotations

import hashlib
import logging
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import torch

from ..atomic import write_atomic
from ..engine.accel import default_channels_last, place_model
from ..engine.cpu import native_bf16
from ..engine.head import HEAD_KEYS, HeatmapHead
from ..engine.model import SDPoseModel
from ..engine.options import DTYPE_NAMES
from ..engine.schemes import SCHEMES, Scheme, get_scheme, scheme_for_num_keypoints
from ..errors import CheckpointError, DownloadError
from .source import (
    HEAD_FILE,
    HUB_MODELS,
    cache_dir,
    hub_folder,
    read_config,
    read_unet_config,
    resolve_source,
    sdpose_unet_config,
)
from .strict import SHOWN, listing, mismatches

DTYPES = dict(zip(DTYPE_NAMES, (torch.float32, torch.float16, torch.bfloat16)))
_WEIGHT_NAMES = ("diffusion_pytorch_model.safetensors", "model.safetensors", "diffusion_pytorch_model.bin")
_FLOAT8 = tuple(getattr(torch, name) for name in ("float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz")
                if hasattr(torch, name))
LOG = logging.getLogger("sdpose")


def parse_dtype(dtype: str | torch.dtype) -> torch.dtype:
    """'fp32' | 'fp16' | 'bf16' or a torch dtype -> torch dtype."""
    if isinstance(dtype, torch.dtype):
        return dtype
    try:
        return DTYPES[dtype]
    except KeyError:
        raise CheckpointError(f"Unknown dtype '{dtype}'; use one of: {', '.join(DTYPES)}.") from None


def read_safetensors(path: Path, keep: Callable[[str], bool] | None = None) -> dict[str, torch.Tensor]:
    """Tensors of a safetensors file, or a CheckpointError naming the file when it is unreadable.

    Tensors whose key ``keep`` rejects are never read: they come back as meta tensors of the right
    shape, so strict key/shape checks still cover the whole file while unused weights cost no memory.
    """
    from safetensors import safe_open

    if not path.is_file():
        raise CheckpointError(f"Missing weights file '{path}'.")
    try:
        out: dict[str, torch.Tensor] = {}
        with safe_open(str(path), framework="pt", device="cpu") as f:
            for key in f.keys():
                if keep is None or keep(key):
                    out[key] = f.get_tensor(key)
                else:
                    out[key] = torch.empty(f.get_slice(key).get_shape(), device="meta")
    except Exception as exc:
        raise CheckpointError(f"'{path}' is truncated or corrupt ({exc}); delete it and download it again.") from exc
    return float_weights(out, f"'{path}'")


def float_weights(state_dict: dict[str, torch.Tensor], where: str) -> dict[str, torch.Tensor]:
    """fp32/fp16/bf16 tensors as they are, float8 ones upcast to float32; any other type is refused."""
    bad = sorted(f"{k} ({str(v.dtype).replace('torch.', '')})" for k, v in state_dict.items()
                 if not v.is_meta and not v.is_floating_point())
    if bad:
        raise CheckpointError(f"{where}: {len(bad)} weights are not floating point: {listing(bad)}. SDPose weights are "
                              "fp32, fp16, bf16 or float8; is this file a model checkpoint?")
    return {k: v.float() if v.dtype in _FLOAT8 else v for k, v in state_dict.items()}


def read_weights(path: Path, keep: Callable[[str], bool] | None = None) -> dict[str, torch.Tensor]:
    """A safetensors file, or a legacy .bin read with ``weights_only=True``."""
    if path.suffix == ".bin":
        try:
            return float_weights(torch.load(path, map_location="cpu", weights_only=True), f"'{path}'")
        except CheckpointError:
            raise
        except Exception as exc:
            raise CheckpointError(f"'{path}' is truncated, corrupt or not a plain weights file ({exc}).") from exc
    return read_safetensors(path, keep)


def needed_unet_key(scheme: Scheme) -> Callable[[str], bool]:
    """U-Net weights inference uses: everything up to and including the tapped up-block."""
    unused = tuple(f"up_blocks.{i}." for i in range(scheme.tap_block + 1, 8)) + ("conv_norm_out.", "conv_out.")
    return lambda key: not key.startswith(unused)


def needed_vae_key(key: str) -> bool:
    """VAE weights inference uses: the encoder side only."""
    return key.startswith(("encoder.", "quant_conv."))


def check_state_dict(expected: Mapping[str, torch.Tensor], found: Mapping[str, torch.Tensor], where: str) -> None:
    """Raise one CheckpointError listing missing keys, unexpected keys and wrong shapes."""
    problems = mismatches({k: tuple(v.shape) for k, v in expected.items()}, found)
    if problems:
        raise CheckpointError(f"{where} does not match the model it should hold: " + "; ".join(problems)
                              + ". Is it the right file, complete, and an SDPose checkpoint?")


@contextmanager
def _meta_init() -> Iterator[None]:
    """Build modules without allocating or initialising weights; real tensors are assigned afterwards."""
    with torch.device("meta"):
        yield


def _build(cls, config: dict, state_dict: Mapping[str, torch.Tensor], where: str,
           used: Callable[[str], bool] | None = None) -> torch.nn.Module:
    """Instantiate ``cls`` from ``config`` and load ``state_dict`` strictly, by assignment (no copy).

    With ``used``, only the tensors it accepts are required and loaded (the rest of the module stays on the
    meta device, to be dropped); the others in the file are ignored, whether present or not.
    """
    try:
        with _meta_init():
            module = cls.from_config(config) if hasattr(cls, "from_config") else cls(**config)
    except Exception as exc:
        raise CheckpointError(f"{where}: the model config cannot be used ({exc}).") from exc
    expected = module.state_dict()
    if used is not None:
        expected = {k: v for k, v in expected.items() if used(k)}
        ignored = sorted(k for k in state_dict if not used(k))
        if ignored:
            LOG.info("%s: ignored %d tensors inference never uses (%s)", where, len(ignored), listing(ignored))
        state_dict = {k: v for k, v in state_dict.items() if used(k)}
    check_state_dict(expected, state_dict, where)
    module.load_state_dict(state_dict, strict=used is None, assign=True)
    for name, buf in module.named_buffers():
        if buf.is_meta and (used is None or used(name)):  # no checkpoint carries it: it would stay unallocated
            raise CheckpointError(f"{where}: buffer '{name}' is not in the checkpoint and cannot be initialised.")
    return module.eval().requires_grad_(False)


def build_head(state_dict: Mapping[str, torch.Tensor], where: str) -> HeatmapHead:
    """A HeatmapHead sized from its own weights, loaded strictly."""
    if "final_layer.weight" not in state_dict:
        raise CheckpointError(f"{where} holds no heatmap head (no 'final_layer.weight'); expected the SDPose "
                              f"decoder with tensors {', '.join(HEAD_KEYS)}.")
    k, c = state_dict["final_layer.weight"].shape[:2]
    return _build(HeatmapHead, {"in_channels": c, "num_keypoints": k}, state_dict, where)


def resolve_scheme(head: HeatmapHead, requested: str | Scheme | None, where: str) -> Scheme:
    """The scheme the head was trained for; an error when the caller asked for another."""
    found = scheme_for_num_keypoints(head.num_keypoints)
    if found is None:
        predicted = " or ".join(f"{s.num_keypoints} ({s.name})" for s in SCHEMES.values())
        raise CheckpointError(f"{where}: the head predicts {head.num_keypoints} keypoints; SDPose heads predict "
                              f"{predicted}.")
    if requested is not None and get_scheme(requested) != found:
        raise CheckpointError(f"{where} is a {found.name} checkpoint ({found.num_keypoints} keypoints) but scheme "
                              f"'{get_scheme(requested).name}' was requested; pick scheme '{found.name}' or the "
                              f"other checkpoint ({HUB_MODELS[get_scheme(requested).name]}).")
    return found


def weights_file(folder: Path) -> Path:
    for name in _WEIGHT_NAMES:
        if (folder / name).is_file():
            return folder / name
    raise CheckpointError(f"No weights in '{folder}': expected {_WEIGHT_NAMES[0]}.")


def file_identity(*paths: Path) -> str:
    """A cheap identity for weight files: sizes plus the first and last MiB (no full hash of GBs)."""
    h = hashlib.sha256()
    for path in paths:
        size = path.stat().st_size
        h.update(f"{path.name}:{size}".encode())
        with open(path, "rb") as f:
            h.update(f.read(1 << 20))
            f.seek(max(0, size - (1 << 20)))
            h.update(f.read())
    return h.hexdigest()[:32]


def compute_context(folder: Path) -> torch.Tensor:
    """The empty prompt through the checkpoint's CLIP text encoder, unpadded: [1, 2, D] (BOS, EOS)."""
    from transformers import CLIPTextModel, CLIPTokenizer

    try:
        tokenizer = CLIPTokenizer.from_pretrained(folder / "tokenizer")
        encoder = CLIPTextModel.from_pretrained(folder / "text_encoder", use_safetensors=True)
    except Exception as exc:
        raise CheckpointError(f"Cannot load the text encoder from '{folder}' to compute the empty-prompt context "
                              f"({exc}); the folder needs tokenizer/ and text_encoder/ on first load.") from exc
    max_length = min(tokenizer.model_max_length, encoder.config.max_position_embeddings)
    ids = tokenizer("", padding="do_not_pad", max_length=max_length, truncation=True, return_tensors="pt").input_ids
    with torch.no_grad():
        return encoder(ids)[0].float()


def _read_context(path: Path) -> torch.Tensor | None:
    from safetensors.torch import load_file

    try:
        return load_file(str(path))["context"] if path.is_file() else None
    except Exception:
        return None  # an unreadable cache entry is recomputed


def _write_context(path: Path, context: torch.Tensor) -> None:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, lambda tmp: save_file({"context": context.contiguous()}, str(tmp)))


def _shared_context_path(cache: Path, dim: int) -> Path:
    """The empty-prompt context of the SD2 text encoder every SDPose release shares, by width."""
    return cache / "context" / f"empty-prompt-d{dim}.safetensors"


def load_context(folder: Path, cache: Path) -> torch.Tensor:
    """Empty-prompt context of ``folder``, computed once and cached under the identity of its U-Net
    weights; later loads read the cache and never touch the text encoder."""
    cached = cache / "context" / f"{file_identity(weights_file(folder / 'unet'))}.safetensors"
    context = _read_context(cached)
    if context is None:
        context = compute_context(folder)
        _write_context(cached, context)
        _write_context(_shared_context_path(cache, context.shape[-1]), context)
    return context


def load_shared_context(dim: int, cache: Path, where: str) -> torch.Tensor:
    """Context for checkpoints that carry no text encoder (ComfyUI's single file).

    Taken from the cache when any official SDPose folder was loaded before; otherwise the tokenizer and
    text encoder of the official wholebody release are downloaded once to compute it.
    """
    from ..hub import download_snapshot

    shared = _shared_context_path(cache, dim)
    context = _read_context(shared)
    if context is not None:
        return context
    repo = HUB_MODELS["wholebody"]
    target = hub_folder(repo, cache / "models")
    try:
        if not (target / "text_encoder").is_dir():
            download_snapshot(repo, target, allow_patterns=["tokenizer/*", "text_encoder/*"])
    except DownloadError as exc:
        raise DownloadError(
            f"{where} has no text encoder, and SDPose needs the empty-prompt context computed once from SD2's. "
            f"{exc} Alternatively load an official SDPose folder once with the same cache ('{cache}').") from exc
    context = compute_context(target)
    if context.shape[-1] != dim:
        raise CheckpointError(f"{where}: the U-Net expects a {dim}-wide text context, the text encoder in "
                              f"'{target}' gives {context.shape[-1]}.")
    _write_context(shared, context)
    return context


def _check_scheduler(folder: Path) -> None:
    sched = read_config(folder / "scheduler" / "scheduler_config.json")
    kind = sched.get("prediction_type", "epsilon")
    if kind != "sample":
        raise CheckpointError(f"'{folder}': scheduler prediction_type is '{kind}', SDPose predicts 'sample' (x0). "
                              "This looks like a plain Stable Diffusion folder, not an SDPose checkpoint.")


def load_folder(folder: Path, scheme: str | Scheme | None, cache: Path) -> SDPoseModel:
    """An official diffusers-layout SDPose folder."""
    from diffusers import AutoencoderKL, UNet2DConditionModel

    _check_scheduler(folder)
    head_path = folder / HEAD_FILE
    head = build_head(read_safetensors(head_path), f"'{head_path}'")
    scheme = resolve_scheme(head, scheme, f"'{folder}'")
    unet_cfg = read_unet_config(folder)
    unet_file = weights_file(folder / "unet")
    unet = _build(UNet2DConditionModel, unet_cfg, read_weights(unet_file, needed_unet_key(scheme)), f"'{unet_file}'")
    vae_cfg = read_config(folder / "vae" / "config.json")
    vae_file = weights_file(folder / "vae")
    vae = _build(AutoencoderKL, vae_cfg, read_weights(vae_file, needed_vae_key), f"'{vae_file}'", needed_vae_key)
    context = load_context(folder, cache)
    return assemble(vae, unet, head, context, scheme, f"'{folder}'")


def assemble(vae, unet, head: HeatmapHead, context: torch.Tensor, scheme: Scheme, where: str) -> SDPoseModel:
    """Check that the parts fit together and build the model."""
    channels = scheme.feature_channels(unet.config.block_out_channels)
    if head.in_channels != channels:
        raise CheckpointError(f"{where}: the {scheme.name} head expects {head.in_channels}-channel features but "
                              f"U-Net up_blocks[{scheme.tap_block}] gives {channels}.")
    if context.ndim != 3 or context.shape[-1] != unet.config.cross_attention_dim:
        raise CheckpointError(f"{where}: the text context has shape {tuple(context.shape)}, the U-Net expects "
                              f"[1, L, {unet.config.cross_attention_dim}].")
    if unet.config.in_channels != vae.config.latent_channels:
        raise CheckpointError(f"{where}: the U-Net takes {unet.config.in_channels} latent channels, the VAE "
                              f"makes {vae.config.latent_channels}.")
    model = SDPoseModel(vae, unet, head, context, scheme)
    skipped = [name for name, p in model.named_parameters() if p.is_meta]
    if skipped:
        raise CheckpointError(f"{where}: weights needed for inference were not loaded: {listing(skipped)}.")
    return model


def load_single_file(path: Path, scheme: str | Scheme | None, cache: Path) -> SDPoseModel:
    """ComfyUI's single-file SDPose (LDM key names, head folded into the U-Net)."""
    from diffusers import AutoencoderKL, UNet2DConditionModel

    from . import comfy_layout

    sd = read_safetensors(path, lambda key: comfy_layout.unused_part(key) is None)
    where = f"'{path}'"
    ignored: dict[str, int] = {}
    for key in [k for k in sd if comfy_layout.unused_part(k) is not None]:
        part = comfy_layout.unused_part(key)
        ignored[part] = ignored.get(part, 0) + 1
        del sd[key]
    if ignored:
        LOG.info("%s: ignored what SDPose never uses: %s", where, ", ".join(f"{part} ({n} tensors)"
                                                                             for part, n in ignored.items()))
    if not comfy_layout.is_comfy_sdpose(sd.keys()):
        raise CheckpointError(f"{where} is not an SDPose checkpoint in ComfyUI's single-file layout (found e.g. "
                              f"{listing(sorted(sd)[:SHOWN])}); use sdpose_wholebody_fp16.safetensors or an "
                              "official SDPose folder.")
    unet_sd, vae_sd, head_sd = comfy_layout.comfy_to_diffusers(sd)
    del sd
    head = build_head(head_sd, where)
    scheme = resolve_scheme(head, scheme, where)
    unet_cfg = sdpose_unet_config(comfy_layout.infer_unet_config(unet_sd), where)
    unet = _build(UNet2DConditionModel, unet_cfg, unet_sd, where)
    vae = _build(AutoencoderKL, comfy_layout.infer_vae_config(vae_sd), vae_sd, where, needed_vae_key)
    context = load_shared_context(unet.config.cross_attention_dim, cache, where)
    return assemble(vae, unet, head, context, scheme, where)


def load_model(source: str | Path, scheme: str | Scheme | None = None, *, dtype: str | torch.dtype = "fp32",
               device: str | torch.device = "cpu", cache: str | Path | None = None, compile: bool = False,
               channels_last: bool | None = None) -> SDPoseModel:
    """Load an SDPose model from a folder, a ComfyUI single file, or a hub id, on ``device`` in ``dtype``.

    ``scheme`` ('body' | 'wholebody') is read from the checkpoint; passing it checks that it matches.
    ``compile``: run it through ``torch.compile`` (``engine.accel.compile_model``; eager, with one log line, where
    compiling cannot run). ``channels_last`` (default: on for half precision on CUDA and for bf16 on CPUs that
    compute it natively) stores convolution weights and inputs channels-last.
    """
    cache_path = cache_dir(cache)
    path = resolve_source(source, cache_path)
    if path.is_dir():
        model = load_folder(path, scheme, cache_path)
    elif path.suffix == ".safetensors":
        model = load_single_file(path, scheme, cache_path)
    else:
        raise CheckpointError(f"'{path}' is neither an SDPose folder nor a .safetensors file.")
    device, dtype = torch.device(device), parse_dtype(dtype)
    fast_bf16 = device.type == "cpu" and dtype == torch.bfloat16 and native_bf16()
    if device.type == "cpu" and dtype != torch.float32 and not fast_bf16:
        warnings.warn(f"{dtype} on this CPU is far slower than float32 (it has no native "
                      f"{'bf16 (AVX512-BF16 or AMX)' if dtype == torch.bfloat16 else 'fp16'}; convolutions fall back "
                      "to reference kernels); use dtype 'fp32' on this CPU, half precision on GPUs.", stacklevel=2)
    if channels_last is None:
        channels_last = default_channels_last(device, dtype)
    return place_model(model, device, dtype, channels_last=channels_last, compile=compile)
