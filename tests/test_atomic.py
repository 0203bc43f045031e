"""sdpose_core.atomic: the one atomic-write helper. Outputs appear whole or not at all, no temporary file is left
behind, nothing is written through a planted link, and a write that must not replace refuses a taken name."""

from __future__ import annotations

import itertools
import threading
from pathlib import Path

import pytest

from sdpose_core.atomic import (
    AlreadyExists,
    OutputSet,
    atomic_file,
    dumps_json,
    temp_path,
    write_atomic,
    write_json,
    write_text,
)
from sdpose_core.errors import InputError


def test_text_replaces_whole_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "a.json"
    write_text(target, "old")
    assert write_json(target, {"x": 1}) == target and target.read_text() == '{"x": 1}'
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_failed_write_keeps_the_old_file_and_cleans_up(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_file(target) as out:
            out.write("half")
            raise RuntimeError("crash mid-write")
    with pytest.raises(InputError, match="NaN"):
        write_json(target, {"x": float("nan")})
    with pytest.raises(OSError):
        write_atomic(tmp_path / "b.png", lambda tmp: (tmp.write_text("half"), tmp.joinpath("x").mkdir()))
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_no_replace_refuses_a_taken_name_even_a_dangling_link(tmp_path):
    (tmp_path / "taken.json").write_text("mine")
    (tmp_path / "link.json").symlink_to(tmp_path / "nowhere.json")
    for name in ("taken.json", "link.json"):
        with pytest.raises(AlreadyExists, match="already exists"):
            write_text(tmp_path / name, "new", replace=False)
    assert (tmp_path / "taken.json").read_text() == "mine" and not (tmp_path / "nowhere.json").exists()
    assert write_text(tmp_path / "free.json", "new", replace=False).read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["free.json", "link.json", "taken.json"]


def test_a_link_planted_at_a_temporary_name_is_never_written_through(tmp_path, monkeypatch):
    victim = tmp_path / "victim.txt"
    victim.write_text("safe")
    target = tmp_path / "out.json"
    monkeypatch.setattr("sdpose_core.atomic._calls", itertools.count())
    planted = temp_path(target, unique=True)
    planted.symlink_to(victim)
    monkeypatch.setattr("sdpose_core.atomic._calls", itertools.count())  # the writer's first try is the planted name
    write_text(target, "data")
    assert victim.read_text() == "safe" and target.read_text() == "data" and not target.is_symlink()
    assert planted.is_symlink()  # skipped, not followed nor removed


def test_a_folder_is_written_and_replaced_whole(tmp_path):
    folder = tmp_path / "model"

    def write(version: str):
        def fill(tmp: Path) -> None:
            (tmp / "unet").mkdir(parents=True)
            (tmp / "unet" / "config.json").write_text(version)
        return fill

    write_atomic(folder, write("1"))
    with pytest.raises(AlreadyExists):
        write_atomic(folder, write("2"), replace=False)
    write_atomic(folder, write("3"))
    assert (folder / "unet" / "config.json").read_text() == "3"
    assert [p.name for p in tmp_path.iterdir()] == ["model"]


def test_concurrent_writers_of_one_file_never_mix(tmp_path):
    target = tmp_path / "shared.json"
    texts = [str(i) * 100_000 for i in range(8)]
    threads = [threading.Thread(target=write_text, args=(target, t)) for t in texts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert target.read_text() in texts and [p.name for p in tmp_path.iterdir()] == ["shared.json"]


def test_a_file_never_replaces_a_folder_nor_a_folder_a_file(tmp_path):
    """Replacing is file-for-file and folder-for-folder: a save named like a folder must not delete the folder."""
    folder = tmp_path / "out.json"
    (folder / "precious").mkdir(parents=True)
    (folder / "precious" / "data.txt").write_text("mine")
    with pytest.raises(InputError, match="is a folder"):
        write_text(folder, "{}")
    plain = tmp_path / "plain"
    plain.write_text("mine")
    with pytest.raises(InputError, match="is a file"):
        write_atomic(plain, lambda tmp: tmp.mkdir())
    staged = OutputSet(tmp_path / ".stage")
    staged.path("out.json").write_text("{}")
    with pytest.raises(InputError, match="is a folder"):
        staged.publish(tmp_path, replace={"out.json"})
    assert (folder / "precious" / "data.txt").read_text() == "mine" and plain.read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".stage", "out.json", "plain"]


def test_json_nested_too_deeply_is_refused(tmp_path):
    deep: list = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(InputError, match="nested too deeply"):
        dumps_json(deep)
    with pytest.raises(InputError, match="nested too deeply"):
        write_json(tmp_path / "deep.json", deep)
    assert list(tmp_path.iterdir()) == []


def test_names_the_file_system_cannot_hold_are_refused_and_long_ones_work(tmp_path):
    long_name = "p" * 245 + ".json"  # 250 bytes: valid, though its usual temporary name would not be
    assert write_text(tmp_path / long_name, "{}").read_text() == "{}"
    with atomic_file(tmp_path / ("q" * 250 + ".txt")) as out:
        out.write("streamed")
    for bad, problem in (("x" * 256, "256 bytes long"), ("é" * 128, "256 bytes long"), ("a\x00b.json", "NUL")):
        with pytest.raises(InputError, match=problem):
            write_text(tmp_path / bad, "{}")
    assert sorted(len(p.name) for p in tmp_path.iterdir()) == [250, 254]


def test_the_signal_survives_a_library_that_turns_it_into_a_plain_keyboard_interrupt():
    """Ray turns the Interrupted raised inside its blocking calls into a bare KeyboardInterrupt; the command line
    still exits 128 + SIGTERM, as the local engine does."""
    import os
    import signal

    from sdpose_core.atomic import Interrupted, handle_signals, interrupting_signal

    def library_call() -> None:
        try:
            os.kill(os.getpid(), signal.SIGTERM)  # the handler runs before the next line
        except Interrupted:
            raise KeyboardInterrupt from None

    with handle_signals():
        try:
            library_call()
        except KeyboardInterrupt as exc:
            assert not isinstance(exc, Interrupted)
            assert interrupting_signal(exc) == signal.SIGTERM
        else:
            raise AssertionError("no interrupt")
    with handle_signals():
        assert interrupting_signal(KeyboardInterrupt()) == signal.SIGINT  # a new block forgets the last one
