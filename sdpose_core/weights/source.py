"""Where a model comes from, and the U-Net config it is built with: one answer for every loader.

Inference (:func:`sdpose_core.weights.checkpoint.load_model`), training (``train.model.load_start``) and the
ComfyUI loader all turn a local folder, a single file, an official hub id or an earlier download into a path
here, read the U-Net config here, and keep downloads and the empty-prompt context under :func:`cache_dir`.
Importing this module is cheap (no torch): the ComfyUI nodes list the hub models from it at start-up.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path

from ..atomic import write_json
from ..errors import CheckpointError
from ..hub import download_snapshot

# The official releases, by scheme; the ComfyUI loader lists them in this order.
HUB_MODELS = {"wholebody": "teemosliang/SDPose-Wholebody", "body": "teemosliang/SDPose-Body"}
CACHE_ENV = "SDPOSE_CACHE"
HEAD_FILE = "decoder/decoder.safetensors"  # the heatmap head in an official folder; a download is usable once here
DOWNLOADED = ".sdpose-download-complete"  # written after a finished download (SD2 folders for training have no head)
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]{0,95}/[\w.-]{1,96}", re.ASCII)  # the Hub's names: 96 characters at most
LOG = logging.getLogger("sdpose")


def cache_dir(explicit: str | Path | None = None, default: Path | None = None) -> Path:
    """Where downloads and the cached empty-prompt context live: ``explicit``, else $SDPOSE_CACHE, else ``default``
    (the ComfyUI nodes pass models/sdpose/.cache), else ~/.cache/sdpose."""
    if explicit is not None:
        return Path(explicit)
    return Path(os.environ.get(CACHE_ENV) or default or Path.home() / ".cache" / "sdpose")


def hub_folder(repo: str, root: Path) -> Path:
    """The local copy of hub repository ``repo`` under ``root``: ``root/<owner>--<name>``."""
    return root / repo.replace("/", "--")


def hub_repo(source: str | Path) -> str:
    """A scheme name ('body', 'wholebody') or an 'owner/name' hub id -> the repository id; else a CheckpointError."""
    text = str(source)
    repo = HUB_MODELS.get(text, text)
    if not _HUB_ID.fullmatch(repo):
        raise CheckpointError(f"Model '{source}' not found: not an existing file or folder, nor a hub id like "
                              f"'{HUB_MODELS['body']}'.")
    return repo


def hub_snapshot(repo: str, roots: Sequence[Path], patterns: Sequence[str] | None = None) -> Path:
    """A local copy of ``repo``: the first one under ``roots`` that holds the SDPose head or a finished download,
    else a download (only ``patterns``, or every file) into the first root, marked finished once it is. Offline, one
    DownloadError names the URL and that folder."""
    wanted = list(patterns) if patterns is not None else "all"
    for root in roots:
        local = hub_folder(repo, root)
        if (local / HEAD_FILE).is_file() or _downloaded(local, wanted):
            return local
    target = hub_folder(repo, roots[0])
    LOG.info("SDPose: downloading %s to %s (first use)", repo, target)
    folder = download_snapshot(repo, target, allow_patterns=list(patterns) if patterns is not None else None)
    write_json(folder / DOWNLOADED, {"repo": repo, "files": wanted})
    return folder


def _downloaded(local: Path, wanted: list[str] | str) -> bool:
    """Whether a finished download in ``local`` fetched at least the files ``wanted`` (patterns, or "all")."""
    try:
        fetched = json.loads((local / DOWNLOADED).read_text()).get("files")
    except (OSError, ValueError, AttributeError, RecursionError):
        return False
    return fetched == "all" or (isinstance(fetched, list) and wanted != "all" and set(wanted) <= set(fetched))


def resolve_source(source: str | Path, cache: Path, patterns: Sequence[str] | None = None) -> Path:
    """An existing local folder or file as given; otherwise a hub id, downloaded once into ``cache/models``."""
    path = Path(source).expanduser()
    try:
        if path.exists():
            return path
    except (OSError, ValueError):  # a name too long for the file system, or with a NUL: not a local path
        pass
    return hub_snapshot(hub_repo(source), [cache / "models"], patterns)


def read_config(path: Path) -> dict:
    """A JSON config of an SDPose folder, or a CheckpointError naming the file and what the folder should hold."""
    if not path.is_file():
        raise CheckpointError(f"Missing '{path}'. An SDPose folder holds unet/, vae/, decoder/decoder.safetensors, "
                              "scheduler/ (and tokenizer/, text_encoder/ for the first load).")
    try:
        config = json.loads(path.read_text())
    except (ValueError, OSError, RecursionError) as exc:
        raise CheckpointError(f"'{path}' is not valid JSON ({type(exc).__name__}: {exc}).") from exc
    if not isinstance(config, dict):
        raise CheckpointError(f"'{path}' holds a JSON {type(config).__name__}, not the object of settings a config "
                              "is; is the file complete and the one the folder shipped with?")
    return config


def sdpose_unet_config(config: dict, where: str) -> dict:
    """``config`` with SDPose's task switch: the 4-d projection class embedding (an SD2 config has none yet)."""
    config = dict(config)
    kind = config.get("class_embed_type")
    if kind not in (None, "projection"):
        raise CheckpointError(f"{where}: class_embed_type is '{kind}', SDPose U-Nets use 'projection'.")
    config.update(class_embed_type="projection", projection_class_embeddings_input_dim=4)
    return config


def read_unet_config(folder: Path) -> dict:
    """The U-Net config of a diffusers folder (SDPose release or SD2), with SDPose's class embedding."""
    return sdpose_unet_config(read_config(folder / "unet" / "config.json"), f"'{folder / 'unet'}'")
