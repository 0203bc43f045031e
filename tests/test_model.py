"""The engine against the official inference path: same features, same heatmaps, deterministic."""

from __future__ import annotations

import copy
import warnings

import pytest
import torch

from official import OFFICIAL_TAP, OfficialHead, empty_prompt_context, hooked_features, official_heatmaps
from sdpose_core.engine.model import SDPoseModel
from sdpose_core.engine.schemes import get_scheme
from sdpose_core.weights.checkpoint import load_model
from tiny_models import TEXT_CONFIGS, random_parts


def _parts(scheme: str, seed: int = 0):
    from transformers import CLIPTextConfig, CLIPTextModel

    unet, vae, head = random_parts("tiny", scheme, seed)
    torch.manual_seed(seed + 7)
    text_encoder = CLIPTextModel(CLIPTextConfig(**TEXT_CONFIGS["tiny"])).eval()
    return unet, vae, head, text_encoder


@pytest.mark.parametrize("scheme_name", ["body", "wholebody"])
def test_truncated_unet_equals_hooked_full_unet(scheme_name):
    scheme = get_scheme(scheme_name)
    unet, vae, head, _ = _parts(scheme_name)
    full = copy.deepcopy(unet)
    context = torch.randn(1, 2, 64)
    model = SDPoseModel(vae, unet, head, context, scheme)
    assert len(model.unet.up_blocks) == scheme.tap_block + 1 and model.unet.conv_out is None
    latent = torch.randn(3, 4, 32, 24)
    with torch.no_grad():
        ours = model.features(latent)
        ref = hooked_features(full, latent, context, OFFICIAL_TAP[scheme_name])
    assert ours.shape == ref.shape == (3, scheme.feature_channels([64, 64, 128, 128]), 32, 24)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5)


def test_truncated_unet_handles_latents_not_divisible_by_eight():
    """Odd latent sizes take diffusers' upsample_size path; the truncated pass must follow it too."""
    unet, vae, head, _ = _parts("wholebody")
    full = copy.deepcopy(unet)
    context = torch.randn(1, 2, 64)
    model = SDPoseModel(vae, unet, head, context, get_scheme("wholebody"))
    latent = torch.randn(1, 4, 36, 20)
    with torch.no_grad():
        ref = hooked_features(full, latent, context, OFFICIAL_TAP["wholebody"])
        torch.testing.assert_close(model.features(latent), ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("scheme_name", ["body", "wholebody"])
@pytest.mark.parametrize("flip", [False, True])
def test_heatmaps_equal_official_pipeline(tmp_path, scheme_name, flip, tiny_tokenizer_dir):
    from transformers import CLIPTokenizer

    from sdpose_core.engine.pipeline import PoseEstimator

    scheme = get_scheme(scheme_name)
    unet, vae, head, text_encoder = _parts(scheme_name, seed=3)
    tokenizer = CLIPTokenizer.from_pretrained(str(tiny_tokenizer_dir))
    with torch.no_grad():
        context = empty_prompt_context(tokenizer, text_encoder)
    model = SDPoseModel(copy.deepcopy(vae), copy.deepcopy(unet), copy.deepcopy(head), context, scheme)
    crops = torch.rand(2, 3, 256, 192)
    ours = PoseEstimator(model, input_size=(192, 256), flip=flip).heatmaps(crops)
    ref = official_heatmaps(vae, unet, OfficialHead(head.state_dict()), tokenizer, text_encoder, scheme_name,
                           crops * 2 - 1, flip=flip)
    assert context.shape == (1, 2, 64)
    # float noise only: on the CPU our VAE encodes one crop per call, the official loop a batch, and convolution
    # kernels sum in a batch-size-dependent order (differences up to ~3e-5 here)
    torch.testing.assert_close(ours, ref, rtol=1e-4, atol=1e-4)


def test_sampled_latent_matches_official_sampling(tiny_tokenizer_dir):
    """With ``sample_latent`` the engine draws the same posterior sample as the official code."""
    from transformers import CLIPTokenizer

    scheme = get_scheme("body")
    unet, vae, head, text_encoder = _parts("body", seed=5)
    tokenizer = CLIPTokenizer.from_pretrained(str(tiny_tokenizer_dir))
    with torch.no_grad():
        context = empty_prompt_context(tokenizer, text_encoder)
    model = SDPoseModel(copy.deepcopy(vae), copy.deepcopy(unet), copy.deepcopy(head), context, scheme)
    pixels = torch.rand(2, 3, 256, 192) * 2 - 1
    with torch.no_grad():
        ours = model(pixels, sample=True, generator=torch.Generator().manual_seed(11))
        mean = model(pixels)
    ref = official_heatmaps(vae, unet, OfficialHead(head.state_dict()), tokenizer, text_encoder, "body", pixels,
                           flip=False, sample=True, generator=torch.Generator().manual_seed(11))
    torch.testing.assert_close(ours, ref, rtol=1e-4, atol=1e-5)
    assert not torch.allclose(ours, mean)


def test_model_is_deterministic(tiny_body, cache):
    model = load_model(tiny_body, cache=cache)
    pixels = torch.rand(2, 3, 256, 192) * 2 - 1
    with torch.no_grad():
        assert torch.equal(model(pixels), model(pixels))


@pytest.mark.parametrize("dtype", ["fp16", "bf16"])
def test_half_precision_close_to_fp32(tiny_wholebody, cache, dtype):
    from sdpose_core.engine.cpu import native_bf16

    ref = load_model(tiny_wholebody, cache=cache)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        half = load_model(tiny_wholebody, cache=cache, dtype=dtype)
    slow = [w for w in seen if "far slower than float32" in str(w.message)]
    assert len(slow) == (0 if dtype == "bf16" and native_bf16() else 1)  # bf16 is fast on AVX512-BF16 / AMX CPUs
    assert half.dtype == {"fp16": torch.float16, "bf16": torch.bfloat16}[dtype]
    pixels = torch.rand(1, 3, 256, 192) * 2 - 1
    with torch.no_grad():
        a = ref(pixels)
        b = half(pixels.to(half.dtype)).float()
    assert torch.isfinite(b).all()
    assert (a - b).abs().max() < 0.1 * a.abs().max()


def test_vae_chunking_does_not_change_heatmaps(tiny_body, cache):
    model = load_model(tiny_body, cache=cache)
    pixels = torch.rand(5, 3, 256, 192) * 2 - 1
    assert model.cpu_vae_chunk == 1  # on the CPU one crop per encoder call (memory; no speed to gain)
    with torch.no_grad():
        model.cpu_vae_chunk = 5
        whole = model(pixels)
        model.cpu_vae_chunk = 2
        torch.testing.assert_close(model(pixels), whole, rtol=1e-4, atol=1e-4)


def test_posterior_mean_against_samples_at_sd_like_variance():
    """The engine takes the VAE posterior mean where the official code draws a sample. With a posterior as narrow as
    SD's VAE gives (std set to 1 % of the mean's typical size; the tiny VAE's own is ~5x the mean), sampling moves
    keypoints by hundredths of a pixel: far below a heatmap pixel, yet above float noise (so the mean is a choice of
    determinism, not a no-op). Measured on this 2-core CPU: at most 0.10 crop px (192x256, 133 points x 4 crops x 3
    samples), against ~1e-4 px between VAE batch sizes."""
    from sdpose_core.engine.codec import UDPHeatmap
    from test_pipeline import BlobHead

    unet, vae, head, _ = _parts("wholebody", seed=3)
    model = SDPoseModel(vae, unet, BlobHead(head), torch.randn(1, 2, 64), get_scheme("wholebody"))
    codec = UDPHeatmap.for_input((192, 256))
    pixels = torch.rand(4, 3, 256, 192, generator=torch.Generator().manual_seed(0)) * 2 - 1
    with torch.no_grad():
        mean = model.quant_conv(model.encoder(pixels)).chunk(2, 1)[0]
        model.quant_conv.weight[4:] = 0  # the log-variance channels: a constant std of 1 % of the mean's size
        model.quant_conv.bias[4:] = 2 * torch.log(0.01 * mean.abs().mean())
        at_mean = codec.decode(model(pixels))[0]
        model.cpu_vae_chunk = 4
        float_noise = (codec.decode(model(pixels))[0] - at_mean).norm(dim=-1).max()
        moved = torch.stack([(codec.decode(model(pixels, sample=True, generator=torch.Generator().manual_seed(s)))[0]
                              - at_mean).norm(dim=-1) for s in range(3)])
    print(f"sample vs mean: max {moved.max():.2e} px, median {moved.median():.2e} px; float noise {float_noise:.1e} px")
    assert moved.max() < 0.2  # crop pixels; a heatmap pixel is ~4
    assert moved.max() > 10 * float_noise
