"""Learning-rate schedules.

The paper's recipe is a constant rate (AdamW, 3e-5): ``constant``, the default. ``cosine`` (to zero at the last
step) and ``step`` (times ``lr_gamma`` after each of ``lr_milestones`` optimizer steps, mmpose's MultiStepLR
counted in steps) are options of ours, not part of the paper's recipe; so are diffusers' other schedules.
Every schedule starts with ``warmup_steps`` of linear warm-up from 0, as diffusers' (none by default).
"""

from __future__ import annotations

import bisect
from functools import partial

import torch

from .config import OptimConfig

# diffusers.optimization names usable without extra arguments, plus our multi-step decay.
SCHEDULES = ("constant", "cosine", "step", "linear", "cosine_with_restarts", "polynomial", "constant_with_warmup")


def step_factor(step: int, warmup_steps: int, milestones: tuple[int, ...], gamma: float) -> float:
    """Multiplier of the base rate for the optimizer step that follows ``step`` completed ones."""
    warm = step / warmup_steps if step < warmup_steps else 1.0  # diffusers' warm-up: 0 at the first step
    return warm * gamma ** bisect.bisect_right(milestones, step)


def build_scheduler(optimizer: torch.optim.Optimizer, optim: OptimConfig,
                    total_steps: int) -> torch.optim.lr_scheduler.LRScheduler:
    """The configured schedule over ``total_steps`` optimizer steps (stepped once per optimizer step)."""
    if optim.lr_scheduler == "step":
        factor = partial(step_factor, warmup_steps=optim.warmup_steps, milestones=tuple(optim.lr_milestones),
                         gamma=optim.lr_gamma)
        return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    from diffusers.optimization import get_scheduler

    return get_scheduler(optim.lr_scheduler, optimizer, num_warmup_steps=optim.warmup_steps,
                         num_training_steps=total_steps)
