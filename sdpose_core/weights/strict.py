"""Strict state-dict comparison shared by every loader: one readable list of what does not fit."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch

SHOWN = 5


def listing(items: list[str]) -> str:
    """The first few items, and how many more there are."""
    more = f" (and {len(items) - SHOWN} more)" if len(items) > SHOWN else ""
    return ", ".join(items[:SHOWN]) + more


def mismatches(expected: Mapping[str, tuple[int, ...]], found: Mapping[str, torch.Tensor],
               show: Callable[[str], str] = str) -> list[str]:
    """Missing keys, unexpected keys and wrong shapes (keys displayed through ``show``); empty when all fit."""
    missing = sorted(show(k) for k in set(expected) - set(found))
    extra = sorted(show(k) for k in set(found) - set(expected))
    shapes = sorted(f"{show(k)} {tuple(found[k].shape)} (expected {tuple(expected[k])})"
                    for k in set(expected) & set(found) if tuple(found[k].shape) != tuple(expected[k]))
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing tensors: {listing(missing)}")
    if extra:
        problems.append(f"{len(extra)} unexpected tensors: {listing(extra)}")
    if shapes:
        problems.append(f"{len(shapes)} tensors with the wrong shape: {listing(shapes)}")
    return problems
