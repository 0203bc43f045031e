"""Fixtures for the training tests: micro SDPose checkpoints and synthetic keypoint datasets."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("accelerate")
pytest.importorskip("pycocotools")

sys.path.insert(0, str(Path(__file__).parent))
from micro import write_micro_folder  # noqa: E402
from synth import make_dataset  # noqa: E402


@pytest.fixture(scope="session")
def micro_body(tmp_path_factory) -> Path:
    return write_micro_folder(tmp_path_factory.mktemp("micro") / "SDPose-Body-micro", "body")


@pytest.fixture(scope="session")
def synthetic_body(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("synth")
    train_ann, train_images = make_dataset(root / "train", 48, seed=1)
    val_ann, val_images = make_dataset(root / "val", 12, seed=2)
    return {"train_ann": train_ann, "train_images": train_images, "val_ann": val_ann, "val_images": val_images}


@pytest.fixture(autouse=True)
def _restore_torch_threads():
    """Tests here pin torch to one thread (two shared cores); give the rest of the session its setting back."""
    import torch

    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)
