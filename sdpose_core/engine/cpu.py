"""What the CPU offers for half precision: bf16 is fast only where the hardware computes it natively."""

from __future__ import annotations

import functools
from pathlib import Path

import torch

_BF16_FLAGS = ("avx512_bf16", "amx_bf16")  # /proc/cpuinfo names of native bf16 dot products (AVX512-BF16, AMX)


@functools.lru_cache(maxsize=1)
def native_bf16() -> bool:
    """True when this CPU computes bf16 natively (AVX512-BF16 or AMX), so that bf16 convolutions beat fp32.

    Asks torch (its own CPU feature probe) and falls back to the kernel's CPU flags. Without native bf16,
    PyTorch emulates it and bf16 convolutions are far slower than fp32.
    """
    probes = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    for probe in probes:
        try:
            if probe is not None and probe():
                return True
        except RuntimeError:
            pass
    try:
        flags = next((line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags")), "")
    except OSError:
        return False
    return any(flag in flags.split() for flag in _BF16_FLAGS)
