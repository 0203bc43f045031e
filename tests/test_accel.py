"""The speed steps change speed, never results: torch.compile (and its fallback), static buckets, the fp16 rerun."""

from __future__ import annotations

import copy
import json
import logging
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch

from sdpose_core.engine import accel
from sdpose_core.engine.memory import activation_bytes, auto_dtype, model_bytes, reserve_bytes
from sdpose_core.engine.pipeline import PoseEstimator, estimate
from sdpose_core.weights.checkpoint import load_model
from test_pipeline import BlobHead, _image

SIZE = (128, 128)  # the smallest crop with every U-Net level: keeps compiling quick
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def images():
    return [_image(120 + 8 * i, 100 + 6 * i, seed=10 + i) for i in range(3)]


def _with_blobs(model):
    """Well-conditioned heatmaps (see BlobHead): decoded points move by float noise only when heatmaps do."""
    model.head = BlobHead(model.head)
    return model


def _keypoints(results) -> torch.Tensor:
    return torch.cat([r.keypoints for r in results])


@pytest.mark.skipif(shutil.which(os.environ.get("CXX", "g++")) is None, reason="inductor on CPU needs a C++ compiler")
def test_compiled_gives_the_eager_keypoints(tiny_body, cache, images, caplog):
    eager = _with_blobs(load_model(tiny_body, cache=cache))
    compiled = load_model(tiny_body, cache=cache, compile=True)
    compiled.head = BlobHead(compiled.head)  # before the first call: the compiled graph traces it
    options = dict(input_size=SIZE, batch_size=4, flip=True)
    with caplog.at_level(logging.WARNING, logger="sdpose"):
        got = estimate(compiled, images, **options)
    assert accel.is_compiled(compiled), caplog.text  # it really ran compiled, no fallback
    assert "torch.compile cannot run" not in caplog.text
    want = estimate(eager, images, **options)
    torch.testing.assert_close(_keypoints(got), _keypoints(want), atol=1e-3, rtol=1e-4)
    crops = torch.randint(0, 256, (4, 3, SIZE[1], SIZE[0]), dtype=torch.uint8)
    heat_c = PoseEstimator(compiled, input_size=SIZE, flip=True).heatmaps(crops)  # the shape compiled above
    heat_e = PoseEstimator(eager, input_size=SIZE, flip=True).heatmaps(crops)
    torch.testing.assert_close(heat_c, heat_e, atol=1e-5 * heat_e.abs().max().item(), rtol=1e-4)


def test_unknown_backend_falls_back_with_one_message(tiny_body, cache, images, caplog):
    model = load_model(tiny_body, cache=cache)
    want = _keypoints(estimate(model, images, input_size=SIZE, flip=False, batch_size=2))
    with caplog.at_level(logging.WARNING, logger="sdpose"):
        wrapper = accel.compile_model(model, backend="no_such_backend")
        got = _keypoints(estimate(model, images, input_size=SIZE, flip=False, batch_size=2))
    assert wrapper.failure is not None and "no_such_backend" in wrapper.failure
    assert not accel.is_compiled(model)
    lines = [r for r in caplog.records if "torch.compile cannot run" in r.getMessage()]
    assert len(lines) == 1 and "running eager" in lines[0].getMessage()
    assert torch.equal(got, want)  # the eager forward itself


_FALLBACK = """
import json, logging, sys
import torch
from sdpose_core.engine import accel
from sdpose_core.engine.pipeline import PoseEstimator
from sdpose_core.weights.checkpoint import load_model
logging.basicConfig(level=logging.WARNING, format="LOG %(message)s")
model = load_model(sys.argv[1], cache=sys.argv[2], compile=True)
crops = torch.randint(0, 256, (2, 3, 128, 128), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
heat = [PoseEstimator(model, input_size=(128, 128), flip=False).heatmaps(crops) for _ in range(2)]
eager = accel.eager_forward(model)
model.forward = eager
want = PoseEstimator(model, input_size=(128, 128), flip=False).heatmaps(crops)
print(json.dumps({"compiled": accel.is_compiled(model), "equal": all(torch.equal(h, want) for h in heat)}))
"""


def test_missing_compiler_falls_back_with_one_message(tiny_body, cache, tmp_path):
    """Inductor honours $CXX: pointing it at no compiler is what a machine without one does."""
    env = {**os.environ, "CXX": str(tmp_path / "no-such-g++"), "TORCHINDUCTOR_CACHE_DIR": str(tmp_path / "ind"),
           "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", _FALLBACK, str(tiny_body), str(cache)], capture_output=True,
                          text=True, env=env, cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    messages = [line for line in (proc.stdout + proc.stderr).splitlines() if "torch.compile cannot run" in line]
    assert len(messages) == 1, proc.stderr[-3000:]
    assert "C++ compiler" in messages[0] and "running eager" in messages[0]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"compiled": False, "equal": True}


def test_buckets_are_powers_of_two_up_to_the_batch():
    assert accel.bucket_sizes(1) == [1]
    assert accel.bucket_sizes(8) == [1, 2, 4, 8]
    assert accel.bucket_sizes(12) == [1, 2, 4, 8, 12]
    assert [accel.bucket_for(n, 12) for n in (1, 2, 3, 5, 8, 9, 12)] == [1, 2, 4, 8, 8, 12, 12]
    crops = torch.arange(6).reshape(3, 2)
    assert torch.equal(accel.pad_to(crops, 4), torch.tensor([[0, 1], [2, 3], [4, 5], [4, 5]]))
    assert accel.pad_to(crops, 3) is crops


@pytest.mark.parametrize("flip", [False, True])
def test_padding_to_a_bucket_never_changes_a_result(tiny_wholebody, cache, images, flip):
    """The same crops alone, in an exact batch and padded into a bucket give the same keypoints."""
    model = _with_blobs(load_model(tiny_wholebody, cache=cache))
    seen: list[int] = []
    model.register_forward_pre_hook(lambda _m, args: seen.append(args[0].shape[0]))
    boxes = [[[5, 5, 60, 90], [30, 20, 50, 70]], [[0, 0, 100, 120]], [[10, 10, 40, 40], [20, 5, 70, 90]]]
    options = dict(input_size=SIZE, flip=flip, batch_size=8)
    exact = _keypoints(estimate(model, images, boxes, static_batches=False, **options))
    assert seen == [5 * (2 if flip else 1)]
    seen.clear()
    padded = _keypoints(estimate(model, images, boxes, static_batches=True, **options))
    assert seen == [8 * (2 if flip else 1)]  # 5 crops ran as a bucket of 8
    assert padded.shape == exact.shape == (5, 133, 3)
    torch.testing.assert_close(padded, exact, atol=1e-4, rtol=0)
    alone = _keypoints(estimate(model, images, boxes, static_batches=True, **{**options, "batch_size": 1}))
    torch.testing.assert_close(padded, alone, atol=1e-3, rtol=1e-4)


def _overflowing_fp16(tiny_body, cache):
    """The tiny model in fp16 with its first VAE convolution scaled so its outputs pass fp16's 65504."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fp16 on a CPU is slow; fine for a tiny model
        model = load_model(tiny_body, cache=cache, dtype="fp16")
    with torch.no_grad():  # largest weight 60000 (fp16 holds it); a 27-tap sum of such weights does not fit
        weight = model.encoder.conv_in.weight
        weight.copy_(weight.float() * (60000.0 / weight.float().abs().max()))
    return _with_blobs(model)


def test_fp16_overflow_reruns_the_batch_in_fp32(tiny_body, cache, images, caplog):
    model = _overflowing_fp16(tiny_body, cache)
    reference = copy.deepcopy(model).float()  # the same (fp16-rounded) weights in fp32
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    crops = torch.randint(0, 256, (2, 3, SIZE[1], SIZE[0]), dtype=torch.uint8)
    _, finite = model(crops.half() / 255 * 2 - 1, check_finite=True)
    assert not bool(finite)  # the overflow is real
    with caplog.at_level(logging.WARNING, logger="sdpose"):
        got = estimate(model, images, input_size=SIZE, flip=True, batch_size=2)
    lines = [r for r in caplog.records if "fp16 overflowed" in r.getMessage()]
    assert len(lines) == 2  # one line per rerun batch: 3 images in batches of 2
    want = estimate(reference, images, input_size=SIZE, flip=True, batch_size=2)
    assert torch.isfinite(_keypoints(got)).all()
    assert torch.equal(_keypoints(got), _keypoints(want))
    assert model.dtype == torch.float16
    assert all(torch.equal(v, weights[k]) for k, v in model.state_dict().items())  # fp16 -> fp32 -> fp16 is exact


def test_fp16_without_overflow_is_not_rerun(tiny_body, cache, images, caplog):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = load_model(tiny_body, cache=cache, dtype="fp16")
    with caplog.at_level(logging.WARNING, logger="sdpose"):
        results = estimate(model, images, input_size=SIZE, flip=False)
    assert "fp16 overflowed" not in caplog.text
    assert torch.isfinite(_keypoints(results)).all()


def test_memory_estimate_and_auto_dtype(tiny_body, cache, monkeypatch):
    model = load_model(tiny_body, cache=cache)
    weights = sum(p.numel() * 4 for p in model.parameters()) + sum(b.numel() * 4 for b in model.buffers())
    assert model_bytes(model) == weights
    size = (768, 1024)
    assert reserve_bytes(model, 8, True, size) == weights + activation_bytes(8, True, size, 4, model.vae_chunk)
    assert activation_bytes(8, True, size, 2, 4) == 2 * activation_bytes(8, False, size, 2, 4) - (
        4 * 768 * 1024 * 128 * 2 * 4)  # the VAE part runs in chunks of 4 crops either way
    assert auto_dtype("cpu") == torch.float32
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert auto_dtype("cuda") == torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert auto_dtype("cuda") == torch.float16
    # a pre-Ampere GPU (T4, V100): torch >= 2.3 says bf16 is supported there, by emulation only; fp16 is native
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: including_emulation)
    assert auto_dtype("cuda") == torch.float16


def test_attention_is_pytorch_fused(tiny_body, cache):
    """diffusers' default processor calls F.scaled_dot_product_attention (flash / memory-efficient kernels)."""
    from diffusers.models.attention_processor import AttnProcessor2_0

    model = load_model(tiny_body, cache=cache)
    processors = model.unet.attn_processors.values()
    assert processors and all(isinstance(p, AttnProcessor2_0) for p in processors)


def test_compile_flag_reaches_the_loader_and_not_the_resume_records(tmp_path):
    from sdpose_core.cli.main import build_parser, work_settings

    argv = ["estimate", str(tmp_path), "--model", "body", "--out", str(tmp_path / "out")]
    plain, compiled = (work_settings(build_parser().parse_args(argv + extra)) for extra in ([], ["--compile"]))
    assert (plain.compile, compiled.compile) == (False, True)
    assert plain.shaping() == compiled.shaping()  # a compiled rerun resumes an eager job: same outputs
