"""examples/controlnet_openpose.py end to end: an image posed by SDPose guides diffusers' real
StableDiffusionControlNetPipeline (tiny random components built offline, no download)."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from pack import REPO
from sdpose_core import SDPoseDetector
from sdpose_core.engine.pipeline import PoseEstimator
from sdpose_core.weights.checkpoint import load_model

TINY_INPUT = (192, 256)  # small crops (W x H, multiples of 64): the tiny checkpoints run fast


def example():
    spec = importlib.util.spec_from_file_location("controlnet_openpose", REPO / "examples" / "controlnet_openpose.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tiny_pipeline(tokenizer_dir):
    """A StableDiffusionControlNetPipeline of tiny random-weight components (diffusers' own test sizes)."""
    from diffusers import (
        AutoencoderKL,
        ControlNetModel,
        DDIMScheduler,
        StableDiffusionControlNetPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    torch.manual_seed(0)
    blocks = dict(block_out_channels=(32, 64), layers_per_block=1, down_block_types=("DownBlock2D",
                  "CrossAttnDownBlock2D"), cross_attention_dim=32, in_channels=4, attention_head_dim=8)
    unet = UNet2DConditionModel(sample_size=8, out_channels=4, up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
                                norm_num_groups=8, **blocks)
    controlnet = ControlNetModel(conditioning_embedding_out_channels=(16, 32), norm_num_groups=8, **blocks)
    vae = AutoencoderKL(block_out_channels=(32, 64), in_channels=3, out_channels=3, latent_channels=4,
                        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
                        norm_num_groups=8)
    text = CLIPTextModel(CLIPTextConfig(bos_token_id=49406, eos_token_id=49407, hidden_size=32,
                                        intermediate_size=37, num_attention_heads=4, num_hidden_layers=2,
                                        vocab_size=49408, max_position_embeddings=77))
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                              set_alpha_to_one=False)
    tokenizer = CLIPTokenizer.from_pretrained(str(tokenizer_dir), model_max_length=77)
    return StableDiffusionControlNetPipeline(vae=vae, text_encoder=text.eval(), tokenizer=tokenizer,
                                             unet=unet, controlnet=controlnet, scheduler=scheduler,
                                             safety_checker=None, feature_extractor=None,
                                             requires_safety_checker=False)


@pytest.fixture(scope="module")
def pipe(tiny_tokenizer_dir):
    return tiny_pipeline(tiny_tokenizer_dir).to("cpu")


def test_image_to_pose_to_controlnet_image(pipe, tiny_wholebody, cache):
    detector = SDPoseDetector(PoseEstimator(load_model(tiny_wholebody, cache=cache), input_size=TINY_INPUT,
                                            flip=False))
    photo = Image.fromarray(np.random.default_rng(0).integers(0, 256, (96, 72, 3), dtype=np.uint8))
    seen = []
    hook = pipe.controlnet.register_forward_pre_hook(
        lambda _m, args, kwargs: seen.append(kwargs.get("controlnet_cond", args[3] if len(args) > 3 else None)),
        with_kwargs=True)
    try:
        pose, image = example().generate(detector, pipe, photo, "a dancer", resolution=64, steps=2)
    finally:
        hook.remove()
    assert pose.size == (64, 85 // 8 * 8) and np.array_equal(
        np.asarray(pose), np.asarray(detector(photo, image_resolution=64).resize(pose.size)))
    assert isinstance(image, Image.Image) and image.size == pose.size
    # the ControlNet was conditioned on exactly the pose image, at every step
    want = torch.from_numpy(np.asarray(pose).astype(np.float32) / 255.0).permute(2, 0, 1)
    assert len(seen) == 2 and all(torch.allclose(c[0].float(), want, atol=1e-6) for c in seen)


def test_the_example_parses_its_command_line():
    with pytest.raises(SystemExit) as done:
        example().main(["--help"])
    assert done.value.code == 0


@pytest.mark.parametrize("make, extra, message", [
    (lambda path: None, [], "No such file"),
    (lambda path: path.write_bytes(b"not an image"), [], "cannot identify image"),
    (lambda path: Image.new("RGB", (8, 8)).save(path, format="PNG"), ["--resolution", "0"], "resolution must be"),
])
def test_a_bad_input_is_one_error_before_any_model_loads(tmp_path, capsys, monkeypatch, make, extra, message):
    """A missing or unreadable image or a bad --resolution: one ``error:`` line and exit 2, nothing downloaded."""
    monkeypatch.setitem(sys.modules, "diffusers", None)  # importing diffusers (the model loading) would fail loudly
    path = tmp_path / "in.png"
    make(path)
    with pytest.raises(SystemExit) as done:
        example().main([str(path), "--prompt", "p", "--out", str(tmp_path / "out.png"), *extra])
    err = capsys.readouterr().err.strip().splitlines()
    assert done.value.code == 2 and err[0].startswith("usage:") and [e for e in err if "error:" in e] == err[-1:]
    assert message in err[-1] and "Traceback" not in "\n".join(err) and not (tmp_path / "out.png").exists()
