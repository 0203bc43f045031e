"""Validation during training (``train.eval_every``): ``train.evaluate``'s own evaluation of the live model.

The arguments are built with ``train.evaluate``'s parser from the ``val`` section, and ``train.evaluate.evaluate``
runs them on the model being trained (no copy, no checkpoint round trip): the same boxes, crops, flip test,
batches split over all processes, rescoring, OKS-NMS and pycocotools metrics as ``python -m train.evaluate``
on a saved checkpoint, so the figures are the ones that command would print for it.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

from .config import Config, ConfigError


def eval_args(cfg: Config) -> argparse.Namespace:
    """``python -m train.evaluate`` arguments for the configured validation set (the model is passed in memory)."""
    from .evaluate import build_parser

    w, h = cfg.data.input_size
    argv = ["--ann", cfg.val.ann, "--scheme", cfg.scheme, "--model", "(the model being trained)",
            "--images", cfg.val.images, "--input-size", f"{w}x{h}", "--batch-size", str(cfg.val.batch_size),
            "--box-thr", str(cfg.val.box_thr)]
    if cfg.val.boxes:
        argv += ["--boxes", cfg.val.boxes]
    if cfg.val.flip:
        argv.append("--flip")
    return build_parser().parse_args(argv)


def check_validation_set(args: argparse.Namespace) -> int:
    """Fail before training, not at the first evaluation: the files must pass the checks ``train.evaluate`` makes
    and give person boxes. Returns the number of boxes."""
    from .eval_inputs import check_annotations, read_json_file
    from .evaluate import person_boxes
    from .metrics import EvalError

    try:
        gt = read_json_file(Path(args.ann), "val.ann annotation file")
        check_annotations(gt, Path(args.ann), args.scheme, files=True)
        boxes = person_boxes(gt, args.scheme, args.boxes, args.box_thr)
    except EvalError as exc:
        raise ConfigError(f"Validation set (val.ann / val.boxes): {exc}") from exc
    if not boxes:
        raise ConfigError(f"Validation set '{args.ann}' gives no person boxes to evaluate; check val.ann and "
                          "val.boxes.")
    first = Path(args.images) / boxes[0]["file_name"]
    if not first.is_file():
        raise ConfigError(f"Validation image '{first}' does not exist; val.images must be the folder the "
                          "annotation's file_name entries are relative to.")
    return len(boxes)


def check_replicated(accelerator) -> None:
    """Validation runs the unwrapped modules on every process: their weights must be whole there (or gathered)."""
    from accelerate.utils import DistributedType

    state = accelerator.state
    if state.distributed_type == DistributedType.DEEPSPEED and state.deepspeed_plugin.zero_stage == 3:
        raise ConfigError("train.eval_every does not run under DeepSpeed ZeRO-3 (weights partitioned); use ZeRO-2, "
                          "or evaluate saved checkpoints with python -m train.evaluate.")
    if state.distributed_type == DistributedType.FSDP and getattr(state.fsdp_plugin, "fsdp_version", 1) != 1:
        raise ConfigError("train.eval_every under FSDP needs fsdp_version 1 (configs/accelerate/fsdp_8gpu.yaml); "
                          "or evaluate saved checkpoints with python -m train.evaluate.")


@contextlib.contextmanager
def full_weights(accelerator, model) -> Iterator[None]:
    """The whole weights on every process while validating: FSDP (v1) gathers its shards; DDP and DeepSpeed
    ZeRO-2 keep whole weights already."""
    from accelerate.utils import DistributedType

    if accelerator.state.distributed_type == DistributedType.FSDP:
        from torch.distributed.fsdp import FullyShardedDataParallel

        with FullyShardedDataParallel.summon_full_params(model, writeback=False):
            yield
    else:
        yield


def run_validation(accelerator, model, args: argparse.Namespace, step: int) -> dict:
    """Evaluate the model being trained; every process calls this and gets the same report (with ``step``)."""
    import torch
    from accelerate.utils import broadcast_object_list

    from .evaluate import evaluate

    inner = accelerator.unwrap_model(model)
    was_training = inner.training
    inner.eval()
    t0 = time.time()
    try:
        with full_weights(accelerator, model), torch.no_grad():
            report = evaluate(args, model=inner.pose_model())
    finally:
        inner.train(was_training)
    report = broadcast_object_list([report])[0]
    return {**report, "step": step, "seconds": time.time() - t0}


def metrics_record(report: dict, epoch: float) -> dict:
    """A metrics.jsonl line: ``val_AP`` ... ``val_ARl`` of the primary part (body / whole), and for wholebody
    ``val_<part>_AP`` / ``val_<part>_AR`` of each part."""
    from .metrics import STAT_NAMES

    record = {"step": report["step"], "epoch": epoch, **{f"val_{name}": report[name] for name in STAT_NAMES}}
    if report["scheme"] == "wholebody":
        for part, stats in report["parts"].items():
            if part != "whole":
                record.update({f"val_{part}_AP": stats["AP"], f"val_{part}_AR": stats["AR"]})
    record["eval_seconds"] = report["seconds"]
    return record
