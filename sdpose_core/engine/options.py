"""How images are posed (crop size and mode, flip test, threshold, batch size, precision): defaults and one check.

Light to import (no torch): the command line builds its flags, the ComfyUI nodes their widgets and training's
evaluation its options from these defaults at start-up; :meth:`PoseEstimator.from_options
<sdpose_core.engine.pipeline.PoseEstimator.from_options>` builds the estimator from them.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from numbers import Integral
from typing import Any

from ..errors import InputError
from ..keypoints import DWPOSE_THRESHOLD

DEFAULT_INPUT_SIZE = (768, 1024)  # crop W x H: what SDPose was trained on
CROP_MODES = ("topdown", "stretch")  # aspect-preserving (the official crop) | the raw box squashed (demo, native)
DTYPE_NAMES = ("fp32", "fp16", "bf16")  # model precisions by name (weights.checkpoint maps them to torch dtypes)
MAX_SEED = 2 ** 63 - 1


def _whole(value: Any) -> bool:
    """A whole number (numpy's too) that is not a bool (``True`` is an int to Python, never a batch size or a seed
    to a user)."""
    return isinstance(value, Integral) and not isinstance(value, bool)


@dataclass(frozen=True)
class EstimatorOptions:
    """What a user chooses for posing images; the fields of :class:`~sdpose_core.engine.pipeline.PoseEstimator`.

    ``input_size``: the crop (W, H), multiples of 64. ``crop_mode``: one of :data:`CROP_MODES`. ``flip``: the
    paper's flip test (twice the cost). ``threshold``: keypoints scoring below it are left out of POSE_KEYPOINT and
    the drawing (DWPose's 0.3). ``batch_size``: person crops per model call. ``dtype``: the model's precision when
    it is loaded. ``sample_latent`` / ``seed``: sample the VAE posterior as the official code does (default: its
    mean, deterministic).
    """

    input_size: tuple[int, int] = DEFAULT_INPUT_SIZE
    crop_mode: str = CROP_MODES[0]
    flip: bool = True
    threshold: float = DWPOSE_THRESHOLD
    batch_size: int = 8
    dtype: str = DTYPE_NAMES[0]
    sample_latent: bool = False
    seed: int | None = None

    def check(self, names: Mapping[str, str] | None = None) -> EstimatorOptions:
        """Refuse an out-of-range value with one InputError naming it as the user knows it (``names``: field -> a
        CLI flag or node input); returns the options, so ``EstimatorOptions(...).check()`` reads in one line."""
        name = {f.name: f.name for f in dataclasses.fields(self)} | dict(names or {})
        from .model import check_input_size

        check_input_size(*self.input_size)
        if self.crop_mode not in CROP_MODES:
            raise InputError(f"Unknown {name['crop_mode']} '{self.crop_mode}'; use one of: {', '.join(CROP_MODES)}.")
        if self.dtype not in DTYPE_NAMES:
            raise InputError(f"Unknown {name['dtype']} '{self.dtype}'; use one of: {', '.join(DTYPE_NAMES)}.")
        if not (isinstance(self.threshold, (int, float)) and math.isfinite(self.threshold)
                and 0.0 <= self.threshold <= 1.0):
            raise InputError(f"{name['threshold']} must be a number in 0..1 (DWPose uses {DWPOSE_THRESHOLD}), "
                             f"got {self.threshold}.")
        if not _whole(self.batch_size) or self.batch_size < 1:
            raise InputError(f"{name['batch_size']} must be at least 1 (a whole number), got {self.batch_size!r}.")
        if self.seed is not None and not (_whole(self.seed) and 0 <= self.seed <= MAX_SEED):
            raise InputError(f"{name['seed']} must be 0 .. 2**63-1 (a whole number), got {self.seed!r}.")
        return self

    def replace(self, **changes: Any) -> EstimatorOptions:
        """A copy with some fields changed (unknown fields are a TypeError)."""
        return dataclasses.replace(self, **changes)

    def estimator_fields(self) -> dict[str, Any]:
        """The keywords of ``PoseEstimator`` these options set (all but ``threshold`` and ``dtype``, which apply to
        the output and to loading the model)."""
        return dict(input_size=tuple(self.input_size), flip=self.flip, crop_mode=self.crop_mode,
                    batch_size=self.batch_size, sample_latent=self.sample_latent, seed=self.seed)
