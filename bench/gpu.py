"""The GPU benchmark: the official inference loop vs ours eager vs ours compiled, at the released sizes.

One command on a lent GPU machine (no network, under 8 minutes on an H100/H200); it checks its dependencies first
and names any missing package with the wheel to carry. Random weights at the released sizes (SD2 U-Net, SD VAE,
SD2 text encoder, both heads), 768x1024 crops, bf16; batch 1 / 8 / 32, body and wholebody, flip on and off.

    python bench/gpu.py                                   # GPU: writes bench-gpu.json, prints the table
    python bench/gpu.py --smoke --device cpu --out x.json  # tiny model on the CPU, seconds (tests run this)
    python bench/gpu.py --preset tiny --device cpu --input-size 256x320 --compile-backend inductor  # CPU ratios

Per row: crops/s (median of timed repeats after warm-up, CUDA events), peak memory (max_memory_allocated, only
that path's models resident), keypoint agreement with ours in fp32 on the same crops, the memory the Model Loader
asks ComfyUI to reserve (engine.memory.reserve_bytes), and the ratio against the official loop of the same run.
The official loop (tests/official.py): text encoder on every call, full U-Net with hooks, batch 1, the flipped
crop as a second pass, fp32 weights under bf16 autocast. Then the video clip path's frames/s on a synthetic
1280x720 clip (900 frames, one person, boxes given). Compiled rows run in priority order while the time budget
lasts; a row that would not fit is listed as skipped. Random weights make keypoints ill-conditioned (flat, rugged
heatmaps): the relative heatmap error is the sharper agreement figure.
"""

from __future__ import annotations

import argparse
import copy
import importlib
import json
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # tiny_models (the released configs), official (the official loop)

# import name -> (distribution, pure Python: its wheel can be carried to a machine without network)
NEEDED = {"torch": ("torch", False), "numpy": ("numpy", False), "cv2": ("opencv-python-headless", False),
          "safetensors": ("safetensors", False), "transformers": ("transformers", True),
          "diffusers": ("diffusers", True), "huggingface_hub": ("huggingface-hub", True), "regex": ("regex", False),
          "importlib_metadata": ("importlib-metadata", True), "PIL": ("Pillow", False)}
WHEEL_HINT = ("python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp "
              "--platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 -d .whl {spec}")


def missing_packages() -> list[str]:
    """One line per package this benchmark cannot import, naming the wheel to carry."""
    from importlib import metadata

    lines = []
    for module, (dist, pure) in NEEDED.items():
        try:
            importlib.import_module(module)
        except Exception as exc:  # missing, or present in a version its dependants refuse (an ImportError too)
            try:
                spec = f"{dist}=={metadata.version(dist)}"  # the version this tree is tested with, when known
            except metadata.PackageNotFoundError:
                spec = dist
            kind = "pure Python: carry its wheel" if pure else "a binary wheel for this Python"
            lines.append(f"missing: {module} ({exc}); {kind}: {WHEEL_HINT.format(spec=spec)} "
                         "(the device README's wheel recipe; its own needs listed by Requires-Dist)")
    return lines


def settings(args: argparse.Namespace) -> dict[str, Any]:
    """The plan: sizes, batches, repeats; --smoke shrinks everything to the tiny model."""
    if args.smoke:
        return dict(preset="tiny", size=(128, 128), batches=[1, 2], repeats=1, warmup=1, official_repeats=1,
                    clip_frames=6, clip_size=(160, 120), compiled=[(args.schemes[0], 2, False)])
    return dict(preset=args.preset, size=args.input_size, batches=args.batches, repeats=args.repeats, warmup=1,
                official_repeats=args.repeats, clip_frames=args.clip_frames, clip_size=(1280, 720),
                compiled=compiled_plan(args.schemes, args.batches))


def compiled_plan(schemes: list[str], batches: list[int]) -> list[tuple[str, int, bool]]:
    """(scheme, batch, flip) of the compiled rows, most wanted first: the largest batch without flip, a middle one
    with flip, then the rest (each compiles its own shape, so the budget may not reach them all)."""
    big, mid = max(batches), sorted(batches)[len(batches) // 2]
    first = [(s, big, False) for s in schemes] + [(s, mid, True) for s in schemes]
    rest = [(s, b, f) for b in sorted(batches) for f in (False, True) for s in schemes]
    return first + [r for r in rest if r not in first]


class Clock:
    """Wall time against the budget, and device-event timing of a callable."""

    def __init__(self, budget_s: float, device):
        self.start, self.budget, self.device = time.perf_counter(), budget_s, device

    def left(self) -> float:
        return self.budget - (time.perf_counter() - self.start)

    def median_s(self, fn: Callable[[], Any], repeats: int, warmup: int) -> float:
        """Median seconds of ``repeats`` calls after ``warmup`` untimed ones (CUDA events on a GPU)."""
        import torch

        for _ in range(warmup):
            fn()
        cuda = self.device.type == "cuda"
        if cuda:
            torch.cuda.synchronize(self.device)
        times = []
        for _ in range(repeats):
            if cuda:
                begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                begin.record()
                fn()
                end.record()
                end.synchronize()
                times.append(begin.elapsed_time(end) / 1000)
            else:
                t = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t)
        return statistics.median(times)


def peak_tracker(device):
    """(reset, peak bytes) of the device's allocator; on the CPU there is none to read (None)."""
    import torch

    if device.type != "cuda":
        return (lambda: None), (lambda: None)
    return torch.cuda.reset_peak_memory_stats, torch.cuda.max_memory_allocated


def tokenizer(folder: Path):
    """A real CLIPTokenizer over a minimal vocabulary: the empty prompt is BOS, EOS, as in the release."""
    from transformers import CLIPTokenizer

    vocab = {"<|startoftext|>": 49406, "<|endoftext|>": 49407, **{chr(i + 33): i for i in range(90)}}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    return CLIPTokenizer.from_pretrained(str(folder), model_max_length=77)


def build_parts(preset: str, seed: int = 0) -> dict:
    """Random weights at ``preset`` size, on the CPU: full U-Net, VAE, both heads, text encoder, tokenizer."""
    import torch
    from transformers import CLIPTextConfig, CLIPTextModel

    from official import empty_prompt_context
    from sdpose_core.engine.head import HeatmapHead
    from sdpose_core.engine.schemes import get_scheme
    from tiny_models import TEXT_CONFIGS, UNET_CONFIGS, random_parts

    unet, vae, body_head = random_parts(preset, "body", seed)
    torch.manual_seed(seed + 2)
    wb = get_scheme("wholebody")
    wholebody_head = HeatmapHead(wb.feature_channels(UNET_CONFIGS[preset]["block_out_channels"]), wb.num_keypoints)
    with torch.no_grad():
        for p in wholebody_head.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    torch.manual_seed(seed + 1)
    encoder = CLIPTextModel(CLIPTextConfig(**TEXT_CONFIGS[preset])).eval()
    tok = tokenizer(Path(tempfile.mkdtemp(prefix="sdpose-gpu-bench-")) / "tokenizer")
    with torch.no_grad():
        context = empty_prompt_context(tok, encoder).float()
    return dict(unet=unet, vae=vae, heads={"body": body_head, "wholebody": wholebody_head.eval()},
                text_encoder=encoder, tokenizer=tok, context=context)


def ours(parts: dict, scheme: str, device, dtype):
    """Our model (U-Net cut after the tapped block, cached context) placed as the loader places it."""
    from sdpose_core.engine import accel
    from sdpose_core.engine.schemes import get_scheme
    from sdpose_core.weights.checkpoint import assemble

    model = assemble(copy.deepcopy(parts["vae"]), copy.deepcopy(parts["unet"]), copy.deepcopy(parts["heads"][scheme]),
                     parts["context"], get_scheme(scheme), "bench")
    return accel.place_model(model, device, dtype, channels_last=accel.default_channels_last(device, dtype))


def crops_for(count: int, size: tuple[int, int], device, seed: int = 0):
    """Blocky random uint8 crops [count, 3, H, W] on the device (structure at several scales, like images)."""
    import torch

    w, h = size
    g = torch.Generator().manual_seed(seed)
    small = torch.randint(0, 256, (count, 3, h // 16, w // 16), dtype=torch.uint8, generator=g)
    return small.repeat_interleave(16, 2).repeat_interleave(16, 3).to(device)


def agreement(heat, keypoints, ref_heat, ref_keypoints) -> dict:
    """Heatmap error relative to the fp32 heatmaps' peak, and keypoint distances in crop pixels."""
    import torch

    dist = (keypoints - ref_keypoints).norm(dim=-1).flatten()
    return {"heat_rel_err": float((heat - ref_heat).abs().max() / ref_heat.abs().max()),
            "kp_px_median": float(dist.median()), "kp_px_max": float(dist.max()),
            "kp_within_1px": float((dist <= 1.0).float().mean())} if torch.isfinite(heat).all() else {"nonfinite": True}


def batched(fn: Callable[[Any], Any], crops, batch: int):
    """``fn`` over ``crops`` in batches of ``batch`` (the shapes of the timed row: nothing new to compile)."""
    import torch

    return torch.cat([fn(crops[i:i + batch]) for i in range(0, crops.shape[0], batch)])


def run_ours(estimator, crops, batch: int):
    """Crops -> keypoints on the device for one batch: heatmaps (flip-averaged if on) and UDP decode."""
    coords, scores = estimator.codec.decode(estimator.heatmaps(crops[:batch]))
    return coords, scores


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny model, tiny sizes, one repeat: the shape test")
    parser.add_argument("--device", default=None, help="default: cuda when available, else cpu")
    parser.add_argument("--preset", choices=["sd2", "tiny"], default="sd2")
    parser.add_argument("--input-size", default="768x1024", help="crop WxH")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--schemes", nargs="+", choices=["wholebody", "body"], default=["wholebody", "body"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--clip-frames", type=int, default=900)
    parser.add_argument("--dtype", choices=["bf16", "fp16", "fp32"], default="bf16")
    parser.add_argument("--compile-backend", default=None, help="torch.compile backend (default inductor; "
                        "'eager' with --smoke: traces without generating code)")
    parser.add_argument("--budget", type=float, default=420.0, help="seconds for the whole run; compiled rows "
                        "that would not fit are skipped (default %(default)s)")
    parser.add_argument("--bucket-stream", type=int, default=0, metavar="N", help="also time N calls of 1, 2, ... "
                        "batch-1 people through the compiled model with and without static buckets, twice (the first "
                        "pass compiles): what bucketing saves (default off: unbucketed shapes recompile for minutes)")
    parser.add_argument("--bucket-batch", type=int, default=None, help="batch size of --bucket-stream "
                        "(default: the largest of --batches)")
    parser.add_argument("--out", type=Path, default=Path("bench-gpu.json"))
    args = parser.parse_args()
    problems = missing_packages()
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 3
    import torch

    from sdpose_core.engine import accel
    from sdpose_core.engine.codec import UDPHeatmap
    from sdpose_core.engine.memory import reserve_bytes
    from sdpose_core.engine.pipeline import PoseEstimator
    from sdpose_core.engine.schemes import get_scheme
    from sdpose_core.sizes import parse_size
    from sdpose_core.weights.checkpoint import parse_dtype

    args.input_size = parse_size(args.input_size)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cuda" and not torch.cuda.is_available():
        print("error: --device cuda but torch sees no GPU; use --device cpu (with --smoke)", file=sys.stderr)
        return 2
    plan = settings(args)
    backend = args.compile_backend or ("eager" if args.smoke else "inductor")
    dtype = parse_dtype(args.dtype)
    torch.set_grad_enabled(False)
    torch.backends.cudnn.benchmark = True  # static shapes: cuDNN picks the fastest convolution once per shape
    clock = Clock(args.budget, device)
    reset_peak, peak = peak_tracker(device)
    size, repeats, warmup = plan["size"], plan["repeats"], plan["warmup"]
    max_batch = max(plan["batches"])
    crops = crops_for(max_batch, size, device)  # timed rows run crops[:batch]; agreement runs all, batch by batch
    codec = UDPHeatmap.for_input(size)
    report: dict[str, Any] = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
        "torch": torch.__version__, "preset": plan["preset"], "input_size": list(size), "dtype": args.dtype,
        "compile_backend": backend, "smoke": args.smoke, "rows": [], "skipped": [], "clip": None}

    def save() -> None:
        args.out.write_text(json.dumps(report, indent=1))

    parts = build_parts(plan["preset"])
    for index, scheme_name in enumerate(args.schemes):
        scheme = get_scheme(scheme_name)
        later = len(args.schemes) - index - 1
        floor = clock.left() * later / (later + 1)  # time kept for the schemes after this one
        refs = {}
        # fp32 reference on the agreement crops (ours eager; tests show it equals the official path in fp32);
        # true fp32: cuDNN would otherwise run fp32 convolutions in TF32 on Ampere and later
        torch.backends.cudnn.allow_tf32 = False
        model = ours(parts, scheme_name, device, torch.float32)
        for flip in (False, True):
            heat = batched(PoseEstimator(model, input_size=size, flip=flip).heatmaps, crops, min(8, max_batch))
            refs[flip] = (heat.cpu(), codec.decode(heat)[0].cpu())  # on the host: not in the next rows' peaks

        def row(path: str, batch: int, flip: bool, fn: Callable[[], Any], agree_fn, reserve: int | None,
                warm: int = warmup) -> None:
            reset_peak()
            seconds = clock.median_s(fn, repeats if path != "official" else plan["official_repeats"], warm)
            heat = agree_fn()
            entry = {"scheme": scheme_name, "path": path, "batch": batch, "flip": flip,
                     "crops_per_s": batch / seconds, "seconds": seconds,
                     "peak_mib": None if peak() is None else peak() / 2**20,
                     "reserve_mib": None if reserve is None else reserve / 2**20,
                     **agreement(heat.cpu(), codec.decode(heat)[0].cpu(), *refs[flip])}
            report["rows"].append(entry)
            save()
            print(f"  {scheme_name:9s} {path:9s} batch {batch:2d} flip {'on ' if flip else 'off'} "
                  f"{entry['crops_per_s']:8.2f} crops/s", flush=True)

        # ours in fp32, contiguous, eager: the baseline of the dtype/layout step (ratio eager / eager-fp32)
        est = PoseEstimator(model, input_size=size, flip=False, batch_size=min(8, max_batch))
        row("eager-fp32", est.batch_size, False, lambda: run_ours(est, crops, est.batch_size),
            lambda: batched(est.heatmaps, crops, est.batch_size), reserve_bytes(model, est.batch_size, False, size))
        del model, est
        torch.backends.cudnn.allow_tf32 = True  # PyTorch's default, which the official loop ran with

        # the official loop: fp32 weights, bf16 autocast (or fp32), batch 1, text encoder every call
        from official import official_heatmaps

        full = {k: parts[k] for k in ("unet", "vae", "text_encoder")}
        official_parts = {k: copy.deepcopy(v).to(device) for k, v in full.items()}
        head = copy.deepcopy(parts["heads"][scheme_name]).to(device)
        autocast = torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32)

        def official(x, flip):
            with autocast:
                heat = official_heatmaps(official_parts["vae"], official_parts["unet"], head, parts["tokenizer"],
                                         official_parts["text_encoder"], scheme, x.float() / 255 * 2 - 1, flip=flip)
            return heat.float()

        for flip in (False, True):
            row("official", 1, flip, lambda: codec.decode(official(crops[:1], flip)),
                lambda: batched(lambda x: official(x, flip), crops, 1), None)
        official_parts.clear()  # only this path's models were resident in its rows' peaks; now free them
        head = None
        if device.type == "cuda":
            torch.cuda.empty_cache()

        model = ours(parts, scheme_name, device, dtype)
        for batch in plan["batches"]:
            for flip in (False, True):
                est = PoseEstimator(model, input_size=size, flip=flip, batch_size=batch)
                row("eager", batch, flip, lambda: run_ours(est, crops, batch),
                    lambda: batched(est.heatmaps, crops, batch), reserve_bytes(model, batch, flip, size))
        wanted = [(b, f) for s, b, f in plan["compiled"] if s == scheme_name]
        if wanted:
            wrapper = accel.compile_model(model, backend=backend)
            compile_s = 120.0 if not args.smoke else 10.0  # first guess of one compile; then the measured one
            for batch, flip in wanted:
                if clock.left() - floor < compile_s + 30:
                    report["skipped"].append({"scheme": scheme_name, "path": "compiled", "batch": batch, "flip": flip,
                                              "why": "time budget"})
                    continue
                est = PoseEstimator(model, input_size=size, flip=flip, batch_size=batch)
                t = time.perf_counter()
                run_ours(est, crops, batch)
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                compile_s = time.perf_counter() - t
                if wrapper.failure:
                    report["compile_failure"] = wrapper.failure
                    break
                # two more untimed calls: CUDA graph trees warm up on one and capture on the next
                row("compiled", batch, flip, lambda: run_ours(est, crops, batch),
                    lambda: batched(est.heatmaps, crops, batch), reserve_bytes(model, batch, flip, size), warm=2)
                report["rows"][-1]["compile_s"] = compile_s
        if args.bucket_stream and wanted:
            report.setdefault("buckets", []).append(bucket_stream(model, scheme_name, size, args.bucket_stream,
                                                                  args.bucket_batch or max_batch, device))
            save()
        if scheme_name == args.schemes[0]:
            report["clip"] = clip_path(model, size, plan, clock, device)
            save()
        del model
        if device.type == "cuda":
            torch.cuda.empty_cache()
    save()
    print_table(report)
    return 0


def clip_path(model, size, plan: dict, clock: Clock, device) -> dict:
    """frames/s of the video path (annotate_frames: warp on the device, batches, tracking) on a synthetic clip."""
    import numpy as np
    import torch

    from sdpose_core.engine import accel
    from sdpose_core.engine.pipeline import PoseEstimator
    from sdpose_core.video.clip import annotate_frames

    w, h = plan["clip_size"]
    frames_n = plan["clip_frames"]
    rng = np.random.default_rng(0)
    base = np.kron(rng.integers(0, 256, (h // 8, w // 8, 3), dtype=np.uint8), np.ones((8, 8, 1), np.uint8))
    box = [w * 0.35, h * 0.1, w * 0.2, h * 0.8]

    def frames():
        for i in range(frames_n):
            yield np.roll(base, 4 * i, axis=1)

    batch = max(plan["batches"])
    if accel.is_compiled(model) and clock.left() < 180:  # no time to compile the last bucket's shape: eager
        model.forward = accel.eager_forward(model)
    est = PoseEstimator(model, input_size=size, flip=False, batch_size=batch)
    warm = batch + frames_n % batch  # the full batch's shape and the last, partial batch's bucket
    list(annotate_frames(est, [base] * warm, boxes=[[box]] * warm))  # warm-up (compiles those shapes)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    t = time.perf_counter()
    count = sum(1 for _ in annotate_frames(est, frames(), boxes=[[box]] * frames_n, fps=30))
    seconds = time.perf_counter() - t
    return {"frames": count, "size": [w, h], "batch": batch, "flip": False, "frames_per_s": count / seconds,
            "compiled": accel.is_compiled(model)}


def bucket_stream(model, scheme: str, size, calls: int, batch: int, device) -> dict:
    """Seconds for ``calls`` estimator calls of 1, 2, ... ``batch - 1`` people (one image each, as ComfyUI runs
    come), bucketed vs not, compiled. Unbucketed, every new count is a new shape to compile; bucketed, counts share
    the power-of-two buckets. Each setting runs the calls twice: the first pass compiles, the second is warm.
    """
    import numpy as np
    import torch

    from sdpose_core.engine.pipeline import PoseEstimator

    w, h = size
    image = np.random.default_rng(1).integers(0, 256, (h // 2, w // 2, 3), dtype=np.uint8)
    counts = [1 + i % max(1, batch - 1) for i in range(calls)]
    out = {"scheme": scheme, "calls": calls, "crops": sum(counts), "batch": batch}
    for static in (True, False):
        est = PoseEstimator(model, input_size=size, flip=False, batch_size=batch, static_batches=static)
        passes = []
        for _ in range(2):
            t = time.perf_counter()
            for n in counts:
                list(est([image], [[[4.0 + 9 * p, 3.0, w / 4, h / 3] for p in range(n)]]))
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            passes.append(time.perf_counter() - t)
        out["bucketed" if static else "unbucketed"] = {"first_s": passes[0], "warm_s": passes[1]}
    return out


def print_table(report: dict) -> None:
    """The table: one line per row, with the speed-up against the official loop of the same scheme and flip."""
    base = {(r["scheme"], r["flip"]): r["crops_per_s"] for r in report["rows"] if r["path"] == "official"}
    print(f"\n{report['device']}, torch {report['torch']}, {report['preset']} weights, "
          f"{report['input_size'][0]}x{report['input_size'][1]}, {report['dtype']}, compile backend "
          f"{report['compile_backend']}")
    print(f"{'scheme':9s} {'path':9s} {'batch':>5s} {'flip':>4s} {'crops/s':>9s} {'x official':>10s} "
          f"{'peak MiB':>9s} {'reserve MiB':>11s} {'heat err':>9s} {'kp px med':>9s}")
    for r in report["rows"]:
        ratio = r["crops_per_s"] / base[(r["scheme"], r["flip"])] if (r["scheme"], r["flip"]) in base else None
        fmt = (lambda v, spec: format(v, spec) if v is not None else "-")
        print(f"{r['scheme']:9s} {r['path']:9s} {r['batch']:5d} {'on' if r['flip'] else 'off':>4s} "
              f"{r['crops_per_s']:9.2f} {fmt(ratio, '10.2f'):>10s} {fmt(r['peak_mib'], '9.0f'):>9s} "
              f"{fmt(r['reserve_mib'], '11.0f'):>11s} {fmt(r.get('heat_rel_err'), '9.2e'):>9s} "
              f"{fmt(r.get('kp_px_median'), '9.2f'):>9s}")
    for s in report["skipped"]:
        print(f"{s['scheme']:9s} {s['path']:9s} {s['batch']:5d} {'on' if s['flip'] else 'off':>4s} skipped: {s['why']}")
    for b in report.get("buckets", []):
        on, off = b["bucketed"], b["unbucketed"]
        print(f"static buckets, {b['scheme']}, {b['calls']} calls / {b['crops']} crops, batch {b['batch']}, "
              f"compiled: first pass {on['first_s']:.1f} s vs {off['first_s']:.1f} s unbucketed, warm "
              f"{on['warm_s']:.1f} s vs {off['warm_s']:.1f} s")
    clip = report.get("clip")
    if clip:
        print(f"video clip path: {clip['frames']} frames {clip['size'][0]}x{clip['size'][1]}, batch {clip['batch']}, "
              f"{'compiled' if clip['compiled'] else 'eager'}: {clip['frames_per_s']:.2f} frames/s")
    if report.get("compile_failure"):
        print(f"compile failed, rows eager only: {report['compile_failure']}")


if __name__ == "__main__":
    sys.exit(main())
