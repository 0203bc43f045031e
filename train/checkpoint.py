"""Training checkpoints: exact-resume state (accelerate) plus the model in the official release layout.

``OUTPUT/checkpoint-00001000/`` holds accelerate's state (model, optimizer, per-process RNG, the LR
scheduler and ``TrainState``: optimizer step and data position), ``sdpose/`` (unet/ vae/ decoder/
scheduler/ tokenizer/ text_encoder/, loadable by ``sdpose_core.load_model`` as it is) and ``COMPLETE``.
Everything is written into ``.checkpoint-00001000.tmp`` first and renamed into place by the main
process once every process has finished writing, so a crash never leaves a checkpoint that looks
complete. Multi-node runs need ``output_dir`` on a filesystem all nodes share.

With ``train.eval_every``, the best evaluations by AP also keep the model: ``OUTPUT/best-00001000/`` holds
``sdpose/`` (the release layout) and ``EVAL.json`` (the evaluation's report), written the same atomic way;
``OUTPUT/best.json`` ranks them. The ranking is part of ``TrainState``, so a resumed run keeps comparing
against the best-so-far of the checkpoint it resumed from.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from sdpose_core.atomic import publish, write_text

from .model import SDPoseTrainModel, StartParts

CHECKPOINT_RE = re.compile(r"^checkpoint-(\d+)$")
BEST_RE = re.compile(r"^best-(\d+)$")
RELEASE_DIR = "sdpose"


@dataclass
class TrainState:
    """Where training stands; saved and restored with the checkpoint (accelerate custom object)."""

    step: int = 0  # optimizer steps done
    micro_step: int = 0  # micro-batches consumed (per process), i.e. the data position
    loss_sums: tuple[float, float, float] = (0.0, 0.0, 0.0)  # losses since the last metrics line (all processes)
    loss_count: int = 0  # micro-batches in ``loss_sums``
    best: list[tuple[float, int]] = field(default_factory=list)  # kept evaluations (AP, step), best first

    def state_dict(self) -> dict:
        return asdict(self)

    def load_state_dict(self, state: dict) -> None:
        self.step, self.micro_step = int(state["step"]), int(state["micro_step"])
        self.loss_sums = tuple(float(v) for v in state.get("loss_sums", (0.0, 0.0, 0.0)))
        self.loss_count = int(state.get("loss_count", 0))
        self.best = [(float(ap), int(step)) for ap, step in state.get("best", [])]


def checkpoint_dir(output_dir: Path, step: int) -> Path:
    return output_dir / f"checkpoint-{step:08d}"


def list_checkpoints(output_dir: Path) -> list[tuple[int, Path]]:
    """Complete checkpoints (those with a COMPLETE marker), oldest first."""
    found = []
    if output_dir.is_dir():
        for p in output_dir.iterdir():
            m = CHECKPOINT_RE.match(p.name)
            if m and (p / "COMPLETE").is_file():
                found.append((int(m.group(1)), p))
    return sorted(found)


def latest_checkpoint(output_dir: Path) -> Path | None:
    found = list_checkpoints(output_dir)
    return found[-1][1] if found else None


def save_release(accelerator, model, parts: StartParts, folder: Path) -> None:
    """Write the trained U-Net and head, with the starting VAE, tokenizer and text encoder, in the official
    layout (``sdpose_core.weights.export.save_folder``: atomic). Every process must call this (FSDP/DeepSpeed gather
    the full weights collectively); only the main process writes."""
    from diffusers import UNet2DConditionModel

    from sdpose_core.engine.head import HeatmapHead
    from sdpose_core.weights.export import save_folder

    state = accelerator.get_state_dict(model)
    if accelerator.is_main_process:
        inner: SDPoseTrainModel = accelerator.unwrap_model(model)
        with torch.device("meta"):
            unet = UNet2DConditionModel.from_config(inner.unet.config)
            head = HeatmapHead(inner.head.in_channels, inner.head.num_keypoints)
        cpu = {k: v.detach().to("cpu", torch.float32) for k, v in state.items()}
        unet.load_state_dict({k[5:]: v for k, v in cpu.items() if k.startswith("unet.")}, strict=True, assign=True)
        head.load_state_dict({k[5:]: v for k, v in cpu.items() if k.startswith("head.")}, strict=True, assign=True)
        save_folder(folder, unet, parts.vae, head, parts.text_encoder, parts.tokenizer, overwrite=True)
    del state


def _staging_dir(accelerator, final: Path) -> Path:
    """A fresh hidden ``.<name>.tmp`` beside ``final`` (made by the main process, seen by all), renamed when done."""
    tmp = final.with_name(f".{final.name}.tmp")
    if accelerator.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    accelerator.wait_for_everyone()
    return tmp


def save_checkpoint(accelerator, model, parts: StartParts, output_dir: Path, state: TrainState,
                    release: bool, keep: int, extra: dict | None = None) -> Path:
    """Atomically write ``checkpoint-<step>`` (see the module docstring); prune to the newest ``keep``."""
    final = checkpoint_dir(output_dir, state.step)
    tmp = _staging_dir(accelerator, final)
    accelerator.save_state(str(tmp))
    if release:
        save_release(accelerator, model, parts, tmp / RELEASE_DIR)
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        info = {"step": state.step, "micro_step": state.micro_step, **(extra or {})}
        (tmp / "COMPLETE").write_text(json.dumps(info, indent=2))
        publish(tmp, final)
        if keep > 0:
            for _, old in list_checkpoints(output_dir)[:-keep]:
                shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()
    return final


# ------------------------------------------------------------------------------------- best evaluations

def best_dir(output_dir: Path, step: int) -> Path:
    return output_dir / f"best-{step:08d}"


def rank_best(record: list[tuple[float, int]], ap: float, step: int, keep: int) -> list[tuple[float, int]]:
    """``record`` with the evaluation (ap, step) added, best first (higher AP; the earlier step on a tie),
    cut to ``keep``."""
    return sorted([*record, (float(ap), int(step))], key=lambda e: (-e[0], e[1]))[:keep]


def _write_best_json(output_dir: Path, record: list[tuple[float, int]]) -> None:
    entries = [{"step": step, "AP": ap, "model": str(best_dir(output_dir, step) / RELEASE_DIR)} for ap, step in record]
    write_text(output_dir / "best.json", json.dumps({"metric": "AP", "best": entries}, indent=2))


def _remove_unlisted_best(output_dir: Path, record: list[tuple[float, int]]) -> None:
    listed = {step for _, step in record}
    for p in output_dir.iterdir():
        m = BEST_RE.match(p.name)
        stale_tmp = p.name.startswith(".best-") and p.name.endswith(".tmp")
        if stale_tmp or (m and int(m.group(1)) not in listed):
            shutil.rmtree(p, ignore_errors=True)


def restore_best(accelerator, output_dir: Path, state: TrainState) -> None:
    """Make the best-so-far record and the ``best-*`` folders agree after (re)starting: entries whose folder is
    gone are dropped; folders the record does not list (written after the checkpoint resumed from, or by an
    earlier run in this folder) are removed. Every process calls this."""
    state.best = [(ap, step) for ap, step in state.best if (best_dir(output_dir, step) / "EVAL.json").is_file()]
    accelerator.wait_for_everyone()
    if accelerator.is_main_process and output_dir.is_dir():
        _remove_unlisted_best(output_dir, state.best)
        if state.best or (output_dir / "best.json").exists():
            _write_best_json(output_dir, state.best)
    accelerator.wait_for_everyone()


def save_best(accelerator, model, parts: StartParts, output_dir: Path, state: TrainState, report: dict,
              keep: int) -> bool:
    """Keep this evaluation's model if its AP ranks among the best ``keep`` (see the module docstring); the
    ones it pushes out are removed. Every process calls this (``save_release`` gathers sharded weights)."""
    record = rank_best(state.best, report["AP"], state.step, keep)
    if (float(report["AP"]), state.step) not in record:
        return False
    final = best_dir(output_dir, state.step)
    tmp = _staging_dir(accelerator, final)
    save_release(accelerator, model, parts, tmp / RELEASE_DIR)
    if accelerator.is_main_process:
        (tmp / "EVAL.json").write_text(json.dumps(report, indent=2))
        publish(tmp, final)
        _remove_unlisted_best(output_dir, record)
        _write_best_json(output_dir, record)
    state.best = record
    accelerator.wait_for_everyone()
    return True
