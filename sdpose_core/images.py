"""Turn whatever image a caller has into one checked 8-bit RGB array, the bytes the official path crops from."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from .errors import InputError
from .sizes import MAX_IMAGE_PIXELS

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
MIN_SIDE = 2


def load_image(path: str | Path) -> np.ndarray:
    """Read an image file as an HxWxC array (C = 1, 3 or 4), with a clear error when it can't.

    8-bit files give uint8; 16-bit greyscale gives uint16 and float (mode F) float32, which
    :func:`to_rgb_uint8` reduces the way the official loader does.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise InputError(f"Image file not found: '{path}'.")
    try:
        with Image.open(path) as img:
            check_image_size(*img.size, f"'{path}'")  # from the header, before anything is decoded
            img = ImageOps.exif_transpose(img)
            if img.mode.startswith("I"):  # 16-bit (or 32-bit integer) greyscale
                return np.array(img).astype(np.int64).clip(0, 65535).astype(np.uint16)
            if img.mode == "F":
                return np.array(img, dtype=np.float32)
            if img.mode not in ("L", "RGB", "RGBA"):
                img = img.convert("RGBA" if "A" in img.getbands() else "RGB")
            return np.array(img)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise InputError(f"Cannot read '{path}' as an image ({exc}); is the file complete and an image?") from exc


def check_image_size(width: int, height: int, name: str) -> None:
    """Refuse an image above :data:`~sdpose_core.sizes.MAX_IMAGE_PIXELS` before it is decoded."""
    if width * height > MAX_IMAGE_PIXELS:
        raise InputError(f"{name} is {width}x{height} = {width * height / 1e6:.0f} megapixels; at most "
                         f"{MAX_IMAGE_PIXELS / 1e6:.0f} megapixels (e.g. 8192x8192) are posed. Shrink it first.")


def _hwc(image: Any, name: str) -> torch.Tensor | np.ndarray:
    """Any accepted image as an HxWxC array or tensor (C in 1..4), checked for shape and size."""
    if not isinstance(image, (torch.Tensor, np.ndarray)):
        if hasattr(image, "mode") and hasattr(image, "size"):
            image = np.array(image)
        else:
            raise InputError(f"{name}: expected an image array, tensor or PIL image, got {type(image).__name__}.")
    t = image
    if t.ndim == 3 and t.shape[0] in (1, 3, 4) and t.shape[-1] not in (1, 2, 3, 4):
        t = t.permute(1, 2, 0) if isinstance(t, torch.Tensor) else t.transpose(1, 2, 0)  # CHW -> HWC
    if t.ndim == 2:
        t = t[..., None]
    if t.ndim != 3 or t.shape[-1] not in (1, 2, 3, 4):
        raise InputError(f"{name}: expected shape HxW or HxWxC with C in 1..4, got {tuple(t.shape)}.")
    h, w, _ = t.shape
    if h < MIN_SIDE or w < MIN_SIDE:
        raise InputError(f"{name}: is {w}x{h} pixels; an image needs at least {MIN_SIDE} pixels per side.")
    return t


def to_rgb_uint8(image: Any, name: str = "image") -> np.ndarray:
    """HxW, HxWxC (C in 1..4) or CxHxW tensor/array/PIL image -> HxWx3 uint8 RGB, the pixels the model sees.

    These are the bytes the official evaluation crops from: uint8 as is; 16-bit as OpenCV's ``IMREAD_COLOR``
    (the official loader) reduces it, ``value >> 8``; floats (ComfyUI IMAGE tensors) must lie in 0..1 and
    become ``x * 255`` (in their own precision) truncated, as comfyui_controlnet_aux's DWPose node converts an
    IMAGE (exact bytes of an 8-bit image; between steps, the step below). Grey is repeated to RGB; an alpha channel is
    composited over white exactly as DWPose's ``HWC3`` does (float32, truncated; the official loader drops alpha,
    both agree wherever the image is opaque). NaN/inf, empty or 1-pixel images are refused.
    """
    t = _hwc(image, name)
    if isinstance(t, np.ndarray):
        if t.dtype == np.uint16:
            t = (t >> 8).astype(np.uint8)
        t = torch.from_numpy(np.ascontiguousarray(t))
    if t.dtype == torch.uint16:
        t = (t.to(torch.int32) >> 8).to(torch.uint8)
    if t.dtype.is_floating_point:  # the DWPose node's rule for a ComfyUI IMAGE: x * 255 in its dtype, truncated
        _checked_float(t, name)
        t = (t.clamp(0.0, 1.0) * 255.0).to(torch.uint8)
    elif t.dtype != torch.uint8:
        raise InputError(f"{name}: pixel type {t.dtype} is not supported; convert to uint8, uint16 or float in 0..1.")
    out = t
    if t.shape[-1] in (2, 4):  # DWPose's HWC3: alpha over white in float32, truncated
        u8 = t.cpu().numpy()
        color, alpha = u8[..., :-1].astype(np.float32), u8[..., -1:].astype(np.float32) / 255.0
        out = torch.from_numpy((color * alpha + 255.0 * (1.0 - alpha)).clip(0, 255).astype(np.uint8))
    if out.shape[-1] == 1:
        out = out.expand(-1, -1, 3)
    return np.ascontiguousarray(out.cpu().numpy())


def _checked_float(t: torch.Tensor, name: str) -> torch.Tensor:
    """A float image as float32 in 0..1, refusing NaN/inf and 0..255 data."""
    t = t.float()
    if not torch.isfinite(t).all():
        raise InputError(f"{name}: contains NaN or infinite values; fix the node or file that produced it.")
    lo, hi = t.min().item(), t.max().item()
    if lo < -1e-3 or hi > 1.0 + 1e-3:
        raise InputError(f"{name}: float pixel values must lie in 0..1, found {lo:.3g}..{hi:.3g} "
                         "(divide 0..255 data by 255, or pass uint8).")
    return t.clamp(0.0, 1.0)

