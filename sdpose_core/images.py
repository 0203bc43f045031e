"""Turn whatever image a caller has into one checked float RGB tensor [3, H, W] in 0..1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from .errors import InputError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
MIN_SIDE = 2


def load_image(path: str | Path) -> np.ndarray:
    """Read an image file as an HxWxC uint8 array (C = 1, 3 or 4), with a clear error when it can't."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise InputError(f"Image file not found: '{path}'.")
    try:
        with Image.open(path) as img:
            img = ImageOps.exif_transpose(img)
            if img.mode not in ("L", "RGB", "RGBA"):
                img = img.convert("RGBA" if "A" in img.getbands() else "RGB")
            return np.array(img)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise InputError(f"Cannot read '{path}' as an image ({exc}); is the file complete and an image?") from exc


def to_rgb_tensor(image: Any, device: torch.device | str | None = None, name: str = "image") -> torch.Tensor:
    """HxW, HxWxC (C in 1..4) or CxHxW tensor/array/PIL image -> float32 [3, H, W] in 0..1 on ``device``.

    uint8 is divided by 255; floats must already be in 0..1. Grey is repeated to RGB; an alpha channel
    is composited over white, as DWPose's ``HWC3`` does. NaN/inf, empty or 1-pixel images are refused.
    """
    if not isinstance(image, (torch.Tensor, np.ndarray)):
        if hasattr(image, "mode") and hasattr(image, "size"):
            image = np.array(image)
        else:
            raise InputError(f"{name}: expected an image array, tensor or PIL image, got {type(image).__name__}.")
    t = torch.as_tensor(image) if isinstance(image, np.ndarray) else image
    if t.ndim == 3 and t.shape[0] in (1, 3, 4) and t.shape[-1] not in (1, 2, 3, 4):
        t = t.permute(1, 2, 0)  # CHW -> HWC
    if t.ndim == 2:
        t = t[..., None]
    if t.ndim != 3 or t.shape[-1] not in (1, 2, 3, 4):
        raise InputError(f"{name}: expected shape HxW or HxWxC with C in 1..4, got {tuple(t.shape)}.")
    h, w, c = t.shape
    if h < MIN_SIDE or w < MIN_SIDE:
        raise InputError(f"{name}: is {w}x{h} pixels; an image needs at least {MIN_SIDE} pixels per side.")
    t = t.to(device) if device is not None else t
    if t.dtype == torch.uint8:
        t = t.float() / 255.0
    elif t.dtype.is_floating_point:
        t = t.float()
        if not torch.isfinite(t).all():
            raise InputError(f"{name}: contains NaN or infinite values; fix the node or file that produced it.")
        lo, hi = t.min().item(), t.max().item()
        if lo < -1e-3 or hi > 1.0 + 1e-3:
            raise InputError(f"{name}: float pixel values must lie in 0..1, found {lo:.3g}..{hi:.3g} "
                             "(divide 0..255 data by 255, or pass uint8).")
        t = t.clamp(0.0, 1.0)
    else:
        raise InputError(f"{name}: pixel type {t.dtype} is not supported; convert to uint8 or float in 0..1.")
    if c in (2, 4):
        color, alpha = t[..., : c - 1], t[..., c - 1:]
        t = color * alpha + (1.0 - alpha)
    if t.shape[-1] == 1:
        t = t.expand(-1, -1, 3)
    return t.permute(2, 0, 1).contiguous()


def find_images(inputs: list[str | Path]) -> list[Path]:
    """Image files among ``inputs`` (files, or folders searched non-recursively), sorted per folder."""
    found: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found += sorted(q for q in p.iterdir() if q.is_file() and q.suffix.lower() in IMAGE_SUFFIXES)
        elif p.is_file():
            found.append(p)
        else:
            raise InputError(f"Input not found: '{p}' is neither an image file nor a folder.")
    return found
