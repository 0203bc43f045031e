"""One model-source resolver, one cache folder, one hub list and one 'WxH' parser for the library, the CLI, train/
and the ComfyUI nodes."""

from __future__ import annotations

import importlib
import importlib.util
import os
import shutil
import sys
from pathlib import Path

import pytest

from pack import import_pack
from sdpose_core.errors import CheckpointError, DownloadError, InputError
from sdpose_core.sizes import parse_size
from sdpose_core.weights import source

REPO = Path(__file__).resolve().parents[1]


def _pack_common():
    """nodes/common as ComfyUI imports it."""
    import_pack()
    return importlib.import_module("sdpose_pack.nodes.common")


def test_cache_dir_argument_then_env_then_front_end_default_then_home(tmp_path, monkeypatch):
    monkeypatch.delenv("SDPOSE_CACHE", raising=False)
    assert source.cache_dir() == Path.home() / ".cache" / "sdpose"  # the library's, as README says
    assert source.cache_dir(default=tmp_path / "nodes") == tmp_path / "nodes"  # ComfyUI's models/sdpose/.cache
    monkeypatch.setenv("SDPOSE_CACHE", str(tmp_path / "env"))
    assert source.cache_dir() == source.cache_dir(default=tmp_path / "nodes") == tmp_path / "env"
    assert source.cache_dir(tmp_path / "arg", default=tmp_path / "nodes") == tmp_path / "arg"


def test_hub_ids_and_scheme_names(tmp_path):
    assert source.hub_repo("body") == "teemosliang/SDPose-Body"
    assert source.hub_repo("wholebody") == "teemosliang/SDPose-Wholebody"
    assert source.hub_repo("someone/SD2-copy") == "someone/SD2-copy"
    missing = tmp_path / "nope" / "model"
    with pytest.raises(CheckpointError, match=r"not an existing file or folder, nor a hub id like 'teemosliang/"):
        source.resolve_source(missing, tmp_path)


def test_local_sources_resolve_as_given(tiny_body, tmp_path):
    single = tmp_path / "model.safetensors"
    single.write_bytes(b"")
    assert source.resolve_source(tiny_body, tmp_path / "cache") == tiny_body
    assert source.resolve_source(str(single), tmp_path / "cache") == single
    assert not (tmp_path / "cache").exists()


def test_hub_copy_is_found_in_any_root_and_offline_download_names_the_first(tiny_body, tmp_path, monkeypatch):
    """The nodes look in every models/sdpose/ folder, the library in cache/models: the same search either way."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    first, second = tmp_path / "a", tmp_path / "b"
    with pytest.raises(DownloadError) as info:
        source.hub_snapshot("teemosliang/SDPose-Body", [first, second])
    assert f"'{first / 'teemosliang--SDPose-Body'}'" in str(info.value) and not first.exists()
    copy = Path(shutil.copytree(tiny_body, second / "teemosliang--SDPose-Body"))
    assert source.hub_snapshot("teemosliang/SDPose-Body", [first, second]) == copy
    shutil.copytree(tiny_body, tmp_path / "cache" / "models" / "teemosliang--SDPose-Wholebody")
    assert source.resolve_source("wholebody", tmp_path / "cache") == \
        tmp_path / "cache" / "models" / "teemosliang--SDPose-Wholebody"  # offline: the cached copy, no download


def test_sdpose_unet_config_adds_the_task_switch_and_refuses_other_class_embeddings(tmp_path):
    assert source.sdpose_unet_config({"in_channels": 4}, "x") == {
        "in_channels": 4, "class_embed_type": "projection", "projection_class_embeddings_input_dim": 4}
    (tmp_path / "unet").mkdir()
    (tmp_path / "unet" / "config.json").write_text('{"class_embed_type": "timestep"}')
    with pytest.raises(CheckpointError, match=r"unet': class_embed_type is 'timestep', SDPose U-Nets use 'projection'"):
        source.read_unet_config(tmp_path)
    (tmp_path / "unet" / "config.json").write_text("{")
    with pytest.raises(CheckpointError, match="config.json' is not valid JSON"):
        source.read_unet_config(tmp_path)


def test_nodes_use_the_library_hub_list_cache_and_size_parser(tmp_path, monkeypatch):
    common = _pack_common()
    assert common.HUB_MODELS is sys.modules["sdpose_pack.sdpose_core.weights.source"].HUB_MODELS
    assert list(common.HUB_MODELS.values()) == ["teemosliang/SDPose-Wholebody", "teemosliang/SDPose-Body"]
    assert not hasattr(common, "cache_dir")
    monkeypatch.setenv("SDPOSE_INPUT_SIZE", " 192X256 ")
    assert common.input_size() == parse_size("192x256") == (192, 256)
    monkeypatch.setenv("SDPOSE_INPUT_SIZE", "big")
    pack_input_error = sys.modules["sdpose_pack.sdpose_core.errors"].InputError  # the pack's own copy of the library
    with pytest.raises(pack_input_error, match=r"\$SDPOSE_INPUT_SIZE='big' is not WIDTHxHEIGHT, e.g. 768x1024"):
        common.input_size()


def test_one_size_parser_for_the_command_lines(capsys):
    import argparse

    from sdpose_core import cli

    assert cli.parse_size is importlib.import_module("sdpose_core.cli.options").parse_size is parse_size
    assert parse_size("768X1024") == (768, 1024)
    for bad in ("768", "1x2x3", "axb"):
        with pytest.raises(InputError, match=f"expected WxH such as 768x1024, got '{bad}'"):
            parse_size(bad)
    parser = argparse.ArgumentParser(prog="p")
    parser.add_argument("--input-size", type=parse_size)
    with pytest.raises(SystemExit):
        parser.parse_args(["--input-size", "big"])
    assert "argument --input-size: expected WxH such as 768x1024, got 'big'" in capsys.readouterr().err


def test_a_finished_download_is_used_offline_even_without_a_head(tmp_path, monkeypatch):
    """Training starts from SD2 (no heatmap head): once its download finished, an offline run uses that copy."""
    calls = []

    def download(repo, target, allow_patterns=None):  # the hub cannot be reached here: what a finished download leaves
        if os.environ.get("HF_HUB_OFFLINE"):
            raise DownloadError("offline")
        calls.append(repo)
        (Path(target) / "unet").mkdir(parents=True, exist_ok=True)
        (Path(target) / "unet" / "config.json").write_text("{}")
        return Path(target)

    monkeypatch.setattr(source, "download_snapshot", download)
    sd2 = "stabilityai/stable-diffusion-2"
    first = source.resolve_source(sd2, tmp_path, ["unet/*"])
    assert first == tmp_path / "models" / "stabilityai--stable-diffusion-2" and calls == [sd2]
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert source.resolve_source(sd2, tmp_path, ["unet/*"]) == first and len(calls) == 1
    with pytest.raises(DownloadError):  # a caller that needs more files than were fetched downloads them
        source.resolve_source(sd2, tmp_path)
    (first / source.DOWNLOADED).unlink()  # an interrupted download: not used, downloaded again
    with pytest.raises(DownloadError):
        source.resolve_source(sd2, tmp_path, ["unet/*"])


@pytest.mark.parametrize("name", ["owner/name\n", "owner/" + "x" * 300, "owner/na\x00me", "/abs/../x", "a/b/c"])
def test_names_that_are_neither_a_path_nor_a_hub_id_are_refused_clearly(tmp_path, name):
    with pytest.raises(CheckpointError, match="not an existing file or folder, nor a hub id"):
        source.resolve_source(name, tmp_path)
    assert not (tmp_path / "models").exists()


@pytest.mark.parametrize("text", ["[]", "1", "[" * 100_000 + "]" * 100_000, "{", ""])
def test_a_config_that_is_not_a_json_object_is_named(tmp_path, text):
    path = tmp_path / "config.json"
    path.write_text(text)
    with pytest.raises(CheckpointError, match="config.json"):
        source.read_config(path)
