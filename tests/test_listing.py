"""The pack's one walker of ComfyUI's folders (nodes.common.listing): its policy, and its per-process cache that is
reused until a walked folder changes (so validating a prompt does not walk the folders again)."""

from __future__ import annotations

import os

from pack import import_pack


def walker():
    import importlib

    import_pack()
    return importlib.import_module("sdpose_pack.nodes.common")


def test_listing_policy_hidden_outside_links_and_model_folders(tmp_path):
    common = walker()
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "sub" / ".hidden").mkdir(parents=True)
    (root / "model" / "decoder").mkdir(parents=True)
    (root / "model" / "decoder" / "decoder.safetensors").write_bytes(b"x")
    (root / "sub" / "a.json").write_text("{}")
    (root / "sub" / ".hidden" / "b.json").write_text("{}")
    (root / ".c.json").write_text("{}")
    outside.mkdir()
    (outside / "secret.json").write_text("{}")
    os.symlink(outside, root / "link_out")
    os.symlink(root / "sub", root / "link_in")
    os.symlink(root, root / "sub" / "loop")
    os.symlink(outside / "secret.json", root / "sub" / "file_out.json")  # a file link leaving the root: left out
    os.symlink(root / "sub" / "a.json", root / "file_in.json")  # a file link inside: listed
    names = dict(common.listing(root, model_folders=True))
    assert names == {"model": "folder", "sub/a.json": "file", "link_in/a.json": "file", "file_in.json": "file"}
    assert "model/decoder/decoder.safetensors" in dict(common.listing(root))


def test_listing_is_cached_until_a_folder_changes(tmp_path, monkeypatch):
    common = walker()
    (tmp_path / "deep" / "er").mkdir(parents=True)
    (tmp_path / "deep" / "er" / "one.json").write_text("{}")
    first = common.listing(tmp_path)
    walks = []
    real_walk = os.walk
    monkeypatch.setattr(common.os, "walk", lambda *a, **k: walks.append(a) or real_walk(*a, **k))
    assert common.listing(tmp_path) == first and walks == []  # reused: no walk
    (tmp_path / "deep" / "er" / "two.json").write_text("{}")  # a change two levels down
    os.utime(tmp_path / "deep" / "er", ns=(1, 1))  # a distinct modification time on any file system
    assert [n for n, _ in common.listing(tmp_path)] == ["deep/er/one.json", "deep/er/two.json"] and len(walks) == 1
