"""ComfyUI single-file layout <-> diffusers names: exact round trips, configs from shapes, real key names."""

from __future__ import annotations

import re

import pytest
import torch

from comfy_keys import diffusers_to_comfy
from sdpose_core.errors import CheckpointError
from sdpose_core.weights import comfy_layout as cl

diffusers = pytest.importorskip("diffusers")
from diffusers import AutoencoderKL, UNet2DConditionModel  # noqa: E402

DOWN = ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"]
UP = ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"]

# The released SDPose / SD2 U-Net (stabilityai/stable-diffusion-2 + the projection class embedding).
SD2_UNET = dict(
    sample_size=96, in_channels=4, out_channels=4, down_block_types=DOWN, up_block_types=UP,
    block_out_channels=[320, 640, 1280, 1280], layers_per_block=2, attention_head_dim=[5, 10, 20, 20],
    cross_attention_dim=1024, use_linear_projection=True, upcast_attention=True, norm_num_groups=32,
    class_embed_type="projection", projection_class_embeddings_input_dim=4,
)
SD2_VAE = dict(
    in_channels=3, out_channels=3, latent_channels=4, block_out_channels=[128, 256, 512, 512],
    down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4,
    layers_per_block=2, norm_num_groups=32, sample_size=768, scaling_factor=0.18215,
)
# Tiny, same shape of network: four levels, attention in the first three down / last three up blocks.
TINY_UNET = dict(
    sample_size=16, in_channels=4, out_channels=4, down_block_types=DOWN, up_block_types=UP,
    block_out_channels=[64, 64, 128, 128], layers_per_block=1, attention_head_dim=[1, 1, 2, 2],
    cross_attention_dim=64, use_linear_projection=True, norm_num_groups=32,
    class_embed_type="projection", projection_class_embeddings_input_dim=4,
)
TINY_VAE = dict(
    in_channels=3, out_channels=3, latent_channels=4, block_out_channels=[32, 32, 32, 32],
    down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4,
    layers_per_block=1, norm_num_groups=32, sample_size=64,
)
K = 133
POSE_TASK = torch.tensor([[0.8414710, 0.0, 0.5403023, 1.0]])  # cat(sin([1, 0]), cos([1, 0]))

U = cl.UNET_PREFIX
V = cl.VAE_PREFIX
H = cl.HEAD_PREFIX


def random_head(channels: int, keypoints: int, device=None) -> dict[str, torch.Tensor]:
    c, k = channels, keypoints
    shapes = {"deconv_layers.0.weight": (c, c, 4, 4), "conv_layers.0.weight": (c, c, 1, 1), "conv_layers.0.bias": (c,),
              "final_layer.weight": (k, c, 1, 1), "final_layer.bias": (k,)}
    return {name: torch.randn(shape, device=device) for name, shape in shapes.items()}


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    unet = UNet2DConditionModel(**TINY_UNET).eval()
    vae = AutoencoderKL(**TINY_VAE).eval()
    with torch.no_grad():  # random init zeroes some projections: make every tensor carry information
        for p in [*unet.parameters(), *vae.parameters()]:
            p.add_(torch.randn_like(p) * 0.02)
    tap = list(reversed(TINY_UNET["block_out_channels"]))[2]  # WholeBody taps up_blocks[2]
    return unet, vae, random_head(tap, K)


@pytest.fixture(scope="module")
def tiny_comfy(tiny):
    unet, vae, head = tiny
    return diffusers_to_comfy(unet.state_dict(), vae.state_dict(), head)


@pytest.fixture(scope="module")
def sd2_meta():
    with torch.device("meta"):
        unet = UNet2DConditionModel(**SD2_UNET)
        vae = AutoencoderKL(**SD2_VAE)
    head = random_head(640, K, device="meta")
    return unet.state_dict(), vae.state_dict(), head


# ---------------------------------------------------------------------------------------------------------
# Round trips


def test_roundtrip_is_exact(tiny, tiny_comfy):
    unet, vae, head = tiny
    assert cl.is_comfy_sdpose(tiny_comfy.keys())
    assert all(k.startswith((U, V)) for k in tiny_comfy)
    assert len(tiny_comfy) == len(unet.state_dict()) + len(vae.state_dict()) + len(head)

    unet_sd, vae_sd, head_sd = cl.comfy_to_diffusers(tiny_comfy)
    for original, back in ((unet.state_dict(), unet_sd), (vae.state_dict(), vae_sd), (head, head_sd)):
        assert set(back) == set(original)
        for key, tensor in original.items():
            assert back[key].dtype == tensor.dtype and torch.equal(back[key], tensor), key

    again = diffusers_to_comfy(unet_sd, vae_sd, head_sd)
    assert set(again) == set(tiny_comfy)
    assert all(torch.equal(again[k], tiny_comfy[k]) for k in again)


def test_ldm_names_and_shapes_in_the_tiny_file(tiny_comfy):
    # VAE mid-block attention: 1x1 convolutions in LDM, Linear in diffusers.
    for name in ("q", "k", "v", "proj_out"):
        assert tiny_comfy[f"{V}encoder.mid.attn_1.{name}.weight"].shape == (32, 32, 1, 1)
        assert tiny_comfy[f"{V}decoder.mid.attn_1.{name}.weight"].shape == (32, 32, 1, 1)
    assert f"{V}encoder.mid.attn_1.norm.weight" in tiny_comfy
    # layers_per_block=1: a level is two input blocks (resnet[+attn], downsampler), two output blocks.
    assert tiny_comfy[f"{U}input_blocks.2.0.op.weight"].shape == (64, 64, 3, 3)
    assert f"{U}input_blocks.3.1.proj_in.weight" in tiny_comfy
    assert f"{U}output_blocks.1.1.conv.weight" in tiny_comfy  # UpBlock2D: upsampler right after the resnet
    assert f"{U}output_blocks.3.2.conv.weight" in tiny_comfy  # CrossAttnUpBlock2D: after the attention
    assert f"{U}output_blocks.7.1.proj_out.weight" in tiny_comfy
    assert not any(k.startswith(f"{U}output_blocks.7.2.") for k in tiny_comfy)  # last level: no upsampler
    assert tiny_comfy[f"{H}final_layer.weight"].shape == (K, 64, 1, 1)


def test_fp16_file_roundtrip(tmp_path, tiny):
    from safetensors.torch import load_file, save_file

    unet, vae, head = tiny
    half = lambda sd: {k: v.half().contiguous() for k, v in sd.items()}  # noqa: E731
    comfy = diffusers_to_comfy(half(unet.state_dict()), half(vae.state_dict()), half(head))
    path = tmp_path / "sdpose_wholebody_fp16.safetensors"
    save_file({k: v.contiguous() for k, v in comfy.items()}, str(path))
    loaded = load_file(str(path))
    unet_sd, vae_sd, head_sd = cl.comfy_to_diffusers(loaded)
    for key, tensor in half(vae.state_dict()).items():
        assert vae_sd[key].dtype == torch.float16 and torch.equal(vae_sd[key], tensor), key
    assert all(torch.equal(unet_sd[k], v) for k, v in half(unet.state_dict()).items())
    assert all(torch.equal(head_sd[k], v) for k, v in half(head).items())


# ---------------------------------------------------------------------------------------------------------
# Configs from shapes


def test_inferred_configs_rebuild_equal_models(tiny, tiny_comfy):
    unet, vae, _ = tiny
    unet_sd, vae_sd, _ = cl.comfy_to_diffusers(tiny_comfy)

    ucfg = cl.infer_unet_config(unet_sd)
    for key in ("block_out_channels", "layers_per_block", "down_block_types", "up_block_types", "attention_head_dim",
                "cross_attention_dim", "use_linear_projection", "class_embed_type",
                "projection_class_embeddings_input_dim", "in_channels", "out_channels", "norm_num_groups"):
        assert list(ucfg[key]) == list(TINY_UNET[key]) if isinstance(ucfg[key], list) else ucfg[key] == TINY_UNET[key]
    rebuilt = UNet2DConditionModel(**ucfg).eval()
    rebuilt.load_state_dict(unet_sd, strict=True)

    torch.manual_seed(1)
    latent = torch.randn(1, 4, 16, 12)
    context = torch.randn(1, 2, 64)
    with torch.no_grad():
        ref = unet(latent, 999, encoder_hidden_states=context, class_labels=POSE_TASK).sample
        out = rebuilt(latent, 999, encoder_hidden_states=context, class_labels=POSE_TASK).sample
    assert torch.equal(out, ref)

    vcfg = cl.infer_vae_config(vae_sd)
    for key in ("block_out_channels", "layers_per_block", "latent_channels", "in_channels", "out_channels"):
        assert vcfg[key] == TINY_VAE[key]
    vae2 = AutoencoderKL(**vcfg).eval()
    vae2.load_state_dict(vae_sd, strict=True)
    image = torch.rand(1, 3, 64, 48) * 2 - 1
    with torch.no_grad():
        mean = vae.encode(image).latent_dist.mean
        assert mean.shape == (1, 4, 8, 6)  # four blocks: /8
        assert torch.equal(vae2.encode(image).latent_dist.mean, mean)
        assert torch.equal(vae2.decode(mean).sample, vae.decode(mean).sample)


def test_heads_rule():
    assert [cl._heads(c) for c in (32, 64, 128, 320, 640, 1280)] == [1, 1, 2, 5, 10, 20]


# ---------------------------------------------------------------------------------------------------------
# SD2 size (meta device: no memory) against the names ComfyUI reads

# Key names and shapes as ComfyUI's loader reads them (comfy/model_detection.py detect_unet_config,
# comfy/supported_models.py SD20/LotusD, comfy/sd.py VAE, openaimodel.py + ldm/modules/sdpose.py for the head).
COMFY_SAMPLE = {
    f"{U}input_blocks.0.0.weight": (320, 4, 3, 3),  # model_channels, in_channels
    f"{U}time_embed.0.weight": (1280, 320),
    f"{U}time_embed.2.weight": (1280, 1280),
    f"{U}label_emb.0.0.weight": (1280, 4),  # num_classes 'sequential', adm_in_channels=4 -> LotusD
    f"{U}label_emb.0.2.weight": (1280, 1280),
    f"{U}input_blocks.1.0.in_layers.0.weight": (320,),
    f"{U}input_blocks.1.0.in_layers.2.weight": (320, 320, 3, 3),
    f"{U}input_blocks.1.0.emb_layers.1.weight": (320, 1280),
    f"{U}input_blocks.1.0.out_layers.3.weight": (320, 320, 3, 3),
    f"{U}input_blocks.1.1.proj_in.weight": (320, 320),  # 2-D: use_linear_in_transformer
    f"{U}input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": (320, 1024),  # context_dim
    f"{U}input_blocks.1.1.transformer_blocks.0.ff.net.0.proj.weight": (2560, 320),
    f"{U}input_blocks.3.0.op.weight": (320, 320, 3, 3),
    f"{U}input_blocks.4.0.skip_connection.weight": (640, 320, 1, 1),
    f"{U}input_blocks.4.0.out_layers.3.weight": (640, 640, 3, 3),
    f"{U}input_blocks.11.0.out_layers.3.weight": (1280, 1280, 3, 3),
    f"{U}middle_block.0.in_layers.2.weight": (1280, 1280, 3, 3),
    f"{U}middle_block.1.proj_in.weight": (1280, 1280),
    f"{U}middle_block.1.transformer_blocks.0.attn1.to_q.weight": (1280, 1280),
    f"{U}middle_block.2.out_layers.3.weight": (1280, 1280, 3, 3),
    f"{U}output_blocks.0.0.skip_connection.weight": (1280, 2560, 1, 1),
    f"{U}output_blocks.2.1.conv.weight": (1280, 1280, 3, 3),
    f"{U}output_blocks.5.2.conv.weight": (1280, 1280, 3, 3),
    f"{U}output_blocks.8.2.conv.weight": (640, 640, 3, 3),  # ends the block whose 640-ch output SDPose taps
    f"{U}output_blocks.11.1.transformer_blocks.0.norm1.bias": (320,),  # SD20.model_type probes this key
    f"{U}output_blocks.11.1.proj_out.weight": (320, 320),
    f"{U}out.0.weight": (320,),
    f"{U}out.2.weight": (4, 320, 3, 3),
    f"{H}deconv_layers.0.weight": (640, 640, 4, 4),
    f"{H}conv_layers.0.weight": (640, 640, 1, 1),  # ComfyUI's marker for heatmap_head=True
    f"{H}conv_layers.0.bias": (640,),
    f"{H}final_layer.weight": (133, 640, 1, 1),
    f"{H}final_layer.bias": (133,),
    f"{V}encoder.conv_in.weight": (128, 3, 3, 3),
    f"{V}encoder.down.1.block.0.nin_shortcut.weight": (256, 128, 1, 1),
    f"{V}encoder.down.2.downsample.conv.weight": (512, 512, 3, 3),
    f"{V}encoder.mid.attn_1.q.weight": (512, 512, 1, 1),
    f"{V}encoder.mid.attn_1.proj_out.weight": (512, 512, 1, 1),
    f"{V}encoder.norm_out.weight": (512,),
    f"{V}encoder.conv_out.weight": (8, 512, 3, 3),
    f"{V}quant_conv.weight": (8, 8, 1, 1),
    f"{V}post_quant_conv.weight": (4, 4, 1, 1),
    f"{V}decoder.conv_in.weight": (512, 4, 3, 3),  # ComfyUI's SD VAE detection key
    f"{V}decoder.up.3.upsample.conv.weight": (512, 512, 3, 3),
    f"{V}decoder.up.0.block.0.nin_shortcut.weight": (128, 256, 1, 1),
    f"{V}decoder.up.0.block.2.conv2.weight": (128, 128, 3, 3),
    f"{V}decoder.mid.block_1.norm1.weight": (512,),
    f"{V}decoder.norm_out.weight": (128,),
}


def test_sd2_keys_match_comfyui(sd2_meta):
    unet_sd, vae_sd, head = sd2_meta
    comfy = diffusers_to_comfy(unet_sd, vae_sd, head)
    assert cl.is_comfy_sdpose(comfy)
    for key, shape in COMFY_SAMPLE.items():
        assert key in comfy, key
        assert tuple(comfy[key].shape) == shape, key
    assert len(comfy) == len(unet_sd) + len(vae_sd) + 5
    assert not any(k.startswith("cond_stage_model.") for k in comfy)

    # What ComfyUI's detect_unet_config counts: 12 input blocks, 12 output blocks, attention placement.
    keys = [k[len(U):] for k in comfy if k.startswith(U)]
    blocks = lambda side: sorted({int(m.group(1)) for k in keys if (m := re.match(rf"{side}\.(\d+)\.", k))})  # noqa: E731
    assert blocks("input_blocks") == list(range(12))
    assert blocks("output_blocks") == list(range(12))
    with_attn = lambda side: sorted({int(m.group(1)) for k in keys  # noqa: E731
                                     if (m := re.match(rf"{side}\.(\d+)\.1\.transformer_blocks\.", k))})
    assert with_attn("input_blocks") == [1, 2, 4, 5, 7, 8]  # transformer_depth [1,1,1,1,1,1,0,0]
    assert with_attn("output_blocks") == list(range(3, 12))  # transformer_depth_output [0,0,0,1,...,1]
    assert {int(k.split(".")[1]) for k in keys if k.endswith(".0.op.weight")} == {3, 6, 9}


def test_sd2_back_and_configs(sd2_meta):
    unet_sd, vae_sd, head = sd2_meta
    comfy = diffusers_to_comfy(unet_sd, vae_sd, head)
    unet_back, vae_back, head_back = cl.comfy_to_diffusers(comfy)
    assert set(unet_back) == set(unet_sd) and set(vae_back) == set(vae_sd) and set(head_back) == set(head)
    assert all(unet_back[k].shape == v.shape for k, v in unet_sd.items())
    assert all(vae_back[k].shape == v.shape for k, v in vae_sd.items())

    ucfg = cl.infer_unet_config(unet_back)
    for key, value in SD2_UNET.items():
        assert ucfg[key] == value, key
    assert ucfg["transformer_layers_per_block"] == 1
    vcfg = cl.infer_vae_config(vae_back)
    for key, value in SD2_VAE.items():
        assert vcfg[key] == value, key
    with torch.device("meta"):
        UNet2DConditionModel(**ucfg).load_state_dict(unet_back, strict=True)
        AutoencoderKL(**vcfg).load_state_dict(vae_back, strict=True)


# ---------------------------------------------------------------------------------------------------------
# Recognition and errors


def test_recognition(tiny, tiny_comfy):
    unet, vae, head = tiny
    assert cl.is_comfy_sdpose(iter(tiny_comfy))
    assert not cl.is_comfy_sdpose(unet.state_dict().keys())  # diffusers names
    assert not cl.is_comfy_sdpose(k for k in tiny_comfy if not k.startswith(H))  # plain SD2 / Lotus: no head
    assert not cl.is_comfy_sdpose([])


def _raises(sd, *fragments):
    with pytest.raises(CheckpointError) as info:
        cl.comfy_to_diffusers(sd)
    for fragment in fragments:
        assert fragment in str(info.value), (fragment, str(info.value))
    return str(info.value)


@pytest.mark.parametrize("key", [
    f"{U}input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight",
    f"{U}output_blocks.3.2.conv.bias",
    f"{U}label_emb.0.2.bias",
    f"{V}encoder.mid.attn_1.q.weight",
    f"{V}quant_conv.weight",
])
def test_missing_key_is_named(tiny_comfy, key):
    sd = dict(tiny_comfy)
    del sd[key]
    _raises(sd, "missing", key)


def test_missing_head_tensor_is_named(tiny_comfy):
    sd = dict(tiny_comfy)
    del sd[f"{H}conv_layers.0.bias"]
    _raises(sd, "missing", f"{H}conv_layers.0.bias")


@pytest.mark.parametrize("key", [
    f"{U}input_blocks.1.1.transformer_blocks.5.attn1.to_q.weight",  # a transformer layer too many
    f"{U}output_blocks.0.2.conv.weight",  # an upsampler where there is none
    f"{U}some_new_module.weight",
    f"{V}encoder.down.0.block.0.extra.weight",
    f"{H}final_layer.extra",
    "some_other_model.weight",
])
def test_unexpected_key_is_named(tiny_comfy, key):
    """Keys of parts SDPose never uses are dropped by the loader first (comfy_layout.unused_part); others are named."""
    assert key not in tiny_comfy and cl.unused_part(key) is None
    sd = dict(tiny_comfy)
    sd[key] = torch.zeros(4)
    _raises(sd, key)


@pytest.mark.parametrize("key, shape", [
    (f"{U}input_blocks.3.0.in_layers.2.weight", (64, 64, 3, 1)),
    (f"{U}output_blocks.2.1.proj_out.bias", (7,)),
    (f"{V}decoder.up.1.block.0.conv1.weight", (32, 32, 1, 1)),
    (f"{V}encoder.mid.attn_1.k.weight", (32, 32, 3, 3)),
    (f"{H}deconv_layers.0.weight", (64, 64, 2, 2)),
    (f"{H}final_layer.bias", (17,)),
])
def test_wrong_shape_is_named(tiny_comfy, key, shape):
    assert key in tiny_comfy and tuple(tiny_comfy[key].shape) != shape
    sd = dict(tiny_comfy)
    sd[key] = torch.zeros(shape)
    _raises(sd, key)


def test_no_head_or_no_vae(tiny_comfy):
    _raises({k: v for k, v in tiny_comfy.items() if not k.startswith(H)}, "heatmap head")
    _raises({k: v for k, v in tiny_comfy.items() if not k.startswith(V)}, "VAE")


def test_decoder_is_optional_but_all_or_nothing(tiny, tiny_comfy):
    unet, vae, _ = tiny
    encoder_only = {k: v for k, v in tiny_comfy.items() if not k.startswith((f"{V}decoder.", f"{V}post_quant_conv."))}
    _, vae_sd, _ = cl.comfy_to_diffusers(encoder_only)
    assert vae_sd and not any(k.startswith(("decoder.", "post_quant_conv.")) for k in vae_sd)
    cfg = cl.infer_vae_config(vae_sd)
    assert cfg["block_out_channels"] == TINY_VAE["block_out_channels"]
    rebuilt = AutoencoderKL(**cfg)
    missing, unexpected = rebuilt.load_state_dict(vae_sd, strict=False)
    assert not unexpected and all(k.startswith(("decoder.", "post_quant_conv.")) for k in missing)

    partial = dict(tiny_comfy)
    del partial[f"{V}decoder.up.0.block.1.conv2.weight"]
    _raises(partial, "missing", f"{V}decoder.up.0.block.1.conv2.weight")


def test_name_tables_are_one_to_one_both_ways(sd2_meta):
    """U-Net and VAE names are one table each, read both ways: every SD2 key goes to a distinct LDM name and back,
    the table read off the LDM names is the one read off the diffusers names, and a name with no place in the
    architecture (a level out of range, a third mid resnet, an unknown part) has none either way."""
    unet_sd, vae_sd, _ = sd2_meta
    for sd, of_diffusers, of_ldm in ((unet_sd, cl._unet_names_of_diffusers, lambda k: cl._unet_names_of_ldm(k, 2)),
                                     (vae_sd, cl._vae_names_of_diffusers, cl._vae_names_of_ldm)):
        names = of_diffusers(sd)
        ldm = {key: names.to_ldm(key) for key in sd}
        assert None not in ldm.values() and len(set(ldm.values())) == len(ldm)
        assert of_ldm(ldm.values()) is names  # the same (cached) table from either side
        assert all(names.from_ldm(name) == key for key, name in ldm.items())
    vae = cl._vae_names(4, 2)
    assert vae.to_ldm("decoder.up_blocks.0.upsamplers.0.conv.weight") == "decoder.up.3.upsample.conv.weight"
    assert vae.to_ldm("encoder.mid_block.resnets.1.norm1.weight") == "encoder.mid.block_2.norm1.weight"
    assert vae.to_ldm("encoder.mid_block.attentions.0.to_out.0.weight") == "encoder.mid.attn_1.proj_out.weight"
    unet = cl._unet_names(4, 2, frozenset({1, 2, 3}))
    assert unet.to_ldm("up_blocks.0.upsamplers.0.conv.weight") == "output_blocks.2.1.conv.weight"  # no attention
    assert unet.to_ldm("up_blocks.1.upsamplers.0.conv.weight") == "output_blocks.5.2.conv.weight"  # after attention
    assert unet.to_ldm("down_blocks.2.downsamplers.0.conv.bias") == "input_blocks.9.0.op.bias"
    for ldm_name in ("decoder.up.4.block.0.conv1.weight", "encoder.mid.block_3.norm1.weight",
                     "encoder.down.0.block.0.conv3.weight", "encoder.down.0.block.2.conv1.weight",
                     "encoder.mid.attn_1.to_q.weight", "encoder.down.3.downsample.conv.weight"):
        assert vae.from_ldm(ldm_name) is None, ldm_name
    for name in ("decoder.up_blocks.4.resnets.0.conv1.weight", "encoder.mid_block.resnets.2.norm1.weight",
                 "encoder.mid_block.attentions.0.q.weight"):
        assert vae.to_ldm(name) is None, name
    for ldm_name in ("input_blocks.12.0.in_layers.0.weight", "input_blocks.11.0.op.weight",
                     "output_blocks.2.2.conv.weight", "output_blocks.0.1.proj_in.weight", "middle_block.3.foo.weight",
                     "input_blocks.1.0.unknown.weight"):
        assert unet.from_ldm(ldm_name) is None, ldm_name
    assert cl._unet_names_of_diffusers(unet_sd).to_ldm("not_a_module.weight") is None
