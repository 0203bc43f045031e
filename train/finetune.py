"""SDPose fine-tuning: ``python -m train.finetune --config CONFIG.yaml [section.key=value ...]``.

One entry point for a CPU, one GPU, many GPUs and many nodes: run it directly, or under
``accelerate launch [--config_file configs/accelerate/....yaml] -m train.finetune ...`` for DDP, FSDP
or DeepSpeed. Method (paper §4.3, §5.1, appendix A): frozen VAE; U-Net and heatmap head trained; one
U-Net pass at t = 999 per task; the pose task (class label [1, 0]) regresses UDP Gaussian heatmaps
(MSE with target weights), the RGB-reconstruction task (class label [0, 1]) regresses the latent of the
crop before blur/dropout (MSE); AdamW, lr 3e-5. With ``train.eval_every``, the model is evaluated on the
``val`` set during training (``train.validate``) and the best ``train.keep_best`` by AP are kept.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from sdpose_core.atomic import write_text

from .config import Config, ConfigError, load_config


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m train.finetune", description="Fine-tune SDPose (body or wholebody).")
    p.add_argument("--config", type=Path, help="YAML config (see configs/train/); defaults are the paper's recipe")
    p.add_argument("overrides", nargs="*", metavar="section.key=value",
                   help="config overrides, e.g. train.batch_size=8 data.num_workers=4")
    p.add_argument("--output-dir", help="shortcut for train.output_dir=...")
    p.add_argument("--resume", default="auto", help="'auto' (newest complete checkpoint in the output folder, "
                   "if any), 'none', or a checkpoint folder")
    p.add_argument("--stop-after", type=int, default=None, metavar="STEPS",
                   help="stop once this many optimizer steps are done, without a final checkpoint "
                   "(simulates an interruption; resume with the same command)")
    return p


def _worker_init(_: int) -> None:
    """One thread per data worker: the workers are the parallelism (no oversubscription)."""
    import cv2

    torch.set_num_threads(1)
    cv2.setNumThreads(1)


def _append_metrics(path: Path, record: dict) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(record) + "\n")


def _truncate_metrics(path: Path, step: int) -> None:
    """Drop metrics lines past ``step`` (written by a run that was interrupted after its last checkpoint)."""
    if not path.is_file():
        return
    keep = [line for line in path.read_text().splitlines() if line.strip() and json.loads(line).get("step", 0) <= step]
    write_text(path, "".join(line + "\n" for line in keep))


def train(cfg: Config, resume: str = "auto", stop_after: int | None = None) -> dict:
    """Run (or resume) training; returns a summary dict. Every process of a launch calls this."""
    from accelerate import Accelerator
    from accelerate.utils import DistributedDataParallelKwargs, ProjectConfiguration
    from tqdm.auto import tqdm

    from sdpose_core.engine.codec import UDPHeatmap

    from .checkpoint import TrainState, latest_checkpoint, restore_best, save_best, save_checkpoint, save_release
    from .data import EpochBatchSampler, TopDownDataset, load_instances
    from .model import SDPoseTrainModel, heatmap_loss, latent_loss, load_start
    from .schedule import build_scheduler
    from .validate import check_replicated, check_validation_set, eval_args, metrics_record, run_validation

    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    output_dir = Path(cfg.train.output_dir)
    use_rgb = cfg.loss.rgb_weight > 0
    accelerator = Accelerator(
        mixed_precision=cfg.train.mixed_precision,
        gradient_accumulation_steps=cfg.train.grad_accum,
        log_with="tensorboard" if cfg.train.tensorboard else None,
        project_config=ProjectConfiguration(project_dir=str(output_dir), logging_dir=str(output_dir / "logs")),
        kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=not use_rgb)],
    )
    rank, world = accelerator.process_index, accelerator.num_processes
    if accelerator.is_main_process:
        output_dir.mkdir(parents=True, exist_ok=True)
        (output_dir / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2))
    accelerator.wait_for_everyone()
    val_args = None
    if cfg.train.eval_every:
        check_replicated(accelerator)
        val_args = eval_args(cfg)
        check_validation_set(val_args)

    # Model: the same seed on every process, so new weights (class embedding, head) start identical.
    parts = load_start(cfg.model.init, cfg.scheme, reset_head=cfg.model.reset_head, seed=cfg.train.seed,
                       cache_dir=cfg.model.cache_dir)
    model = SDPoseTrainModel(parts.unet, parts.head, parts.vae, parts.context, cfg.scheme, cfg.model.vae_chunk)
    if cfg.model.gradient_checkpointing:
        model.unet.enable_gradient_checkpointing()
    model.train()

    dataset = TopDownDataset(load_instances(cfg.data.train_ann, cfg.scheme), cfg.data.train_images, cfg.scheme,
                             cfg.data.input_size, cfg.augment, seed=cfg.train.seed, sigma=cfg.data.sigma,
                             min_keypoints=cfg.data.min_keypoints)
    per_epoch = EpochBatchSampler.batches_per_epoch(len(dataset), cfg.train.batch_size, world)
    if per_epoch < 1:
        raise ConfigError(f"{len(dataset)} training instances cannot fill one global batch of "
                          f"{cfg.train.batch_size} x {world} processes; lower train.batch_size.")
    total_steps = cfg.train.max_steps or (cfg.train.epochs * per_epoch) // cfg.train.grad_accum
    total_micro = total_steps * cfg.train.grad_accum

    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.optim.lr, betas=cfg.optim.betas, eps=cfg.optim.eps,
                                  weight_decay=cfg.optim.weight_decay)
    scheduler = build_scheduler(optimizer, cfg.optim, total_steps)
    if accelerator.state.deepspeed_plugin is not None:  # no dataloader goes through prepare(): say the batch size
        ds_config = accelerator.state.deepspeed_plugin.deepspeed_config
        if ds_config.get("train_micro_batch_size_per_gpu", "auto") == "auto":
            ds_config["train_micro_batch_size_per_gpu"] = cfg.train.batch_size
    model, optimizer = accelerator.prepare(model, optimizer)
    if accelerator.gradient_accumulation_steps != cfg.train.grad_accum:
        raise ConfigError("The launcher's config sets gradient accumulation to "
                          f"{accelerator.gradient_accumulation_steps} but train.grad_accum is {cfg.train.grad_accum}; "
                          "leave it out of the accelerate config.")
    state = TrainState()
    accelerator.register_for_checkpointing(scheduler, state)  # stepped by us once per optimizer step

    metrics_path = output_dir / "metrics.jsonl"
    start = None if resume == "none" else (latest_checkpoint(output_dir) if resume == "auto" else Path(resume))
    if start is not None:
        accelerator.load_state(str(start))
        accelerator.step = state.micro_step  # accumulation boundaries continue where they were
        if accelerator.is_main_process:
            _truncate_metrics(metrics_path, state.step)
            print(f"Resumed from {start} at step {state.step} (micro-batch {state.micro_step}).", flush=True)
    elif accelerator.is_main_process and metrics_path.exists():
        metrics_path.unlink()
    restore_best(accelerator, output_dir, state)
    if cfg.train.tensorboard:
        accelerator.init_trackers("sdpose")

    inner: SDPoseTrainModel = accelerator.unwrap_model(model)
    codec = UDPHeatmap.for_input(tuple(cfg.data.input_size), sigma=cfg.data.sigma)
    device = accelerator.device
    progress = tqdm(total=total_steps, initial=state.step, desc="SDPose train", unit="step",
                    disable=not accelerator.is_local_main_process, dynamic_ncols=True)
    # loss, heatmap loss, rgb loss summed over the micro-batches since the last metrics line
    sums = torch.tensor(state.loss_sums, device=device, dtype=torch.float32)
    count, t_log = state.loss_count, time.time()
    last_saved = state.step if start is not None else -1
    summary = {"total_steps": total_steps, "per_epoch_batches": per_epoch, "num_instances": len(dataset)}

    while state.micro_step < total_micro:
        epoch, first = divmod(state.micro_step, per_epoch)
        sampler = EpochBatchSampler(len(dataset), cfg.train.batch_size, epoch, cfg.train.seed, rank, world, first)
        loader = torch.utils.data.DataLoader(dataset, batch_sampler=sampler, num_workers=cfg.data.num_workers,
                                             pin_memory=device.type == "cuda", worker_init_fn=_worker_init)
        for batch in loader:
            gen = torch.Generator(device=device).manual_seed(
                (cfg.train.seed * 1_000_003 + state.micro_step * 7919 + rank) % (2 ** 63))
            with accelerator.accumulate(model):
                pixels = batch["pixels"].to(device, non_blocking=True).float() / 127.5 - 1.0
                with accelerator.autocast():
                    latents = inner.encode(pixels, cfg.model.sample_latent, gen)
                    if use_rgb:
                        target_rgb = batch["target_rgb"].to(device, non_blocking=True).float() / 127.5 - 1.0
                        target_latent = inner.encode(target_rgb, cfg.model.sample_latent, gen)
                heat_target, weights = codec.encode(batch["keypoints"].to(device), batch["visible"].to(device))
                heatmaps, rgb_pred = model(latents.detach(), rgb=use_rgb)
                loss_hm = heatmap_loss(heatmaps, heat_target, weights)
                loss_rgb = latent_loss(rgb_pred, target_latent) if use_rgb else torch.zeros((), device=device)
                loss = cfg.loss.heatmap_weight * loss_hm + cfg.loss.rgb_weight * loss_rgb
                accelerator.backward(loss)
                if accelerator.sync_gradients and cfg.optim.max_grad_norm:
                    accelerator.clip_grad_norm_(model.parameters(), cfg.optim.max_grad_norm)
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
            sums += torch.stack([loss.detach().float(), loss_hm.detach().float(), loss_rgb.detach().float()])
            count += 1
            state.micro_step += 1
            if not accelerator.sync_gradients:
                continue
            lr = scheduler.get_last_lr()[0]  # the rate this step used
            scheduler.step()
            state.step += 1
            progress.update(1)
            if state.step % cfg.train.log_every == 0 or state.step == total_steps:
                mean = accelerator.reduce(sums / count, reduction="mean").tolist()
                if accelerator.is_main_process:
                    now = time.time()
                    record = {"step": state.step, "epoch": state.micro_step / per_epoch, "loss": mean[0],
                              "loss_heatmap": mean[1], "loss_rgb": mean[2], "lr": lr,
                              "samples_per_s": count * cfg.train.batch_size * world / max(now - t_log, 1e-9)}
                    _append_metrics(metrics_path, record)
                    progress.set_postfix(loss=f"{mean[0]:.4g}", hm=f"{mean[1]:.3g}", rgb=f"{mean[2]:.3g}")
                    if cfg.train.tensorboard:
                        accelerator.log({k: v for k, v in record.items() if k != "step"}, step=state.step)
                sums.zero_()
                count, t_log = 0, time.time()
            if cfg.train.eval_every and (state.step % cfg.train.eval_every == 0 or state.step == total_steps):
                report = run_validation(accelerator, model, val_args, state.step)
                t_log += report["seconds"]  # evaluation time is not training throughput
                if accelerator.is_main_process:
                    record = metrics_record(report, state.micro_step / per_epoch)
                    _append_metrics(metrics_path, record)
                    if cfg.train.tensorboard:
                        accelerator.log({k: v for k, v in record.items() if k != "step"}, step=state.step)
                if cfg.train.keep_best:
                    save_best(accelerator, model, parts, output_dir, state, report, cfg.train.keep_best)
            if state.step % cfg.train.save_every == 0 or state.step == total_steps:
                # the running loss sums become every process's mean, as a resumed run will see them
                sums = accelerator.reduce(sums, reduction="mean")
                state.loss_sums, state.loss_count = tuple(sums.tolist()), count
                save_checkpoint(accelerator, model, parts, output_dir, state, cfg.train.save_release,
                                cfg.train.keep_checkpoints, {"epoch": state.micro_step / per_epoch})
                last_saved = state.step
            if stop_after is not None and state.step >= stop_after:
                progress.close()
                accelerator.wait_for_everyone()
                summary.update(step=state.step, stopped=True)
                return summary
            if state.micro_step >= total_micro:
                break

    progress.close()
    if last_saved != state.step and state.step > 0:
        save_checkpoint(accelerator, model, parts, output_dir, state, cfg.train.save_release,
                        cfg.train.keep_checkpoints)
    save_release(accelerator, model, parts, output_dir / "model")
    accelerator.wait_for_everyone()
    if cfg.train.tensorboard:
        accelerator.end_training()
    summary.update(step=state.step, stopped=False, model=str(output_dir / "model"))
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    overrides = list(args.overrides)
    if args.output_dir:
        overrides.append(f"train.output_dir={args.output_dir}")
    try:
        cfg = load_config(args.config, overrides)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not cfg.model.init or not cfg.data.train_ann:
        print("error: model.init and data.train_ann must be set (in the config or as overrides).", file=sys.stderr)
        return 2
    summary = train(cfg, resume=args.resume, stop_after=args.stop_after)
    if os.environ.get("RANK", "0") == "0":
        print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
