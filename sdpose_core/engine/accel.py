"""Speed on GPUs by construction: torch.compile with an eager fallback, static batch buckets, overlapped copies.

Every step here changes how fast the model runs, never what it computes: compiled and eager keypoints agree
within float noise, a padded bucket gives the keypoints of its real crops unchanged (the head's InstanceNorm
and the VAE's GroupNorm are per sample), and an fp16 batch that overflows is run again in fp32.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import Any

import torch

LOG = logging.getLogger("sdpose")
CUDA_GRAPH_MODES = ("reduce-overhead", "max-autotune")  # torch.compile modes that capture CUDA graphs
RECOMPILES = 32  # static graphs kept per compiled model: log2(batch) + 1 buckets x flip on/off x fp16 check


def default_mode(device: torch.device) -> str:
    """'reduce-overhead' (inductor kernels replayed as CUDA graphs, one per static bucket) on CUDA, else 'default'."""
    return "reduce-overhead" if device.type == "cuda" else "default"


def _allow_recompiles(count: int) -> None:
    """Let dynamo keep ``count`` graphs per function (default 8): every bucket of both flip settings, and fp16's
    overflow-checking variant, is its own static graph; past the limit dynamo would silently run eager."""
    import torch._dynamo.config as config

    for name in ("recompile_limit", "cache_size_limit"):
        if hasattr(config, name) and getattr(config, name) < count:
            setattr(config, name, count)


def _one_line(exc: BaseException) -> str:
    """The first non-empty line of an exception, for a one-line log message."""
    text = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
    return f"{type(exc).__name__}: {text}"[:300]


class CompiledForward:
    """A model's ``forward`` through ``torch.compile``; where compiling cannot run, eager with one log line.

    ``torch.compile`` compiles on the first call, so a missing C++ compiler (inductor on CPU), a missing Triton
    (inductor on CUDA) or any other compiler failure shows there: it is caught once, logged once, and every later
    call runs the eager forward. A real error of the model is not hidden: the eager call raises it again.
    """

    def __init__(self, eager: Callable[..., Any], mode: str = "default", backend: str = "inductor"):
        self.eager = eager
        self.mode = mode
        self.cuda_graphs = mode in CUDA_GRAPH_MODES
        self.failure: str | None = None
        _allow_recompiles(RECOMPILES)
        try:
            self.compiled = torch.compile(eager, mode=mode, backend=backend, dynamic=False)
        except Exception as exc:  # an unknown backend or mode is refused here, before any call
            self._fall_back(exc)

    def _fall_back(self, exc: BaseException) -> None:
        self.failure = _one_line(exc)
        self.compiled = None
        LOG.warning("SDPose: torch.compile cannot run here (%s); running eager instead: the same keypoints, slower. "
                    "Compiling needs a C++ compiler (g++) on the CPU and Triton on CUDA.", self.failure)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.compiled is not None:
            try:
                if self.cuda_graphs:
                    torch.compiler.cudagraph_mark_step_begin()
                out = self.compiled(*args, **kwargs)
                # a CUDA graph's outputs are overwritten by its next replay: keep a copy that outlives it
                return _clone(out) if self.cuda_graphs else out
            except torch._dynamo.exc.TorchDynamoException as exc:
                self._fall_back(exc)
        return self.eager(*args, **kwargs)


def _clone(out: Any) -> Any:
    return tuple(t.clone() for t in out) if isinstance(out, tuple) else out.clone()


def compile_model(model: torch.nn.Module, mode: str | None = None, backend: str = "inductor") -> CompiledForward:
    """Route ``model``'s calls through ``torch.compile`` (static shapes: one graph per batch bucket).

    ``mode`` None picks :func:`default_mode` for the model's device when it is compiled. Returns the wrapper,
    whose ``failure`` says why it runs eager (None while compiled).
    """
    eager = eager_forward(model)
    wrapper = CompiledForward(eager, mode or default_mode(next(model.parameters()).device), backend)
    model.forward = wrapper
    return wrapper


def default_channels_last(device: torch.device, dtype: torch.dtype) -> bool:
    """Channels-last where it was measured or is documented faster: bf16 on a CPU with native bf16 (oneDNN: 2.4x
    fp32 measured, 1.6x without channels-last) and half precision on CUDA (cuDNN's tensor-core convolutions)."""
    from .cpu import native_bf16

    if device.type == "cuda":
        return dtype != torch.float32
    return device.type == "cpu" and dtype == torch.bfloat16 and native_bf16()


def place_model(model: torch.nn.Module, device: torch.device, dtype: torch.dtype, *, channels_last: bool,
                compile: bool = False) -> torch.nn.Module:
    """``model`` on ``device`` in ``dtype``, channels-last if asked (inputs then follow), compiled if asked."""
    model = model.to(device=device, dtype=dtype)
    if channels_last:
        model.to(memory_format=torch.channels_last)
        model.channels_last = True
    if compile:
        compile_model(model)
    return model


def eager_forward(model: torch.nn.Module) -> Callable[..., Any]:
    """The model's own forward, bypassing a compiled one (for the fp32 rerun and for comparisons)."""
    return type(model).forward.__get__(model)


def is_compiled(model: torch.nn.Module) -> bool:
    """Whether ``model`` runs through a compiled forward that has not fallen back to eager."""
    forward = model.__dict__.get("forward")
    return isinstance(forward, CompiledForward) and forward.compiled is not None


def bucket_sizes(batch_size: int) -> list[int]:
    """The static batch shapes a compiled model sees: powers of two below ``batch_size``, then ``batch_size``.

    A last, partial batch is padded up to the next one, so at most log2(batch_size) + 1 graphs are compiled
    (and captured) and padding never more than doubles a batch.
    """
    sizes, size = [], 1
    while size < batch_size:
        sizes.append(size)
        size *= 2
    return sizes + [batch_size]


def bucket_for(count: int, batch_size: int) -> int:
    """The smallest bucket holding ``count`` crops."""
    return next(size for size in bucket_sizes(batch_size) if size >= count)


def pad_to(crops: torch.Tensor, size: int) -> torch.Tensor:
    """``crops`` [n, ...] padded to [size, ...] with copies of its last crop (real pixels: no special values)."""
    missing = size - crops.shape[0]
    return torch.cat([crops, crops[-1:].expand(missing, *crops.shape[1:])]) if missing > 0 else crops


@contextlib.contextmanager
def full_precision(model: torch.nn.Module) -> Iterator[None]:
    """Run ``model`` in fp32 for a while, then back in its own dtype.

    fp16 -> fp32 -> fp16 is exact, so the weights come back bit for bit; no second copy of the model is kept.
    """
    dtype = next(model.parameters()).dtype
    model.float()
    try:
        yield
    finally:
        model.to(dtype)


class HostToDevice:
    """Moves host tensors to ``device``; on CUDA from pinned memory on a second stream, so copies overlap compute.

    The compute stream waits for the copy before it uses the tensor (stream order, no host synchronisation).
    """

    def __init__(self, device: torch.device):
        self.device = device
        self.stream = torch.cuda.Stream(device) if device.type == "cuda" else None

    def __call__(self, tensor: torch.Tensor) -> torch.Tensor:
        if self.stream is None:
            return tensor.to(self.device)
        compute = torch.cuda.current_stream(self.device)
        with torch.cuda.stream(self.stream):
            out = tensor.pin_memory().to(self.device, non_blocking=True)
        compute.wait_stream(self.stream)
        out.record_stream(compute)
        return out


def to_host(tensor: torch.Tensor) -> torch.Tensor:
    """A CPU copy of ``tensor``, started without waiting for the device (pinned, non-blocking on CUDA).

    Read it only after the device has finished (see :class:`DeviceEvent`).
    """
    if tensor.device.type != "cuda":
        return tensor.cpu()
    out = torch.empty(tensor.shape, dtype=tensor.dtype, pin_memory=True)
    return out.copy_(tensor, non_blocking=True)


class DeviceEvent:
    """A point in the device's work queue; ``wait()`` blocks until the device passes it (nothing to wait on CPU)."""

    def __init__(self, device: torch.device):
        self.event = torch.cuda.Event() if device.type == "cuda" else None
        if self.event is not None:
            self.event.record(torch.cuda.current_stream(device))

    def wait(self) -> None:
        if self.event is not None:
            self.event.synchronize()
