"""Single files built with ComfyUI's OWN converters load, with or without what SDPose never uses.

``comfy.utils.unet_to_diffusers`` and ``comfy.diffusers_convert.convert_vae_state_dict`` (the test ComfyUI, imported
in-process, nothing else of it) write the U-Net and VAE in LDM names, independently of our converter; the head is
folded in under ``heatmap_head`` as Comfy-Org's file does. A folder holding the same fp16-rounded weights is the
reference: keypoints must be identical. The tiny U-Net follows SD2's 64 channels per attention head, which is what a
single file implies (it cannot tell the head count).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from comfy_helpers import comfyui_on_path
from sdpose_core.engine.pipeline import estimate
from sdpose_core.weights.checkpoint import load_model
from sdpose_core.weights.export import save_folder
from tiny_models import TEXT_CONFIGS, UNET_CONFIGS, random_parts


@pytest.fixture(scope="module")
def comfy_converters():
    comfyui_on_path("its converters build these files")
    import comfy.diffusers_convert
    import comfy.utils

    return comfy.utils.unet_to_diffusers, comfy.diffusers_convert.convert_vae_state_dict


def _ldm_unet_config(config: dict) -> dict:
    """The LDM description unet_to_diffusers takes, for a diffusers config of SDPose's block layout."""
    levels = len(config["block_out_channels"])
    layers = config["layers_per_block"]
    down = [int(t.startswith("CrossAttn")) for t in config["down_block_types"] for _ in range(layers)]
    up = [int(t.startswith("CrossAttn")) for t in config["up_block_types"] for _ in range(layers + 1)]
    return {"num_res_blocks": [layers] * levels, "channel_mult": [c // config["block_out_channels"][0]
                                                                  for c in config["block_out_channels"]],
            "transformer_depth": down, "transformer_depth_output": up[::-1], "transformer_depth_middle": 1}


def _extras() -> dict[str, torch.Tensor]:
    """What real SD single files carry besides the model: a text encoder, EMA copies, schedule buffers."""
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(3)
    encoder = CLIPTextModel(CLIPTextConfig(**TEXT_CONFIGS["tiny"]))
    out = {f"cond_stage_model.transformer.{k}": v for k, v in encoder.state_dict().items()}
    out["cond_stage_model.transformer.text_model.embeddings.position_ids"] = torch.arange(77)[None]
    out["model_ema.decay"] = torch.tensor(0.9999)
    out["model_ema.num_updates"] = torch.tensor(1000, dtype=torch.int32)
    out["model_ema.diffusion_modelinput_blocks00weight"] = torch.zeros(64, 4, 3, 3)
    betas = torch.linspace(1e-4, 2e-2, 1000, dtype=torch.float64)
    out.update(betas=betas, alphas_cumprod=torch.cumprod(1 - betas, 0), alphas_cumprod_prev=torch.ones(1000))
    return out


@pytest.fixture(scope="module")
def packagings(comfy_converters, tiny_tokenizer_dir, tmp_path_factory):
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    unet_to_diffusers, convert_vae = comfy_converters
    root = tmp_path_factory.mktemp("packagings")
    unet, vae, head = random_parts("tiny", "wholebody", seed=11)
    for module in (unet, vae, head):  # what an fp16 file holds, so the folder and the files hold equal values
        module.half().float()
    torch.manual_seed(12)
    text_encoder = CLIPTextModel(CLIPTextConfig(**TEXT_CONFIGS["tiny"])).eval()
    folder = save_folder(root / "folder", unet, vae, head, text_encoder,
                         CLIPTokenizer.from_pretrained(str(tiny_tokenizer_dir)))
    names = unet_to_diffusers(_ldm_unet_config(UNET_CONFIGS["tiny"]))
    unet_sd = unet.state_dict()
    assert set(unet_sd) <= set(names), sorted(set(unet_sd) - set(names))[:5]
    model = {f"model.diffusion_model.{names[k]}": v for k, v in unet_sd.items()}
    model.update({f"first_stage_model.{k}": v for k, v in convert_vae(vae.state_dict()).items()})
    model.update({f"model.diffusion_model.heatmap_head.{k}": v for k, v in head.state_dict().items()})
    files = {}
    no_decoder = {k: v for k, v in model.items() if not k.startswith(("first_stage_model.decoder.",
                                                                      "first_stage_model.post_quant_conv."))}
    for name, sd in (("clean", model), ("extras", {**model, **_extras()}),
                     ("no_decoder", no_decoder), ("no_decoder_extras", {**no_decoder, **_extras()})):
        path = root / f"sdpose_{name}.safetensors"
        save_file({k: (v.half() if v.is_floating_point() and not k.startswith(("betas", "alphas")) else v
                       ).contiguous() for k, v in sd.items()}, str(path))
        files[name] = path
    return folder, files


@pytest.mark.parametrize("name", ["clean", "extras", "no_decoder", "no_decoder_extras"])
def test_comfy_built_single_file_equals_folder(packagings, tmp_path, name, caplog):
    folder, files = packagings
    cache = tmp_path / "cache"
    image = np.random.default_rng(5).integers(0, 256, (120, 90, 3), dtype=np.uint8)
    boxes = [[[10.0, 8.0, 60.0, 100.0], [40.0, 30.0, 45.0, 70.0]]]
    reference = estimate(load_model(folder, cache=cache), [image], boxes, input_size=(192, 256))[0].keypoints
    with caplog.at_level("INFO", logger="sdpose"):
        model = load_model(files[name], cache=cache)
    ignored = [r.getMessage() for r in caplog.records if "ignored" in r.getMessage()]
    assert len(ignored) == (0 if name == "no_decoder" else 1), ignored  # one line naming what was left out
    if "extras" in name:
        assert all(part in ignored[0] for part in ("text encoder", "EMA weights", "noise schedule"))
    assert ("VAE decoder" in ignored[0]) == ("no_decoder" not in name) if ignored else True
    keypoints = estimate(model, [image], boxes, input_size=(192, 256))[0].keypoints
    assert torch.equal(keypoints, reference)
