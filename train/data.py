"""COCO / COCO-WholeBody top-down training data: annotations, the augmented crop dataset, and a
deterministic sharded batch order that can resume mid-epoch.

Instances are read as mmpose's ``CocoDataset`` / ``CocoWholeBodyDataset`` read them: the box is clipped
to the image, visibility is ``min(1, v)`` (``v > 0`` for wholebody), and crowd instances, instances
with no body keypoint, empty boxes and all-zero keypoints are dropped from training.

As the official training set (the ``BaseCocoStyleDataset.prepare_data`` of the mmpose copy bundled with
T-S-Liang/SDPose-OOD, under mmengine's refetch loop), an augmented crop that keeps fewer than 3 (body) or
8 (wholebody) keypoints with target weight is replaced by another instance drawn at random, up to 1000 times.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from sdpose_core.engine.codec import UDPHeatmap
from sdpose_core.engine.crop import apply_affine, boxes_to_center_scale, fix_aspect_ratio, warp_crops, warp_matrix
from sdpose_core.engine.schemes import Scheme, get_scheme
from sdpose_core.errors import InputError
from sdpose_core.formats.coco import record_keypoints
from sdpose_core.keypoints import BODY, BODY_NAMES, FOOT, NUM_BODY, NUM_WHOLEBODY, WHOLEBODY_PARTS

from .augment import photometric_distortion, pixel_augment, random_bbox_jitter, random_half_body
from .config import AugmentConfig

# COCO-WholeBody keypoint fields, in the 133-point order.
PART_FIELDS = tuple(part.field for part in WHOLEBODY_PARTS)
# Half-body groups (the dataset metainfo's 'upper' / 'lower' keypoint types): the body from the hips down, and the feet.
_HIPS = BODY_NAMES.index("left_hip")
UPPER_BODY_IDS: tuple[int, ...] = tuple(range(_HIPS))
LOWER_BODY_IDS: dict[str, tuple[int, ...]] = {"body": tuple(range(_HIPS, NUM_BODY)),
                                              "wholebody": tuple(range(_HIPS, FOOT.stop))}
# Fewest keypoints with target weight an augmented training crop may keep (official: 3; 8 for coco_wholebody).
MIN_KEYPOINTS: dict[str, int] = {"body": 3, "wholebody": 8}
MAX_REDRAWS = 1000  # mmengine BaseDataset.max_refetch: draws before giving up


class DataError(ValueError):
    """An annotation file or image cannot be used."""


@dataclass
class Instance:
    """One annotated person."""

    id: int
    image_id: int
    file_name: str
    width: int
    height: int
    box_xyxy: np.ndarray  # (4,) clipped to the image, as mmpose
    keypoints: np.ndarray  # (K, 2) image pixels
    visible: np.ndarray  # (K,) 0/1
    num_keypoints: int
    iscrowd: int


def read_json(path: str | Path) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"Cannot read annotation file '{path}': {exc}") from exc


def flat_keypoints(ann: dict, scheme: Scheme) -> np.ndarray | None:
    """An annotation's keypoints as (K, 3) for ``scheme``: body ``keypoints`` (the body points of a flat 133-point
    list), or the five COCO-WholeBody fields joined; None when it has none for the scheme. Read by the one COCO
    record parser (:func:`sdpose_core.formats.coco.record_keypoints`): an InputError says what does not parse."""
    if "keypoints" not in ann or (scheme.name == "wholebody" and not all(f in ann for f in PART_FIELDS)):
        return None
    raw = ann["keypoints"]
    full = scheme.name == "wholebody" or (isinstance(raw, list) and len(raw) == 3 * NUM_WHOLEBODY)
    arr = record_keypoints(ann, NUM_WHOLEBODY if full else NUM_BODY)
    return arr[BODY.points] if full and scheme.name == "body" else arr


def clipped_box(bbox: Sequence[float], width: int, height: int) -> np.ndarray:
    """xywh -> xyxy clipped to [0, size - 1], as mmpose's COCO parsers."""
    x, y, w, h = (float(v) for v in bbox[:4])
    return np.array([np.clip(x, 0, width - 1), np.clip(y, 0, height - 1),
                     np.clip(x + w, 0, width - 1), np.clip(y + h, 0, height - 1)], dtype=np.float64)


def parse_instances(coco: dict, scheme: str | Scheme) -> list[Instance]:
    """Every person annotation with a box and keypoints, in image order (unfiltered)."""
    scheme = get_scheme(scheme)
    images = {img["id"]: img for img in coco.get("images", [])}
    by_image: dict[int, list[dict]] = {}
    for ann in coco.get("annotations", []):
        by_image.setdefault(ann["image_id"], []).append(ann)
    out: list[Instance] = []
    for image_id, img in images.items():
        for ann in by_image.get(image_id, []):
            if "bbox" not in ann:
                continue
            try:
                kp = flat_keypoints(ann, scheme)
            except InputError as exc:
                raise DataError(f"annotation {ann.get('id')}: {exc}") from None
            if kp is None:
                continue
            vis = np.minimum(1.0, kp[:, 2]) if scheme.name == "body" else (kp[:, 2] > 0).astype(np.float64)
            num = ann.get("num_keypoints", int(np.count_nonzero(kp[BODY.points, :2].max(axis=1))))
            out.append(Instance(int(ann["id"]), image_id, img["file_name"], int(img["width"]), int(img["height"]),
                                clipped_box(ann["bbox"], img["width"], img["height"]), kp[:, :2].copy(), vis,
                                int(num), int(ann.get("iscrowd", 0))))
    return out


def is_valid(inst: Instance) -> bool:
    """mmpose's ``_is_valid_instance``: not crowd, some keypoints, a non-empty box, not all-zero keypoints."""
    w, h = inst.box_xyxy[2:] - inst.box_xyxy[:2]
    return not inst.iscrowd and inst.num_keypoints > 0 and w > 0 and h > 0 and inst.keypoints.max() > 0


def load_instances(ann_file: str | Path, scheme: str | Scheme) -> list[Instance]:
    """The valid training/evaluation instances of a COCO-format annotation file."""
    return [i for i in parse_instances(read_json(ann_file), scheme) if is_valid(i)]


def read_image(path: Path) -> np.ndarray:
    """HxWx3 uint8 RGB (OpenCV decoding, EXIF orientation applied, as mmpose's LoadImage)."""
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise DataError(f"Cannot read image '{path}'; is the image folder right and the file complete?")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def _flip_matrix(width: int) -> torch.Tensor:
    """Image -> mirrored image (x -> width - 1 - x), [1, 3, 3]."""
    return torch.tensor([[[-1.0, 0.0, width - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]], dtype=torch.float64)


def _then(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """The affine [N, 2, 3] ``second`` applied after the [N, 3, 3] homogeneous ``first``."""
    return second @ first


class TopDownDataset(torch.utils.data.Dataset):
    """Augmented person crops for training.

    ``dataset[(epoch, index)]`` (or ``dataset[index]`` for epoch 0) returns a dict of
    ``pixels`` uint8 [3, H, W] (the model input), ``target_rgb`` uint8 [3, H, W] (the crop before blur and
    dropout: the RGB-reconstruction target), ``keypoints`` float32 [K, 2] in crop pixels and ``visible``
    float32 [K]. Heatmaps are made on the training device from the keypoints (``UDPHeatmap.encode``).
    A crop with fewer than ``min_keypoints`` weighted keypoints (default: the official 3 for body, 8 for
    wholebody; 0 keeps every crop) is replaced as ``draw`` says. The sample is a pure function of
    ``(seed, epoch, index)``: resuming, re-sharding or changing the number of workers never changes it.
    """

    def __init__(self, instances: list[Instance], image_dir: str | Path, scheme: str | Scheme,
                 input_size: tuple[int, int], augment: AugmentConfig | None, seed: int = 0, sigma: float = 6.0,
                 min_keypoints: int | None = None):
        if not instances:
            raise DataError("No valid person instances to train on; check the annotation file and scheme.")
        self.instances = instances
        self.image_dir = Path(image_dir)
        self.scheme = get_scheme(scheme)
        self.input_size = tuple(input_size)
        self.augment = augment if augment is not None and augment.enabled else None
        self.seed = seed
        self.flip_indices = np.asarray(self.scheme.flip_indices)
        self.lower_ids = LOWER_BODY_IDS[self.scheme.name]
        self.codec = UDPHeatmap.for_input(self.input_size, sigma=sigma)
        self.min_keypoints = MIN_KEYPOINTS[self.scheme.name] if min_keypoints is None else min_keypoints

    def __len__(self) -> int:
        return len(self.instances)

    def geometry(self, inst: Instance, rng: np.random.Generator | None
                 ) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
        """(image->crop matrix [1, 2, 3], crop keypoints [K, 2], visibility [K]) for one instance."""
        x1, y1, x2, y2 = inst.box_xyxy
        center, scale = boxes_to_center_scale(torch.tensor([[x1, y1, x2 - x1, y2 - y1]], dtype=torch.float64))
        keypoints, visible = inst.keypoints.copy(), inst.visible.copy()
        rotation = torch.zeros(1, dtype=torch.float64)
        flip = None
        aug = self.augment
        if aug is not None and rng is not None:
            if rng.random() < aug.flip_prob:  # mirror the image: swap left/right, x -> w - 1 - x
                flip = _flip_matrix(inst.width)
                keypoints, visible = keypoints[self.flip_indices], visible[self.flip_indices]
                keypoints[:, 0] = inst.width - 1 - keypoints[:, 0]
                center[:, 0] = inst.width - 1 - center[:, 0]
            half = random_half_body(rng, keypoints, visible, UPPER_BODY_IDS, self.lower_ids, aug.half_body)
            if half is not None:
                center = torch.as_tensor(half[0], dtype=torch.float64)[None]
                scale = torch.as_tensor(half[1], dtype=torch.float64)[None]
            jitter = random_bbox_jitter(rng, aug.bbox)
            center = center + torch.as_tensor(jitter.offset, dtype=torch.float64)[None] * scale
            scale = scale * jitter.scale
            rotation = torch.tensor([jitter.rotation], dtype=torch.float64)
        w, h = self.input_size
        scale = fix_aspect_ratio(scale, w / h)
        mat = warp_matrix(center, scale, self.input_size, rotation)  # (mirrored) image -> crop
        crop_points = apply_affine(mat, torch.as_tensor(keypoints, dtype=torch.float64)[None])[0]
        if flip is not None:
            mat = _then(flip, mat)
        return mat, crop_points, visible

    def weighted_keypoints(self, crop_points: torch.Tensor, visible: np.ndarray) -> int:
        """How many keypoints get a non-zero target weight in this crop (the UDP codec's rule)."""
        weights = self.codec.target_weights(crop_points[None].float(), torch.as_tensor(visible)[None])
        return int(torch.count_nonzero(weights))

    def draw(self, epoch: int, index: int) -> tuple[int, int, np.random.Generator, tuple]:
        """(instance used, redraws, its generator, its geometry) for slot ``index`` of ``epoch``.

        Draw 0 is instance ``index`` with the generator of ``(seed, epoch, index)``. While a crop keeps fewer
        than ``min_keypoints`` weighted keypoints, draw ``a`` takes a generator of ``(seed, epoch, index, a)``,
        picks a uniformly random instance with it (as mmengine's ``_rand_another``) and augments that one with
        it: a pure function of the seed and the slot, so resuming or re-sharding never changes a sample.
        """
        source, rng = index, np.random.default_rng([self.seed, epoch, index])
        for attempt in range(MAX_REDRAWS + 1):
            if attempt:
                rng = np.random.default_rng([self.seed, epoch, index, attempt])
                source = int(rng.integers(len(self.instances)))
            geometry = self.geometry(self.instances[source], rng if self.augment is not None else None)
            if self.min_keypoints <= 0 or self.weighted_keypoints(geometry[1], geometry[2]) >= self.min_keypoints:
                return source, attempt, rng, geometry
        raise DataError(f"No training crop with at least {self.min_keypoints} keypoints in view after {MAX_REDRAWS} "
                        f"random draws (epoch {epoch}, slot {index}); do the annotations have labelled keypoints "
                        "for this scheme? data.min_keypoints sets the minimum.")

    def __getitem__(self, key) -> dict:
        epoch, index = key if isinstance(key, tuple) else (0, key)
        source_index, redraws, rng, (mat, crop_points, visible) = self.draw(epoch, index)
        inst = self.instances[source_index]
        image = read_image(self.image_dir / inst.file_name)
        if image.shape[0] != inst.height or image.shape[1] != inst.width:
            raise DataError(f"'{self.image_dir / inst.file_name}' is {image.shape[1]}x{image.shape[0]} but its "
                            f"annotation says {inst.width}x{inst.height}; is this the annotation's image folder?")
        crop = warp_crops(image, mat, self.input_size)[0].numpy()  # the inference crop, as the official training
        if self.augment is not None and self.augment.photometric.enabled:
            crop = photometric_distortion(rng, crop, self.augment.photometric)
        target = crop
        if self.augment is not None:
            crop = pixel_augment(rng, crop, self.augment)
        return {
            "pixels": torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1).contiguous(),
            "target_rgb": torch.from_numpy(np.ascontiguousarray(target)).permute(2, 0, 1).contiguous(),
            "keypoints": crop_points.float(),
            "visible": torch.as_tensor(visible, dtype=torch.float32),
            "instance": torch.tensor(source_index),  # the instance used (another one after a redraw)
            "redraws": torch.tensor(redraws),
        }


class EpochBatchSampler(torch.utils.data.Sampler):
    """This process's micro-batches of one epoch, from micro-batch ``start`` on.

    Each epoch is a permutation of the dataset drawn from ``(seed, epoch)``, cut into global batches of
    ``batch_size * world_size`` (the tail that does not fill one is dropped); process ``rank`` takes its
    ``batch_size`` slice of each. The order depends only on the seed, so a resumed run sees exactly the
    batches the interrupted one would have seen.
    """

    def __init__(self, num_samples: int, batch_size: int, epoch: int, seed: int, rank: int = 0,
                 world_size: int = 1, start: int = 0):
        self.num_samples, self.batch_size, self.epoch, self.seed = num_samples, batch_size, epoch, seed
        self.rank, self.world_size, self.start = rank, world_size, start

    @staticmethod
    def batches_per_epoch(num_samples: int, batch_size: int, world_size: int) -> int:
        return num_samples // (batch_size * world_size)

    def __len__(self) -> int:
        return max(0, self.batches_per_epoch(self.num_samples, self.batch_size, self.world_size) - self.start)

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        gen = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        order = torch.randperm(self.num_samples, generator=gen).tolist()
        per_global = self.batch_size * self.world_size
        for k in range(self.start, self.batches_per_epoch(self.num_samples, self.batch_size, self.world_size)):
            lo = k * per_global + self.rank * self.batch_size
            yield [(self.epoch, i) for i in order[lo:lo + self.batch_size]]
