"""Crops/s and peak memory: sdpose_core's engine against a transcription of the official inference path.

Both paths run in one invocation on the same random-weight checkpoint (written once in the official layout),
each in its own subprocess that loads it the way its code does, so that peak memory (loading included) is
measured separately: peak RSS on CPU, torch's peak allocation on CUDA. The naive path
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
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # tiny_models, official: test-only code


def _peak_bytes(device: str) -> int:
    """Peak memory of this process: torch's peak CUDA allocation, or the RSS high-water mark on CPU.

    VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so a child would report its parent's peak.
    """
    import torch

    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated()
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def make_checkpoint(folder: Path, preset: str, scheme: str, seed: int) -> None:
    """A random-weight SDPose checkpoint of ``preset`` size in the official folder layout."""
    import torch
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    from sdpose_core.weights.export import save_folder
    from tiny_models import TEXT_CONFIGS, random_parts

    unet, vae, head = random_parts(preset, scheme, seed=seed)
    torch.manual_seed(seed + 1)
    encoder = CLIPTextModel(CLIPTextConfig(**TEXT_CONFIGS[preset])).eval()
    vocab = {"<|startoftext|>": 49406, "<|endoftext|>": 49407, **{chr(i + 33): i for i in range(90)}}
    tok_dir = folder.parent / "tokenizer-src"
    tok_dir.mkdir(parents=True, exist_ok=True)
    (tok_dir / "vocab.json").write_text(json.dumps(vocab))
    (tok_dir / "merges.txt").write_text("#version: 0.2\n")
    save_folder(folder, unet, vae, head, encoder, CLIPTokenizer.from_pretrained(str(tok_dir), model_max_length=77))


def worker(args: argparse.Namespace) -> dict:
    """Load and run one path; report throughput, peak memory (load + run) and a heatmap sample."""
    import torch

    from official import load_official, official_heatmaps
    from sdpose_core.engine.pipeline import PoseEstimator
    from sdpose_core.engine.schemes import get_scheme
    from sdpose_core.weights.checkpoint import load_model

    torch.set_grad_enabled(False)
    device = torch.device(args.device)
    scheme = get_scheme(args.scheme)
    w, h = args.input_size
    crops = torch.rand(args.crops, 3, h, w, generator=torch.Generator().manual_seed(args.seed))
    loaded = time.perf_counter()
    if args.path == "naive":
        vae, unet, head, tokenizer, text_encoder = load_official(args.checkpoint, scheme, device)

        def run(batch):
            return official_heatmaps(vae, unet, head, tokenizer, text_encoder, scheme, batch * 2 - 1, flip=args.flip,
                                     sample=True, generator=torch.Generator(device=device).manual_seed(0))

        batch_size = 1
    else:
        model = load_model(args.checkpoint, dtype=args.dtype, device=device, cache=args.checkpoint.parent / "cache")
        run = PoseEstimator(model, input_size=(w, h), flip=args.flip, batch_size=args.batch_size).heatmaps
        batch_size = args.batch_size
    load_s = time.perf_counter() - loaded
    run(crops[:batch_size].to(device))  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    outputs = [run(crops[i:i + batch_size].to(device)).float().cpu() for i in range(0, args.crops, batch_size)]
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    heat = torch.cat(outputs)
    return {"path": args.path, "crops_per_s": args.crops / seconds, "seconds": seconds, "load_s": load_s,
            "peak_mib": _peak_bytes(args.device) / 2**20,
            "heat_sample": heat[:, :, ::8, ::8].reshape(-1)[:4096].tolist()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=["sd2", "tiny"], default="sd2")
    parser.add_argument("--scheme", choices=["body", "wholebody"], default="wholebody")
    parser.add_argument("--input-size", default="768x1024", help="crop WxH")
    parser.add_argument("--crops", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--dtype", choices=["fp32", "bf16", "fp16"], default="fp32")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--flip", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, default=None, help="where the random checkpoint is written "
                        "(reused when present; default: a temporary folder)")
    parser.add_argument("--path", choices=["naive", "ours"], help=argparse.SUPPRESS)
    parser.add_argument("--checkpoint", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    from sdpose_core.sizes import parse_size

    args.input_size = parse_size(args.input_size)
    if args.path:
        print(json.dumps(worker(args)))
        return
    from sdpose_core.weights.checkpoint import load_context

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="sdpose-bench-"))
    checkpoint = workdir / f"{args.preset}-{args.scheme}-seed{args.seed}"
    if not checkpoint.exists():
        make_checkpoint(checkpoint, args.preset, args.scheme, args.seed)
    load_context(checkpoint, workdir / "cache")  # once, as a user's first load does; not timed
    results = {}
    for path in ("naive", "ours"):
        cmd = [sys.executable, __file__, *sys.argv[1:], "--path", path, "--checkpoint", str(checkpoint)]
        proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "TQDM_DISABLE": "1"})
        if proc.returncode:
            sys.exit(f"{path} path failed:\n{proc.stderr[-3000:]}")
        results[path] = json.loads(proc.stdout.strip().splitlines()[-1])
    naive, ours = results["naive"], results["ours"]
    import numpy as np

    diff = np.abs(np.array(naive["heat_sample"]) - np.array(ours["heat_sample"])).max()
    print(f"config: preset={args.preset} scheme={args.scheme} input={args.input_size[0]}x{args.input_size[1]} "
          f"crops={args.crops} flip={args.flip} device={args.device}; ours: batch={args.batch_size} dtype={args.dtype}")
    print("  times are warm: after one untimed call per path (the official loop's first call carries set-up)")
    for r in (naive, ours):
        print(f"  {r['path']:5s}: {r['crops_per_s']:8.3f} crops/s ({1 / r['crops_per_s']:.2f} s per crop)  peak "
              f"{r['peak_mib']:9.0f} MiB  (run {r['seconds']:.1f} s, load {r['load_s']:.1f} s)")
    print(f"  speed-up x{ours['crops_per_s'] / naive['crops_per_s']:.2f}, peak memory ratio "
          f"{ours['peak_mib'] / naive['peak_mib']:.2f}, max |heatmap diff| on a sample {diff:.3g} "
          f"(naive samples the VAE posterior, ours takes its mean)")


if __name__ == "__main__":
    main()
