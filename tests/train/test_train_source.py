"""Training starts from a model found and read exactly as inference finds and reads it (one resolver, one U-Net
config reader): the same source gives the same folder and config, and the same bad source the same error."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import torch

from sdpose_core.errors import CheckpointError, DownloadError
from sdpose_core.weights.checkpoint import load_model
from sdpose_core.weights.source import hub_folder, resolve_source
from train import evaluate as ev
from train.model import StartError, load_start


def _error(call, *args, **kwargs) -> Exception:
    with pytest.raises((CheckpointError, DownloadError, StartError)) as info:
        call(*args, **kwargs)
    return info.value


def _same_start(model, parts) -> None:
    """The trained-from parts are the weights and config inference loaded."""
    assert dict(parts.unet.config) == dict(model.unet.config)
    assert parts.unet.config.class_embed_type == "projection"
    heads = parts.head.state_dict(), model.head.state_dict()
    assert heads[0].keys() == heads[1].keys() and all(torch.equal(heads[0][k], heads[1][k]) for k in heads[0])
    assert torch.equal(parts.context, model.context)


def test_same_folder_and_cached_hub_copy_load_the_same_through_both(micro_body, tmp_path, monkeypatch):
    model = load_model(micro_body, cache=tmp_path / "cache")
    _same_start(model, load_start(str(micro_body), "body"))
    # A hub id whose copy is in the cache: both use it offline (training used to ask the hub every time).
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cache = tmp_path / "hub-cache"
    copy = shutil.copytree(micro_body, hub_folder("teemosliang/SDPose-Body", cache / "models"))
    assert resolve_source("body", cache) == resolve_source("teemosliang/SDPose-Body", cache) == Path(copy)
    _same_start(load_model("body", cache=cache), load_start("teemosliang/SDPose-Body", "body", cache_dir=str(cache)))


def test_missing_source_and_offline_hub_are_the_same_error(tmp_path, monkeypatch):
    missing = tmp_path / "nope" / "model"
    inference, training = _error(load_model, missing, cache=tmp_path), _error(load_start, str(missing), "body")
    assert type(inference) is type(training) is CheckpointError and str(inference) == str(training)
    assert "not an existing file or folder, nor a hub id" in str(training)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    inference = _error(load_model, "teemosliang/SDPose-Body", cache=tmp_path)
    training = _error(load_start, "body", "body", cache_dir=str(tmp_path))
    for error in (inference, training):  # the same folder and URL; training asks for fp32 weights only
        assert type(error) is DownloadError and "HF_HUB_OFFLINE is set" in str(error)
        assert f"'{tmp_path / 'models' / 'teemosliang--SDPose-Body'}'" in str(error)
        assert "https://huggingface.co/teemosliang/SDPose-Body/tree/main" in str(error)


@pytest.mark.parametrize("config, match", [('{"class_embed_type": "timestep"}', "class_embed_type is 'timestep'"),
                                           ("{", "is not valid JSON"), (None, "Missing '.*config.json'")])
def test_corrupt_unet_config_is_the_same_error(micro_body, tmp_path, config, match):
    folder = Path(shutil.copytree(micro_body, tmp_path / "copy"))
    if config is None:
        (folder / "unet" / "config.json").unlink()
    else:
        (folder / "unet" / "config.json").write_text(config)
    inference, training = _error(load_model, folder, cache=tmp_path / "cache"), _error(load_start, str(folder), "body")
    assert type(inference) is type(training) is CheckpointError and str(inference) == str(training)
    assert re.search(match, str(training)), str(training)


def test_a_single_file_is_not_a_start_folder(tmp_path):
    """An existing file resolves to itself (it used to be taken for a hub id and downloaded)."""
    single = tmp_path / "sdpose_wholebody_fp16.safetensors"
    single.write_bytes(b"")
    error = _error(load_start, str(single), "wholebody")
    assert type(error) is StartError and f"'{single}' has no unet/" in str(error)


def test_sd2_config_gains_the_task_switch(tmp_path):
    from micro import write_sd2_like_folder

    from sdpose_core.weights.source import read_unet_config

    folder = write_sd2_like_folder(tmp_path / "sd2")
    assert json.loads((folder / "unet" / "config.json").read_text()).get("class_embed_type") is None
    config = read_unet_config(folder)
    assert (config["class_embed_type"], config["projection_class_embeddings_input_dim"]) == ("projection", 4)
    parts = load_start(str(folder), "body")
    assert parts.kind == "sd2" and parts.unet.config.class_embed_type == "projection"


def test_evaluate_reads_sizes_with_the_library_parser(capsys):
    args = ev.build_parser().parse_args(["--ann", "a.json", "--scheme", "body", "--results", "r.json",
                                         "--input-size", "64X128"])
    assert args.input_size == (64, 128)
    with pytest.raises(SystemExit):
        ev.build_parser().parse_args(["--ann", "a.json", "--scheme", "body", "--results", "r.json",
                                      "--input-size", "64"])
    assert "argument --input-size: expected WxH such as 768x1024, got '64'" in capsys.readouterr().err
