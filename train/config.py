"""Training configuration: nested dataclasses read from YAML, with ``section.key=value`` overrides.

The defaults are the paper's recipe (§4.3, §5.1, appendix A) and the official data pipeline
(T-S-Liang/SDPose-OOD ``utils/dataset_loader.py`` with mmpose's transform defaults), so a config file
only has to say where the data and the starting weights are.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sdpose_core.engine.options import DEFAULT_INPUT_SIZE


@dataclass
class ModelConfig:
    init: str = ""  # SD2 diffusers folder / hub id, or an SDPose release folder / hub id
    reset_head: bool = False  # start a fresh head even when ``init`` has one (e.g. body -> wholebody)
    gradient_checkpointing: bool = True
    sample_latent: bool = True  # VAE posterior sample (official code); False: its mean
    vae_chunk: int = 8  # crops per VAE-encoder call (its full-resolution activations dominate memory)
    cache_dir: str | None = None  # hub downloads ($SDPOSE_CACHE or ~/.cache/sdpose by default)


@dataclass
class DataConfig:
    train_ann: str = ""  # COCO person_keypoints_train2017.json or coco_wholebody_train_v1.0.json
    train_images: str = ""  # folder the annotation's file_name entries are relative to
    input_size: tuple[int, int] = DEFAULT_INPUT_SIZE  # crop W x H (multiples of 64)
    sigma: float = 6.0  # UDP Gaussian sigma in heatmap pixels (official: 6 at 192x256 heatmaps)
    num_workers: int = 8
    min_keypoints: int | None = None  # redraw crops keeping fewer weighted keypoints; None: official 3 / 8; 0: never


@dataclass
class ValConfig:  # the validation set of train.eval_every, evaluated by train.evaluate's own code
    ann: str = ""  # COCO(-WholeBody) keypoint annotation file, e.g. person_keypoints_val2017.json
    images: str = ""  # folder the annotation's file_name entries are relative to
    boxes: str | None = None  # person detections (COCO detection results); None: ground-truth boxes
    box_thr: float = 0.0  # drop detections scoring below this
    flip: bool = True  # flip test (the paper's protocol)
    batch_size: int = 16  # crops per model call, per process


@dataclass
class HalfBodyConfig:  # mmpose RandomHalfBody defaults
    prob: float = 0.3
    min_total_keypoints: int = 9
    min_upper_keypoints: int = 2
    min_lower_keypoints: int = 3
    padding: float = 1.5
    upper_prioritized_prob: float = 0.7


@dataclass
class BBoxConfig:  # mmpose RandomBBoxTransform defaults
    shift_factor: float = 0.16
    shift_prob: float = 0.3
    scale_factor: tuple[float, float] = (0.5, 1.5)
    scale_prob: float = 1.0
    rotate_factor: float = 80.0
    rotate_prob: float = 0.6


@dataclass
class PhotometricConfig:  # mmpose PhotometricDistortion defaults
    enabled: bool = True
    brightness_delta: int = 32
    contrast_range: tuple[float, float] = (0.5, 1.5)
    saturation_range: tuple[float, float] = (0.5, 1.5)
    hue_delta: int = 18


@dataclass
class AugmentConfig:
    enabled: bool = True  # False: plain top-down crops (box centre and scale only)
    flip_prob: float = 0.5
    half_body: HalfBodyConfig = field(default_factory=HalfBodyConfig)
    bbox: BBoxConfig = field(default_factory=BBoxConfig)
    photometric: PhotometricConfig = field(default_factory=PhotometricConfig)
    blur_prob: float = 0.1  # albumentations Blur
    median_blur_prob: float = 0.1  # albumentations MedianBlur
    blur_limit: tuple[int, int] = (3, 7)  # odd kernel sizes drawn from this range
    dropout_prob: float = 1.0  # albumentations CoarseDropout: one hole
    dropout_size: tuple[float, float] = (0.2, 0.4)  # hole side as a fraction of the crop side


@dataclass
class LossConfig:
    heatmap_weight: float = 1.0  # MSE with target weights (mmpose KeypointMSELoss)
    rgb_weight: float = 1.0  # latent MSE of the RGB-reconstruction task (0 disables the task)


@dataclass
class OptimConfig:
    lr: float = 3e-5
    weight_decay: float = 1e-2
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    max_grad_norm: float | None = 1.0
    lr_scheduler: str = "constant"  # the paper's; cosine | step | other diffusers.optimization names: not the paper's
    warmup_steps: int = 0
    lr_milestones: list[int] = field(default_factory=list)  # step schedule: optimizer steps after which lr *= gamma
    lr_gamma: float = 0.1


@dataclass
class TrainConfig:
    output_dir: str = "runs/sdpose"
    batch_size: int = 16  # per process; the paper: 8 GPUs x 16 = 128, no accumulation
    grad_accum: int = 1
    epochs: int = 40
    max_steps: int | None = None  # optimizer steps; overrides epochs when set
    mixed_precision: str = "bf16"  # no | fp16 | bf16
    seed: int = 42
    log_every: int = 10  # optimizer steps between metrics.jsonl lines
    save_every: int = 1000  # optimizer steps between checkpoints (and at the end)
    keep_checkpoints: int = 3  # newest kept; 0 keeps all
    save_release: bool = True  # each checkpoint also holds the model in the official release layout
    tensorboard: bool = False
    eval_every: int = 0  # optimizer steps between evaluations on the val set (and at the end); 0: none
    keep_best: int = 1  # best evaluations by AP kept as best-<step>/ (release layout); 0: none
    threads: int | None = None  # torch CPU threads per process (None: torch's default)


@dataclass
class Config:
    scheme: str = "body"  # body (COCO-17) | wholebody (COCO-WholeBody-133)
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    val: ValConfig = field(default_factory=ValConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


class ConfigError(ValueError):
    """A config file or override names an unknown key or a value of the wrong kind."""


def _number(value: Any, kind: type, where: str) -> int | float:
    """An int or float field's finite value; text is read as the user wrote the number (YAML 1.1 reads ``3e-5`` as
    text)."""
    name = "an integer" if kind is int else "a number"
    if isinstance(value, str):
        try:
            value = float(value.strip()) if kind is float else int(value.strip())
        except ValueError:
            try:  # an integer written as 1e3
                value = float(value) if kind is int and float(value).is_integer() else value
            except ValueError:
                pass
    if isinstance(value, float) and kind is int and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and isinstance(value, float)):
        raise ConfigError(f"{where}: expected {name}, got {value!r}.")
    if not math.isfinite(value):  # a NaN weight or rate passes every range check and trains on garbage
        raise ConfigError(f"{where}: expected a finite number, got {value!r}.")
    return kind(value)


def _coerce(value: Any, hint: Any, where: str) -> Any:
    """``value`` (from YAML or an override) as the field's declared type, or one ConfigError naming the key."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (hint,) = [a for a in args if a is not type(None)]
        args = typing.get_args(hint)
    origin = typing.get_origin(hint)
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}.")
        return [_coerce(v, args[0], where) for v in value]
    if origin is tuple:
        if not isinstance(value, (list, tuple)) or len(value) != len(args):
            raise ConfigError(f"{where}: expected a list of {len(args)} values, got {value!r}.")
        return tuple(_coerce(v, a, where) for v, a in zip(value, args))
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}.")
        return value
    if hint in (int, float):
        return _number(value, hint, where)
    if isinstance(value, bool):  # YAML 1.1 reads a bare no/yes as a boolean
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return str(value)
    if not isinstance(value, str):
        raise ConfigError(f"{where}: expected text, got {value!r}.")
    return value


def _update(obj: Any, data: dict, where: str) -> None:
    if not isinstance(data, dict):
        raise ConfigError(f"{where or 'config'}: expected a mapping, got {data!r}.")
    hints = typing.get_type_hints(type(obj))
    for key, value in data.items():
        path = f"{where}.{key}" if where else key
        if key not in hints:
            raise ConfigError(f"Unknown config key '{path}'; known here: {', '.join(sorted(hints))}.")
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current):
            _update(current, value, path)
        else:
            setattr(obj, key, _coerce(value, hints[key], path))


def parse_override(text: str) -> dict:
    """'train.batch_size=8' -> {'train': {'batch_size': 8}} (the value is read as YAML)."""
    import yaml

    if "=" not in text:
        raise ConfigError(f"Override '{text}' is not of the form section.key=value.")
    key, raw = text.split("=", 1)
    value = yaml.safe_load(raw) if raw != "" else ""
    out: dict = {}
    node = out
    parts = key.strip().split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return out


def load_config(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Defaults, then the YAML file, then each ``section.key=value`` override, checked and validated."""
    import yaml

    cfg = Config()
    if path is not None:
        try:
            data = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"Cannot read config '{path}': {exc}") from exc
        _update(cfg, data, "")
    for text in overrides:
        _update(cfg, parse_override(text), "")
    validate(cfg)
    return cfg


def validate(cfg: Config) -> None:
    from sdpose_core.engine.model import check_input_size
    from sdpose_core.engine.schemes import SCHEMES

    if cfg.scheme not in SCHEMES:
        raise ConfigError(f"scheme: '{cfg.scheme}' is not one of {', '.join(SCHEMES)}.")
    check_input_size(*cfg.data.input_size)
    if cfg.train.batch_size < 1 or cfg.train.grad_accum < 1:
        raise ConfigError("train.batch_size and train.grad_accum must be at least 1.")
    if cfg.train.mixed_precision not in ("no", "fp16", "bf16"):
        raise ConfigError(f"train.mixed_precision: '{cfg.train.mixed_precision}' is not one of no, fp16, bf16.")
    if cfg.loss.heatmap_weight <= 0:
        raise ConfigError("loss.heatmap_weight must be positive.")
    if cfg.loss.rgb_weight < 0:
        raise ConfigError("loss.rgb_weight must be >= 0.")
    lo, hi = cfg.augment.blur_limit
    if lo < 3 or hi < lo:
        raise ConfigError("augment.blur_limit must be (low, high) with 3 <= low <= high.")
    if cfg.data.min_keypoints is not None and (not isinstance(cfg.data.min_keypoints, int)
                                               or cfg.data.min_keypoints < 0):
        raise ConfigError("data.min_keypoints must be null (the official rule) or an integer >= 0.")
    validate_schedule(cfg.optim)
    validate_evaluation(cfg)


def validate_schedule(optim: OptimConfig) -> None:
    from .schedule import SCHEDULES

    if optim.lr_scheduler not in SCHEDULES:
        raise ConfigError(f"optim.lr_scheduler: '{optim.lr_scheduler}' is not one of {', '.join(SCHEDULES)}.")
    steps = optim.lr_milestones
    if not all(isinstance(m, int) and not isinstance(m, bool) and m > 0 for m in steps) or steps != sorted(set(steps)):
        raise ConfigError(f"optim.lr_milestones must be increasing positive optimizer steps, got {steps!r}.")
    if optim.lr_scheduler == "step" and not steps:
        raise ConfigError("optim.lr_scheduler 'step' needs optim.lr_milestones, e.g. [30000, 36000].")
    if optim.lr_gamma <= 0:
        raise ConfigError("optim.lr_gamma must be positive.")


def validate_evaluation(cfg: Config) -> None:
    t, val = cfg.train, cfg.val
    if not isinstance(t.eval_every, int) or t.eval_every < 0 or not isinstance(t.keep_best, int) or t.keep_best < 0:
        raise ConfigError("train.eval_every and train.keep_best must be integers >= 0.")
    if t.eval_every and not (val.ann and val.images):
        raise ConfigError("train.eval_every needs a validation set: set val.ann (COCO keypoint annotations) and "
                          "val.images (their image folder).")
    if val.batch_size < 1:
        raise ConfigError("val.batch_size must be at least 1.")
