"""Checkpoint loading: the official folder layout, strictness, clear errors, the cached text context."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from sdpose_core.errors import CheckpointError, DownloadError
from sdpose_core.weights.checkpoint import load_model


@pytest.fixture
def body_copy(tiny_body, tmp_path) -> Path:
    return Path(shutil.copytree(tiny_body, tmp_path / "copy"))


def test_loads_folder_and_reads_scheme(tiny_body, tiny_wholebody, cache):
    body = load_model(tiny_body, cache=cache)
    whole = load_model(tiny_wholebody, cache=cache)
    assert body.scheme.name == "body" and whole.scheme.name == "wholebody"
    assert body.head.num_keypoints == 17 and whole.head.num_keypoints == 133
    assert body.context.shape == (1, 2, 64)  # empty prompt, unpadded: BOS + EOS
    assert not hasattr(body, "decoder") and len(whole.unet.up_blocks) == 3
    assert not any(p.is_meta for m in (body, whole) for p in m.parameters())  # every kept weight was read


def test_wrong_scheme_is_named(tiny_body, cache):
    with pytest.raises(CheckpointError, match="is a body checkpoint .* scheme 'wholebody' was requested"):
        load_model(tiny_body, "wholebody", cache=cache)


def test_context_is_computed_once_then_cached(body_copy, tmp_path, monkeypatch):
    import transformers

    cache = tmp_path / "fresh-cache"
    first = load_model(body_copy, cache=cache)
    names = sorted(p.name for p in (cache / "context").glob("*.safetensors"))
    assert len(names) == 2 and "empty-prompt-d64.safetensors" in names  # per checkpoint + shared by width

    def refuse(*args, **kwargs):
        raise AssertionError("the text encoder must not be loaded again")

    monkeypatch.setattr(transformers.CLIPTextModel, "from_pretrained", refuse)
    shutil.rmtree(body_copy / "text_encoder")
    shutil.rmtree(body_copy / "tokenizer")
    second = load_model(body_copy, cache=cache)
    assert torch.equal(first.context, second.context)


def test_first_load_without_text_encoder_says_what_is_missing(body_copy, tmp_path):
    shutil.rmtree(body_copy / "text_encoder")
    with pytest.raises(CheckpointError, match="tokenizer/ and text_encoder/ on first load"):
        load_model(body_copy, cache=tmp_path / "empty-cache")


def _rewrite(path: Path, change) -> None:
    sd = load_file(str(path))
    change(sd)
    save_file(sd, str(path))


def test_missing_head_tensor(body_copy, cache):
    _rewrite(body_copy / "decoder" / "decoder.safetensors", lambda sd: sd.pop("conv_layers.0.bias"))
    with pytest.raises(CheckpointError, match=r"decoder.safetensors.*1 missing tensors: conv_layers.0.bias"):
        load_model(body_copy, cache=cache)


def test_unexpected_unet_tensor(body_copy, cache):
    _rewrite(body_copy / "unet" / "diffusion_pytorch_model.safetensors",
             lambda sd: sd.__setitem__("extra.weight", torch.zeros(3)))
    with pytest.raises(CheckpointError, match=r"diffusion_pytorch_model.safetensors.*unexpected tensors: extra.weight"):
        load_model(body_copy, cache=cache)


def test_wrong_shape(body_copy, cache):
    def shrink(sd):
        sd["conv_in.weight"] = sd["conv_in.weight"][:32].clone()

    _rewrite(body_copy / "unet" / "diffusion_pytorch_model.safetensors", shrink)
    expected = r"wrong shape: conv_in.weight \(32, 4, 3, 3\) \(expected \(64, 4, 3, 3\)\)"
    with pytest.raises(CheckpointError, match=expected):
        load_model(body_copy, cache=cache)


def test_truncated_file(body_copy, cache):
    path = body_copy / "vae" / "diffusion_pytorch_model.safetensors"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="vae.*truncated or corrupt.*download it again"):
        load_model(body_copy, cache=cache)


def test_corrupt_header(body_copy, cache):
    (body_copy / "decoder" / "decoder.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all!")
    with pytest.raises(CheckpointError, match="decoder.safetensors' is truncated or corrupt"):
        load_model(body_copy, cache=cache)


def test_missing_part(body_copy, cache):
    shutil.rmtree(body_copy / "vae")
    with pytest.raises(CheckpointError, match="Missing .*vae/config.json"):
        load_model(body_copy, cache=cache)


def test_plain_stable_diffusion_folder_is_refused(body_copy, cache):
    cfg = body_copy / "scheduler" / "scheduler_config.json"
    cfg.write_text(json.dumps({**json.loads(cfg.read_text()), "prediction_type": "epsilon"}))
    with pytest.raises(CheckpointError, match="not an SDPose checkpoint"):
        load_model(body_copy, cache=cache)


def test_head_with_unknown_keypoint_count(body_copy, cache):
    def retarget(sd):
        sd["final_layer.weight"] = sd["final_layer.weight"][:5].clone()
        sd["final_layer.bias"] = sd["final_layer.bias"][:5].clone()

    _rewrite(body_copy / "decoder" / "decoder.safetensors", retarget)
    with pytest.raises(CheckpointError, match="predicts 5 keypoints"):
        load_model(body_copy, cache=cache)


def test_unknown_source_and_offline_hub(tmp_path, monkeypatch):
    with pytest.raises(CheckpointError, match="not found"):
        load_model(tmp_path / "nope" / "model", cache=tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DownloadError, match=r"teemosliang/SDPose-Body.*put it in .*teemosliang--SDPose-Body"):
        load_model("teemosliang/SDPose-Body", cache=tmp_path)


def test_weights_never_execute_code(body_copy, cache):
    """A pickled .bin in place of safetensors is read with weights_only=True: a payload is refused."""
    import pickle

    class Payload:
        def __reduce__(self):
            return (Path.touch, (body_copy / "pwned",))

    (body_copy / "vae" / "diffusion_pytorch_model.safetensors").unlink()
    (body_copy / "vae" / "diffusion_pytorch_model.bin").write_bytes(pickle.dumps(Payload()))
    with pytest.raises(CheckpointError, match="diffusion_pytorch_model.bin"):
        load_model(body_copy, cache=cache)
    assert not (body_copy / "pwned").exists()


def _comfy_file(path: Path, dtype=torch.float32, seed: int = 1) -> Path:
    """The tiny wholebody model written in ComfyUI's single-file layout (LDM keys, head in the U-Net)."""
    from comfy_keys import diffusers_to_comfy
    from tiny_models import random_parts

    unet, vae, head = random_parts("tiny", "wholebody", seed)
    sd = diffusers_to_comfy(unet.state_dict(), vae.state_dict(), head.state_dict())
    save_file({k: v.to(dtype).contiguous() for k, v in sd.items()}, str(path))
    return path


def test_comfy_single_file_equals_official_folder(tiny_wholebody, tmp_path):
    # A cache of its own: the single file takes the shared empty-prompt context of the last text encoder computed
    # (one encoder for every real release; the tiny test folders each have their own).
    cache = tmp_path / "cache"
    folder_model = load_model(tiny_wholebody, cache=cache)  # same seed as the fixture: same weights
    file_model = load_model(_comfy_file(tmp_path / "sdpose_wholebody_tiny.safetensors"), "wholebody", cache=cache)
    assert file_model.scheme.name == "wholebody"
    torch.testing.assert_close(file_model.context, folder_model.context)
    pixels = torch.rand(2, 3, 256, 192) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(file_model(pixels), folder_model(pixels), rtol=1e-5, atol=1e-5)


def test_comfy_fp16_file_loads_in_any_dtype(tiny_wholebody, cache, tmp_path):
    load_model(tiny_wholebody, cache=cache)  # caches the shared empty-prompt context
    path = _comfy_file(tmp_path / "sdpose_wholebody_fp16.safetensors", torch.float16)
    for dtype, expected in (("fp16", torch.float16), ("bf16", torch.bfloat16), ("fp32", torch.float32)):
        model = load_model(path, cache=cache, dtype=dtype)
        assert model.dtype == expected
        with torch.no_grad():
            assert torch.isfinite(model(torch.zeros(1, 3, 256, 192, dtype=expected))).all()


def test_comfy_file_without_cached_context_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    path = _comfy_file(tmp_path / "sdpose_wholebody_fp16.safetensors")
    with pytest.raises(DownloadError, match=r"has no text encoder.*teemosliang/SDPose-Wholebody.*load an official"):
        load_model(path, cache=tmp_path / "empty-cache")


def test_comfy_file_problems_are_named(tmp_path, cache):
    path = _comfy_file(tmp_path / "x.safetensors")
    _rewrite(path, lambda sd: sd.pop("model.diffusion_model.heatmap_head.final_layer.bias"))
    with pytest.raises(CheckpointError, match="final_layer.bias"):
        load_model(path, cache=cache)
    sd_only = tmp_path / "sd2.safetensors"
    save_file({"model.diffusion_model.input_blocks.0.0.weight": torch.zeros(4, 4, 3, 3)}, str(sd_only))
    with pytest.raises(CheckpointError, match="not an SDPose checkpoint in ComfyUI's single-file layout"):
        load_model(sd_only, cache=cache)
    with pytest.raises(CheckpointError, match="is a wholebody checkpoint"):
        load_model(_comfy_file(tmp_path / "y.safetensors"), "body", cache=cache)


def test_folder_vae_without_decoder_loads_and_gives_the_same_heatmaps(body_copy, tiny_body, cache):
    vae_file = body_copy / "vae" / "diffusion_pytorch_model.safetensors"
    _rewrite(vae_file, lambda sd: [sd.pop(k) for k in list(sd) if k.startswith(("decoder.", "post_quant_conv."))])
    pixels = torch.rand(1, 3, 256, 192) * 2 - 1
    with torch.no_grad():
        assert torch.equal(load_model(body_copy, cache=cache)(pixels), load_model(tiny_body, cache=cache)(pixels))


def test_float8_weights_are_upcast_and_integer_weights_refused(tiny_wholebody, cache, tmp_path):
    load_model(tiny_wholebody, cache=cache)  # caches the shared empty-prompt context
    for kind in ("float8_e4m3fn", "float8_e5m2"):
        path = _comfy_file(tmp_path / f"{kind}.safetensors", getattr(torch, kind))
        model = load_model(path, cache=cache)
        assert model.dtype == torch.float32
        with torch.no_grad():
            assert torch.isfinite(model(torch.zeros(1, 3, 256, 192))).all()
    path = _comfy_file(tmp_path / "int.safetensors")
    key = "model.diffusion_model.heatmap_head.final_layer.bias"
    _rewrite(path, lambda sd: sd.__setitem__(key, sd[key].to(torch.int64)))
    with pytest.raises(CheckpointError, match=r"1 weights are not floating point: .*final_layer.bias \(int64\)"):
        load_model(path, cache=cache)


@pytest.mark.parametrize("native", [True, False])
def test_cpu_bf16_runs_channels_last_only_where_native(tiny_body, cache, monkeypatch, native):
    import warnings

    import sdpose_core.engine.cpu as cpu
    import sdpose_core.weights.checkpoint as ckpt

    monkeypatch.setattr(ckpt, "native_bf16", lambda: native)  # the slowness warning
    monkeypatch.setattr(cpu, "native_bf16", lambda: native)  # the channels-last choice (engine.accel)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = load_model(tiny_body, cache=cache, dtype="bf16")
    assert model.dtype == torch.bfloat16 and model.channels_last == native
    assert model.unet.conv_in.weight.is_contiguous(memory_format=torch.channels_last) == native
    assert any("no native bf16" in str(w.message) for w in caught) != native
    pixels = torch.rand(1, 3, 256, 192) * 2 - 1
    with torch.no_grad():
        heat = model(pixels.to(torch.bfloat16)).float()
        exact = load_model(tiny_body, cache=cache)(pixels)
    assert torch.isfinite(heat).all() and (heat - exact).abs().max() < 0.1 * exact.abs().max()

