"""Fine-tuning end to end on CPU: learning, exact resume, SD2 start, two-process (gloo) training and evaluation."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from train import evaluate as ev
from train.config import load_config
from train.finetune import train

ROOT = Path(__file__).resolve().parents[2]


def overrides(init, data, out, **extra) -> list[str]:
    base = {
        "model.init": init, "data.train_ann": data["train_ann"], "data.train_images": data["train_images"],
        "data.input_size": "[64, 64]", "data.sigma": 1.5, "data.num_workers": 0, "train.batch_size": 4,
        "train.mixed_precision": "no", "train.log_every": 1, "train.output_dir": out, "train.threads": 1,
        "model.gradient_checkpointing": "false",
    }
    base.update(extra)
    return [f"{k}={v}" for k, v in base.items()]


def metrics_lines(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def evaluate_ap(model: Path, data: dict, cache: Path, *extra: str) -> dict:
    args = ev.build_parser().parse_args(["--ann", str(data["val_ann"]), "--scheme", "body", "--model", str(model),
                                         "--images", str(data["val_images"]), "--flip", "--input-size", "64x64",
                                         "--cache-dir", str(cache), *extra])
    return ev.evaluate(args)


def test_training_raises_ap_far_above_untrained(micro_body, synthetic_body, tmp_path, cache):
    """A micro model trained 200 steps (lighter geometric augmentation, RGB task at weight 0.1) goes from
    AP 0 to well above it on held-out synthetic figures; the checkpoint loads in sdpose_core as it is."""
    torch.set_num_threads(1)
    before = evaluate_ap(micro_body, synthetic_body, cache)
    out = tmp_path / "run"
    cfg = load_config(None, overrides(micro_body, synthetic_body, out, **{
        "train.batch_size": 8, "train.max_steps": 200, "train.save_every": 200, "train.log_every": 10,
        "optim.lr": 2e-3, "loss.rgb_weight": 0.1, "augment.bbox.rotate_prob": 0.0, "augment.dropout_prob": 0.0,
        "augment.half_body.prob": 0.0, "augment.bbox.scale_factor": "[0.8, 1.2]"}))
    t0 = time.time()
    summary = train(cfg, resume="none")
    seconds = time.time() - t0
    after = evaluate_ap(out / "model", synthetic_body, cache)
    lines = metrics_lines(out)
    print(f"\nAP before {before['AP']:.3f} after {after['AP']:.3f}; AR {before['AR']:.3f} -> {after['AR']:.3f}; "
          f"200 steps in {seconds:.1f} s; heatmap loss {lines[0]['loss_heatmap']:.4f} -> "
          f"{lines[-1]['loss_heatmap']:.4f}")
    assert summary["step"] == 200 and len(lines) == 20
    assert before["AP"] < 0.05
    assert after["AP"] > 0.25 and after["AP"] > before["AP"] + 0.2
    assert lines[-1]["loss_heatmap"] < 0.5 * lines[0]["loss_heatmap"]
    ckpt = out / "checkpoint-00000200"
    assert (ckpt / "COMPLETE").is_file() and (ckpt / "sdpose" / "decoder" / "decoder.safetensors").is_file()
    assert load_file(ckpt / "sdpose" / "decoder" / "decoder.safetensors").keys() == \
        load_file(out / "model" / "decoder" / "decoder.safetensors").keys()


def test_resume_reproduces_the_uninterrupted_run(micro_body, synthetic_body, tmp_path):
    """Full official augmentation, VAE sampling, accumulation 2, cosine schedule with warmup: a run stopped
    after step 6 (last checkpoint at 4) and resumed gives the uninterrupted run's losses and weights."""
    torch.set_num_threads(1)
    extra = {"train.max_steps": 8, "train.save_every": 4, "train.grad_accum": 2, "train.keep_checkpoints": 0,
             "optim.lr": 1e-3, "optim.lr_scheduler": "cosine", "optim.warmup_steps": 2, "train.save_release": "false"}
    a, b = tmp_path / "a", tmp_path / "b"
    train(load_config(None, overrides(micro_body, synthetic_body, a, **extra)), resume="none")
    cfg_b = load_config(None, overrides(micro_body, synthetic_body, b, **extra))
    stopped = train(cfg_b, resume="auto", stop_after=6)
    assert stopped["stopped"] and [p.name for p in sorted(b.glob("checkpoint-*"))] == ["checkpoint-00000004"]
    (b / ".checkpoint-00000006.tmp").mkdir()  # a checkpoint being written when the "crash" hit: ignored
    (b / "checkpoint-00000005").mkdir()  # no COMPLETE marker: ignored
    assert len(metrics_lines(b)) == 6
    train(cfg_b, resume="auto")
    la, lb = metrics_lines(a), metrics_lines(b)
    assert [r["step"] for r in lb] == list(range(1, 9))
    for ra, rb in zip(la, lb):
        for key in ("loss", "loss_heatmap", "loss_rgb", "lr", "epoch"):
            assert rb[key] == pytest.approx(ra[key], rel=1e-6, abs=1e-9), (ra["step"], key)
    wa = load_file(a / "model" / "unet" / "diffusion_pytorch_model.safetensors")
    wb = load_file(b / "model" / "unet" / "diffusion_pytorch_model.safetensors")
    assert max((wa[k] - wb[k]).abs().max().item() for k in wa) < 1e-6
    assert len(la) == 8 and la[0]["lr"] < la[1]["lr"]  # warmup


def test_start_from_sd2_folder_wholebody_cli_bf16(tmp_path, cache):
    """``python -m train.finetune --config X.yaml`` from an SD2-layout folder (no class embedding, no head,
    v-prediction scheduler), wholebody scheme, bf16 autocast and gradient checkpointing: the result is a
    wholebody SDPose checkpoint that sdpose_core loads, with the projection class embedding and a
    133-keypoint head on up_blocks[2]."""
    import yaml
    from micro import write_sd2_like_folder
    from synth import make_dataset

    from sdpose_core.weights.checkpoint import load_model

    sd2 = write_sd2_like_folder(tmp_path / "sd2")
    ann, images = make_dataset(tmp_path / "wb", 6, seed=4, wholebody=True)
    out = tmp_path / "run"
    config = {"scheme": "wholebody", "model": {"init": str(sd2), "gradient_checkpointing": True},
              "data": {"train_ann": str(ann), "train_images": str(images), "input_size": [64, 64], "sigma": 1.5,
                       "num_workers": 1},
              "train": {"batch_size": 4, "max_steps": 2, "save_every": 2, "mixed_precision": "bf16", "threads": 1,
                        "log_every": 1}}
    (tmp_path / "wb.yaml").write_text(yaml.safe_dump(config))
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf"))
    proc = subprocess.run([sys.executable, "-m", "train.finetune", "--config", str(tmp_path / "wb.yaml"),
                           "--output-dir", str(out)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1])["step"] == 2
    assert all(r["loss_rgb"] > 0 and r["loss_heatmap"] > 0 for r in metrics_lines(out))
    model = load_model(out / "model", "wholebody", cache=cache)
    assert model.scheme.name == "wholebody" and model.head.num_keypoints == 133
    unet_cfg = json.loads((out / "model" / "unet" / "config.json").read_text())
    assert unet_cfg["class_embed_type"] == "projection" and unet_cfg["projection_class_embeddings_input_dim"] == 4
    sched = json.loads((out / "model" / "scheduler" / "scheduler_config.json").read_text())
    assert sched["prediction_type"] == "sample"
    with torch.no_grad():
        heat = model(torch.zeros(1, 3, 64, 64))
    assert heat.shape == (1, 133, 16, 16)


def test_shipped_configs_parse():
    from accelerate.commands.config.config_args import load_config_from_file

    for path in sorted((ROOT / "configs" / "train").glob("*.yaml")):
        cfg = load_config(path)
        assert cfg.optim.lr == 3e-5 and cfg.train.batch_size * 8 == 128 and cfg.data.input_size == (768, 1024)
    kinds = {p.stem: str(load_config_from_file(str(p)).distributed_type).split(".")[-1]
             for p in (ROOT / "configs" / "accelerate").glob("*.yaml")}
    assert kinds == {"ddp_8gpu": "MULTI_GPU", "ddp_2nodes_8gpu": "MULTI_GPU", "fsdp_8gpu": "FSDP",
                     "deepspeed_zero2_8gpu": "DEEPSPEED"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch(args: list[str], nproc: int, tmp_path: Path) -> subprocess.CompletedProcess:
    """``accelerate launch`` on CPU: torchrun-style processes, gloo (ACCELERATE_USE_CPU selects MULTI_CPU)."""
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT), ACCELERATE_USE_CPU="true",
               HF_HOME=str(tmp_path / "hf"),
               HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(nproc),
           "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
           "--main_process_port", str(_free_port()), *args]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def test_two_process_gloo_training_and_evaluation(micro_body, synthetic_body, tmp_path, cache):
    """``accelerate launch`` with 2 CPU processes (gloo): DDP training equals one process with the same global
    batch, validation during training runs on both processes and keeps its best, and 2-process evaluation gives
    exactly the single-process results and metrics."""
    common = overrides(micro_body, synthetic_body, "", **{"train.max_steps": 3, "train.save_every": 3,
                                                          "model.sample_latent": "false", "optim.lr": 1e-3,
                                                          "train.eval_every": 3, "val.ann": synthetic_body["val_ann"],
                                                          "val.images": synthetic_body["val_images"],
                                                          "val.flip": "false", "val.batch_size": 3})
    common = [o for o in common if not o.startswith(("train.output_dir", "train.batch_size"))]
    two, one = tmp_path / "two", tmp_path / "one"
    _launch(["-m", "train.finetune", *common, "train.batch_size=2", f"train.output_dir={two}"], 2, tmp_path)
    torch.set_num_threads(1)
    # one process, same global batch
    train(load_config(None, [*common, "train.batch_size=4", f"train.output_dir={one}"]))
    for r2, r1 in zip(metrics_lines(two), metrics_lines(one), strict=True):
        if "val_AP" in r1:  # validation: the same boxes, all evaluated, split over the two processes
            assert r2["step"] == r1["step"] == 3 and r2["val_AR"] == pytest.approx(r1["val_AR"], abs=0.02)
            eval2, eval1 = (json.loads((d / "best-00000003" / "EVAL.json").read_text()) for d in (two, one))
            assert eval2["num_results"] == eval1["num_results"] > 0
            assert (two / "best-00000003" / "sdpose" / "decoder" / "decoder.safetensors").is_file()
        else:
            assert r2["loss"] == pytest.approx(r1["loss"], rel=1e-4)
    assert [r["step"] for r in metrics_lines(two) if "val_AP" in r] == [3]
    ckpt = two / "checkpoint-00000003"
    assert (ckpt / "random_states_0.pkl").is_file() and (ckpt / "random_states_1.pkl").is_file()

    def run_eval(nproc: int, tag: str) -> tuple[dict, list]:
        metrics, results = tmp_path / f"m{tag}.json", tmp_path / f"r{tag}.json"
        args = ["--ann", str(synthetic_body["val_ann"]), "--scheme", "body", "--model", str(two / "model"),
                "--images", str(synthetic_body["val_images"]), "--flip", "--input-size", "64x64", "--batch-size", "3",
                "--cache-dir", str(cache), "--metrics-out", str(metrics), "--results-out", str(results)]
        if nproc == 1:
            assert ev.main(args) == 0
        else:
            _launch(["-m", "train.evaluate", *args], nproc, tmp_path)
        return json.loads(metrics.read_text()), json.loads(results.read_text())

    m2, r2 = run_eval(2, "2")
    m1, r1 = run_eval(1, "1")
    key = lambda r: (r["image_id"], r["keypoints"][:2])  # noqa: E731
    assert sorted(r2, key=key) == sorted(r1, key=key)
    assert m2["parts"] == m1["parts"] and m1["num_results"] > 0
