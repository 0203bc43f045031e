"""Crops/s and peak memory: sdpose_core's engine against a transcription of the official inference path.

Both paths run in one invocation on the same random weights (seeded), each in its own subprocess so that
peak memory is measured separately (peak RSS on CPU, torch's peak allocation on CUDA). The naive path
mirrors the official code: full U-Net with forward hooks, text encoder run on every call, batch 1, fp32,
the flipped crop as a second pass, ``latent_dist.sample()``. Ours: VAE mean, U-Net cut after the tapped
block, cached context, crops batched, flip in the same batch, optional bf16/fp16.

    python bench/bench_engine.py --preset sd2 --input-size 192x256 --crops 4 --batch-size 4   # CPU, reduced
    python bench/bench_engine.py --preset sd2 --device cuda --dtype bf16 --crops 64 --batch-size 16  # GPU
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _peak_bytes(device: str) -> int:
    import torch

    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated()
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _text_parts(preset: str, seed: int):
    """A CLIP text encoder of the preset's size and a tokenizer with CLIP's special tokens."""
    import torch
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    from sdpose_core.configs import TEXT_CONFIGS

    torch.manual_seed(seed + 1)
    encoder = CLIPTextModel(CLIPTextConfig(**TEXT_CONFIGS[preset])).eval()
    vocab = {"<|startoftext|>": 49406, "<|endoftext|>": 49407, **{chr(i + 33): i for i in range(90)}}
    folder = Path(tempfile.mkdtemp())
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    return encoder, CLIPTokenizer.from_pretrained(str(folder), model_max_length=77)


def worker(args: argparse.Namespace) -> dict:
    """Run one path and report its throughput, peak memory and a heatmap checksum sample."""
    import torch

    from sdpose_core.configs import random_parts
    from sdpose_core.model import SDPoseModel
    from sdpose_core.pipeline import PoseEstimator
    from sdpose_core.reference import empty_prompt_context, official_heatmaps
    from sdpose_core.schemes import get_scheme

    torch.set_grad_enabled(False)
    device = torch.device(args.device)
    scheme = get_scheme(args.scheme)
    unet, vae, head = random_parts(args.preset, scheme, seed=args.seed)
    text_encoder, tokenizer = _text_parts(args.preset, args.seed)
    w, h = args.input_size
    crops = torch.rand(args.crops, 3, h, w, generator=torch.Generator().manual_seed(args.seed))
    if args.path == "naive":
        unet, vae, head, text_encoder = (m.to(device) for m in (unet, vae, head, text_encoder))

        def run(batch):
            return official_heatmaps(vae, unet, head, tokenizer, text_encoder, scheme, batch * 2 - 1, flip=args.flip,
                                     sample=True, generator=torch.Generator(device=device).manual_seed(0))

        batch_size = 1
    else:
        context = empty_prompt_context(tokenizer, text_encoder)
        del text_encoder
        model = SDPoseModel(vae, unet, head, context, scheme).to(device=device, dtype=getattr(torch, args.dtype))
        estimator = PoseEstimator(model, input_size=(w, h), flip=args.flip, batch_size=args.batch_size)
        run = estimator.heatmaps
        batch_size = args.batch_size
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    run(crops[:batch_size].to(device))  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    outputs = []
    for i in range(0, args.crops, batch_size):
        outputs.append(run(crops[i:i + batch_size].to(device)).float().cpu())
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    heat = torch.cat(outputs)
    return {"path": args.path, "crops_per_s": args.crops / seconds, "seconds": seconds,
            "peak_mib": _peak_bytes(args.device) / 2**20, "heat_mean": float(heat.mean()),
            "heat_absmax": float(heat.abs().max()), "heat_sample": heat[:, :, ::8, ::8].reshape(-1)[:4096].tolist()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=["sd2", "tiny"], default="sd2")
    parser.add_argument("--scheme", choices=["body", "wholebody"], default="wholebody")
    parser.add_argument("--input-size", default="768x1024", help="crop WxH")
    parser.add_argument("--crops", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--dtype", choices=["float32", "bfloat16", "float16"], default="float32")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--flip", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--path", choices=["naive", "ours"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.input_size = tuple(int(v) for v in args.input_size.split("x"))
    if args.path:
        print(json.dumps(worker(args)))
        return
    results = {}
    for path in ("naive", "ours"):
        cmd = [sys.executable, __file__, *sys.argv[1:], "--path", path]
        proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "TQDM_DISABLE": "1"})
        if proc.returncode:
            sys.exit(f"{path} path failed:\n{proc.stderr[-3000:]}")
        results[path] = json.loads(proc.stdout.strip().splitlines()[-1])
    naive, ours = results["naive"], results["ours"]
    import numpy as np

    diff = np.abs(np.array(naive["heat_sample"]) - np.array(ours["heat_sample"])).max()
    print(f"config: preset={args.preset} scheme={args.scheme} input={args.input_size[0]}x{args.input_size[1]} "
          f"crops={args.crops} flip={args.flip} device={args.device}; ours: batch={args.batch_size} dtype={args.dtype}")
    for r in (naive, ours):
        print(f"  {r['path']:5s}: {r['crops_per_s']:8.3f} crops/s  peak {r['peak_mib']:9.0f} MiB  ({r['seconds']:.1f} s)")
    print(f"  speed-up x{ours['crops_per_s'] / naive['crops_per_s']:.2f}, peak memory ratio "
          f"{ours['peak_mib'] / naive['peak_mib']:.2f}, max |heatmap diff| on a sample {diff:.3g} "
          f"(naive samples the VAE posterior, ours takes its mean)")


if __name__ == "__main__":
    main()
