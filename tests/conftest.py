"""Tiny random-weight SDPose checkpoints written in the released layouts, shared by the tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tiny_models import TEXT_CONFIGS, random_parts
from sdpose_core.weights.export import save_folder

TINY_INPUT = (192, 256)  # crop W x H used by tests: latent 24x32, heatmaps 48x64


def tiny_tokenizer(folder: Path):
    """A real CLIPTokenizer over a minimal byte-level vocabulary (ids of the CLIP specials kept)."""
    from transformers import CLIPTokenizer

    printable = [*range(ord("!"), ord("~") + 1), *range(ord("\u00a1"), ord("\u00ac") + 1), *range(ord("\u00ae"), 256)]
    chars = [chr(b) for b in printable] + [chr(256 + i) for i in range(256 - len(printable))]
    vocab = {c: i for i, c in enumerate(chars)}
    vocab.update({c + "</w>": i + len(chars) for i, c in enumerate(chars)})
    vocab.update({"<|startoftext|>": 49406, "<|endoftext|>": 49407})
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    return CLIPTokenizer.from_pretrained(str(folder))


def write_tiny_folder(path: Path, scheme: str, seed: int = 0) -> Path:
    """An official-layout SDPose folder with tiny random weights."""
    from transformers import CLIPTextConfig, CLIPTextModel

    unet, vae, head = random_parts("tiny", scheme, seed)
    torch.manual_seed(seed + 1)
    text_encoder = CLIPTextModel(CLIPTextConfig(**TEXT_CONFIGS["tiny"])).eval()
    tokenizer = tiny_tokenizer(path.parent / f".tok-{path.name}")
    return save_folder(path, unet, vae, head, text_encoder, tokenizer)


@pytest.fixture(scope="session")
def tiny_body(tmp_path_factory) -> Path:
    return write_tiny_folder(tmp_path_factory.mktemp("ckpt") / "SDPose-Body-tiny", "body")


@pytest.fixture(scope="session")
def tiny_wholebody(tmp_path_factory) -> Path:
    return write_tiny_folder(tmp_path_factory.mktemp("ckpt") / "SDPose-Wholebody-tiny", "wholebody", seed=1)


@pytest.fixture(scope="session")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="session")
def tiny_tokenizer_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tokenizer")
    tiny_tokenizer(folder)
    return folder
