"""The batch job (``estimate`` on folders): resume, isolation of bad inputs, whole output sets under real signals
and concurrent runs, and one clear line for every bad value. Real files, real subprocesses, real signals."""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sdpose_core.atomic import OutputSet, write_json
from sdpose_core.cli.job import FAILURES_FILE, STATE_DIR
from sdpose_core.cli.main import main
from sdpose_core.errors import InputError

ROOT = Path(__file__).resolve().parents[1]


def _common(model: Path, out: Path, cache: Path) -> list[str]:
    return ["--model", str(model), "--out", str(out), "--input-size", "192x256", "--no-flip", "--detector", "none",
            "--cache-dir", str(cache), "--device", "cpu"]


def _images(folder: Path, n: int, seed: int = 0, size=(64, 48), ext: str = "png") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        pixels = rng.integers(0, 255, (size[0], size[1] + i % 3, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"img{i:02d}.{ext}")
    return folder


def _strict_json(path: Path):
    def refuse(token):
        raise ValueError(f"{path.name}: {token} is not JSON")

    return json.loads(path.read_text(), parse_constant=refuse)


def _outputs(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if not p.name.startswith("."))


def _assert_whole(out: Path, stems: set[str] | None = None) -> None:
    """Only whole image sets (JSON + PNG, both valid), no temporary file anywhere, nothing staged."""
    hidden = sorted(p.name for p in out.iterdir() if p.name.startswith("."))
    assert hidden == [STATE_DIR], hidden
    assert not list((out / STATE_DIR / "staging").iterdir())
    jsons = {p.stem for p in out.glob("*.json")}
    pngs = {p.name[: -len("_pose.png")] for p in out.glob("*_pose.png")}
    assert jsons == pngs, (jsons ^ pngs)
    for stem in jsons:
        pose = _strict_json(out / f"{stem}.json")
        assert Image.open(out / f"{stem}_pose.png").size == (pose["canvas_width"], pose["canvas_height"])
    if stems is not None:
        assert jsons == stems


def _fast(model: Path, out: Path, cache: Path) -> list[str]:
    """As _common with 64x64 crops: for the subprocess tests, where only the bookkeeping matters."""
    return [("64x64" if a == "192x256" else a) for a in _common(model, out, cache)]


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "sdpose_core", "estimate", *args]


# A test seam for the subprocess tests: every Python process started with ``_pausing_env`` (the CLI, Ray's workers)
# wraps one function of sdpose_core when its module is imported; the Nth call in a process writes ``paused-<pid>``
# into the pause folder and waits for ``go`` there before it goes on. Tests synchronise on these files, not on time.
PAUSE_SITE = """
import importlib.abc, importlib.util, os, sys, time
from pathlib import Path

_module, _, _name = os.environ["SDPOSE_TEST_PAUSE"].partition(":")
_folder, _call = Path(os.environ["SDPOSE_TEST_PAUSE_DIR"]), int(os.environ["SDPOSE_TEST_PAUSE_CALL"])


def _wrap(module):
    owner, _, attr = _name.rpartition(".")
    holder = getattr(module, owner) if owner else module
    original, calls = getattr(holder, attr), [0]

    def paused(*args, **kwargs):
        calls[0] += 1
        if calls[0] == _call:
            (_folder / f"paused-{os.getpid()}").write_text(str(calls[0]))
            while not (_folder / "go").exists():
                time.sleep(0.005)
        return original(*args, **kwargs)

    setattr(holder, attr, paused)


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        if fullname != _module:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)
            _wrap(module)

        spec.loader.exec_module = exec_module
        return spec


sys.meta_path.insert(0, _Finder())
"""


def _pausing_env(folder: Path, target: str, call: int) -> dict:
    """``_env()`` for a subprocess whose ``target`` ('module:qualified.name') pauses at its ``call``-th call."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(PAUSE_SITE)
    env = _env()
    env.update(PYTHONPATH=os.pathsep.join([str(folder), env["PYTHONPATH"]]), SDPOSE_TEST_PAUSE=target,
               SDPOSE_TEST_PAUSE_DIR=str(folder), SDPOSE_TEST_PAUSE_CALL=str(call))
    return env


def _paused(folder: Path) -> list[int]:
    """Process ids paused at the seam now."""
    return sorted(int(p.name.split("-")[1]) for p in folder.glob("paused-*"))


# ---------------------------------------------------------------------------------------------------- pieces
def test_output_set_moves_all_or_nothing_and_json_is_always_valid(tmp_path):
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "b.txt").write_text("the user's")
    staged = OutputSet(tmp_path / ".stage")
    staged.path("a.txt").write_text("a")
    staged.path("b.txt").write_text("b")
    with pytest.raises(InputError, match="already exists"):
        staged.publish(dest)
    assert sorted(p.name for p in dest.iterdir()) == ["b.txt"] and (dest / "b.txt").read_text() == "the user's"
    staged.publish(dest, replace={"b.txt"})
    assert (dest / "a.txt").read_text() == "a" and (dest / "b.txt").read_text() == "b"
    assert not (tmp_path / ".stage").exists()
    with pytest.raises(InputError, match="NaN or infinite"):
        write_json(tmp_path / "x.json", {"v": float("nan")})
    with pytest.raises(InputError, match="NaN or infinite"):
        write_json(tmp_path / "x.json", [1e308 * 10])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dest"]


# ---------------------------------------------------------------------------------------------------- resume
def test_rerun_resumes_redoes_changed_inputs_and_coco_covers_skipped(tiny_body, cache, tmp_path, capsys):
    folder = _images(tmp_path / "in", 3, ext="bmp")
    out, coco = tmp_path / "out", tmp_path / "coco.json"
    args = ["estimate", str(folder), *_fast(tiny_body, out, cache), "--coco-json", str(coco), "--batch-size", "2"]
    assert main(args) == 0
    first = _strict_json(coco)
    assert len(first) == 3 and "3 done, 0 skipped, 0 failed" in capsys.readouterr().out
    stamp = {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.name[0] != "."}

    assert main(args) == 0  # same command: everything skipped, nothing touched, COCO still covers all
    assert "0 done, 3 skipped, 0 failed" in capsys.readouterr().out
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.name[0] != "."} == stamp
    assert _strict_json(coco) == first

    img = folder / "img01.bmp"  # same size and mtime, other content (BMP: uncompressed): redone
    st = img.stat()
    pixels = np.asarray(Image.open(img)).copy()
    pixels[0, 0] ^= 0xFF
    Image.fromarray(pixels).save(img)
    os.utime(img, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert img.stat().st_size == st.st_size and img.stat().st_mtime_ns == st.st_mtime_ns
    os.utime(folder / "img02.bmp")  # only the mtime changes: redone
    assert main(args) == 0
    assert "2 done, 1 skipped, 0 failed" in capsys.readouterr().out
    assert _outputs(out) == sorted(f"img0{i}{s}" for i in range(3) for s in (".json", "_pose.png"))
    assert (out / "img00.json").stat().st_mtime_ns == stamp["img00.json"]
    assert (out / "img01.json").stat().st_mtime_ns != stamp["img01.json"]

    assert main([*args, "--overwrite"]) == 0  # recompute all, same names
    assert "3 done, 0 skipped, 0 failed" in capsys.readouterr().out
    _assert_whole(out, {"img00", "img01", "img02"})
    assert len(_strict_json(coco)) == 3


def test_damaged_job_records_give_one_clear_error_or_a_redo(tiny_body, cache, tmp_path, capsys):
    """A hand-edited record whose COCO result lost its score: one line naming the record file and the remedy; a
    record that is not a JSON object: that input is posed again."""
    folder = _images(tmp_path / "in", 2, ext="bmp")
    out, coco = tmp_path / "out", tmp_path / "coco.json"
    args = ["estimate", str(folder), *_fast(tiny_body, out, cache), "--coco-json", str(coco)]
    assert main(args) == 0
    capsys.readouterr()
    first = _strict_json(coco)
    records = out / ".sdpose-job" / "records"
    damaged = json.loads((records / "img00.json").read_text())
    del damaged["coco"][0]["score"]
    (records / "img00.json").write_text(json.dumps(damaged))
    (records / "img01.json").write_text("[]")
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"({records / 'img00.json'}) holds a COCO result that cannot be read" in err and "delete that record" in err
    assert "Traceback" not in err and _strict_json(coco) == first  # the earlier file is kept whole
    (records / "img00.json").unlink()  # img01 (no record object) was posed again by the run that stopped
    assert main(args) == 0
    assert "1 done, 1 skipped, 0 failed" in capsys.readouterr().out and len(_strict_json(coco)) == 2


def test_changed_settings_redo_and_replace_only_this_jobs_outputs(tiny_body, cache, tmp_path, capsys):
    folder = _images(tmp_path / "in", 1)
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.json").write_text("mine")  # the user's file: never touched
    args = ["estimate", str(folder), *_fast(tiny_body, out, cache)]
    assert main(args) == 0
    before = (out / "img00.json").read_text()
    assert main([*args, "--threshold", "0", "--raw-scores"]) == 0
    assert "1 done" in capsys.readouterr().out
    assert (out / "img00.json").read_text() != before and _outputs(out) == ["img00.json", "img00_pose.png",
                                                                            "notes.json"]
    assert (out / "notes.json").read_text() == "mine"


# ---------------------------------------------------------------------------------------------------- isolation
def _bomb_png(path: Path, side: int = 30000) -> None:
    """A PNG whose header announces side x side pixels (over PIL's decompression-bomb limit); tiny on disk."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))


def test_bad_inputs_are_reported_and_the_rest_is_done(tiny_body, cache, tmp_path, capsys):
    folder = _images(tmp_path / "in", 3)
    (folder / "empty.png").write_bytes(b"")
    (folder / "text.jpg").write_text("not an image")
    _bomb_png(folder / "huge.png")
    Image.fromarray(np.zeros((1, 40, 3), np.uint8)).save(folder / "line.png")
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({"img01.png": [[500, 500, 10, 10]]}))  # lies outside the 49x64 image
    out = tmp_path / "out"
    code = main(["estimate", str(folder), *_fast(tiny_body, out, cache), "--batch-size", "3"])
    captured = capsys.readouterr()
    assert code == 1
    for name in ("empty.png", "text.jpg", "huge.png", "line.png"):
        assert name in captured.err
    assert "too large" in captured.err and "Traceback" not in captured.err
    assert "3 done, 0 skipped, 4 failed" in captured.out
    lines = (out / FAILURES_FILE).read_text().splitlines()
    assert sorted(Path(line.split("\t")[0]).name for line in lines) == ["empty.png", "huge.png", "line.png",
                                                                        "text.jpg"]
    assert all(line.split("\t")[1] for line in lines)  # each with its reason
    _assert_whole(out, {"img00", "img01", "img02"})
    for bad in ("empty.png", "text.jpg", "huge.png", "line.png"):
        (folder / bad).unlink()
    assert main(["estimate", str(folder), *_fast(tiny_body, out, cache), "--boxes", str(boxes)]) == 1
    captured = capsys.readouterr()
    assert "img01.png" in captured.err and "outside" in captured.err
    assert "2 done, 0 skipped, 1 failed" in captured.out  # boxes changed for all: the others are redone
    assert [Path(line.split("\t")[0]).name for line in (out / FAILURES_FILE).read_text().splitlines()] == [
        "img01.png"]
    assert main(["estimate", str(folder), *_fast(tiny_body, out, cache)]) == 0  # fixed: done, list removed
    assert not (out / FAILURES_FILE).exists()


def test_truncated_video_is_a_failure_not_a_short_result(tiny_body, cache, tmp_path, capsys):
    import av

    clip = tmp_path / "in" / "clip.mp4"
    clip.parent.mkdir()
    container = av.open(str(clip), "w", format="mp4", options={"movflags": "faststart"})  # index first
    stream = container.add_stream("libx264", rate=25)
    stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
    rng = np.random.default_rng(0)
    for _ in range(60):
        frame = av.VideoFrame.from_ndarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8), format="rgb24")
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))
    container.close()
    data = clip.read_bytes()
    clip.write_bytes(data[: len(data) // 4])  # a download cut short
    _images(clip.parent, 1)
    out = tmp_path / "out"
    assert main(["estimate", str(clip.parent), *_fast(tiny_body, out, cache)]) == 1
    captured = capsys.readouterr()
    assert "clip.mp4" in captured.err and "of the 60 frames" in captured.err and "truncated" in captured.err
    assert _outputs(out) == ["img00.json", "img00_pose.png", FAILURES_FILE]


# ---------------------------------------------------------------------------------------------------- bad values
@pytest.mark.parametrize("extra, message", [
    (["--boxes", "{boxes}"], "box 0: expected [x, y, w, h]"),
    (["--threshold", "nan"], "--threshold must be a number in 0..1"),
    (["--threshold", "5"], "--threshold must be a number in 0..1"),
    (["--crf", "-5"], "--crf must be 0..51"),
    (["--device", "cuda"], "no CUDA GPU is usable here"),
    (["--device", "toaster"], "is not a device name"),
    (["--coco-json", "{folder}"], "is a folder"),
    (["--batch-size", "0"], "--batch-size must be at least 1"),
    (["--smooth-beta", "inf"], "--smooth-beta"),
    (["--num-workers", "2"], "need --engine ray"),
    (["--stick-width", "0"], "--stick-width: stick_width (limb half-width) must be 1..64"),
    (["--point-size", "0"], "--point-size: point_size (joint and hand dot radius) must be 1..64"),
    (["--point-size", "1000000000"], "must be 1..64"),
    (["--point-size", "99999999999"], "must be 1..64"),
    (["--stick-width", "99999999999"], "must be 1..64"),
    (["--face-point-size", "65"], "must be 1..64"),
    (["--coco-json", "{folder}/" + "c" * 251 + ".json"], "is 256 bytes long (at most 255)"),
    (["--coco-json", "/proc/results.json"], "cannot write a file there"),
])
def test_bad_values_get_one_line_before_the_model_loads(extra, message, tmp_path, capsys):
    folder = _images(tmp_path / "in", 1)
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({"img00.png": ["10 10 20 20"]}))
    extra = [e.format(boxes=boxes, folder=tmp_path) for e in extra]
    missing_model = tmp_path / "no-model"  # loading it would fail: the check must come first
    code = main(["estimate", str(folder), *_common(missing_model, tmp_path / "out", tmp_path / "cache")[:-2], *extra])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize("entry, message", [
    ({"img00.png": "10,10,20,20"}, "expected a list of [x, y, w, h] boxes"),
    ({"img00.png": [[10, 10, 1e308 * 10, 5]]}, "NaN, infinite or absurd"),
    ({"img00.png": [[10, 10, 1e308, 5]]}, "NaN, infinite or absurd"),
    ({"img00.png": [[10, 10, "NaN", 5]]}, "as numbers"),
    ({"img00.png": [[10, 10, -4, 5]]}, "zero or negative width"),
    ({"img00.png": [[True, 1, 2, 3]]}, "as numbers"),
])
def test_bad_boxes_are_named(entry, message, tmp_path, capsys):
    folder = _images(tmp_path / "in", 1)
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps(entry))  # Python writes Infinity for 1e308 * 10: the file's own mistake
    code = main(["estimate", str(folder), *_common(tmp_path / "nomodel", tmp_path / "out", tmp_path),
                 "--boxes", str(boxes)])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "img00.png" in err and len(err.strip().splitlines()) == 1, err


def test_output_paths_are_checked_before_the_model_loads(tmp_path, capsys):
    folder = _images(tmp_path / "in", 1)
    a_file = tmp_path / "taken.txt"
    a_file.write_text("the user's")
    nomodel = tmp_path / "nomodel"
    for out, message in ((a_file, "is a file"), (a_file / "sub", "which is a file"),
                         (tmp_path / ("o" * 256), "File name too long"), (Path("/proc/sdpose-out"), "cannot create")):
        assert main(["estimate", str(folder), *_common(nomodel, out, tmp_path)]) == 2
        assert message in capsys.readouterr().err
    for coco, message in ((a_file, "already exists and was not written by this job"),
                          (folder / "img00.png", "one of the inputs"),
                          (tmp_path / "out" / "img00.json", "also an output")):
        assert main(["estimate", str(folder), *_common(nomodel, tmp_path / "out", tmp_path),
                     "--coco-json", str(coco)]) == 2
        assert message in capsys.readouterr().err
    assert a_file.read_text() == "the user's"
    for coco in ("written.json", "records/img00.json", "lock"):  # the job's own files are as protected as outputs
        assert main(["estimate", str(folder), *_common(nomodel, tmp_path / "out", tmp_path),
                     "--coco-json", str(tmp_path / "out" / STATE_DIR / coco)]) == 2
        assert "inside the job's own folder" in capsys.readouterr().err
    assert not (tmp_path / "out" / STATE_DIR / "written.json").exists()


def test_a_model_that_cannot_load_leaves_no_new_folder(tmp_path, capsys):
    """The checks make nothing: a missing --out (and its missing parents) appear only for a run that starts work;
    a folder the user already had keeps what is in it."""
    folder = _images(tmp_path / "in", 1)
    out = tmp_path / "new" / "out"
    assert main(["estimate", str(folder), *_common(tmp_path / "nomodel", out, tmp_path)]) == 2
    assert "nomodel" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "keep.txt").write_text("the user's")
    assert main(["estimate", str(folder), *_common(tmp_path / "nomodel", mine, tmp_path)]) == 2
    assert (mine / "keep.txt").read_text() == "the user's"


def test_a_long_input_name_gets_a_short_output_name_and_the_rest_is_done(tiny_body, cache, tmp_path, capsys):
    """A valid 255-byte file name: its '<stem>_pose.png' could not exist, so its outputs get a shortened unique
    stem (the first characters, '~', a digest of the name); the batch is not aborted and reruns skip it."""
    folder = _images(tmp_path / "in", 2)
    for size in (255, 247):
        (folder / ("é" * ((size - 5) // 2) + "x" * ((size - 5) % 2) + ".png")).write_bytes(
            (folder / "img00.png").read_bytes())
    out = tmp_path / "out"
    assert main(["estimate", str(folder), *_fast(tiny_body, out, cache)]) == 0
    assert "4 done, 0 skipped, 0 failed" in capsys.readouterr().out
    stems = {p.stem for p in out.glob("*.json")}
    assert {"img00", "img01"} < stems and len(stems) == 4
    long = sorted(stems - {"img00", "img01"})
    assert all(len(os.fsencode(s)) <= 200 and s.startswith("éé") and "~" in s for s in long), long
    assert long[0] != long[1]
    _assert_whole(out)
    assert main(["estimate", str(folder), *_fast(tiny_body, out, cache)]) == 0
    assert "0 done, 4 skipped, 0 failed" in capsys.readouterr().out


def _unescape(field: str) -> str:
    """The reader the README gives for the failures file (backslash escapes, \\xNN: a byte of the file name)."""
    raw = field.encode("utf-8", "surrogateescape").decode("unicode_escape").encode("latin-1")
    return raw.decode("utf-8", "surrogateescape")


def test_failures_file_escapes_names_with_tabs_newlines_and_other_bytes(tiny_body, cache, tmp_path, capsys):
    folder = _images(tmp_path / "in", 1)
    names = ["bad\tname\nwith\\back.png", "caf" + b"\xe9".decode("utf-8", "surrogateescape") + ".png", "ok\r.png"]
    for name in names:
        (folder / name).write_text("not an image")
    out = tmp_path / "out"
    assert main(["estimate", str(folder), *_fast(tiny_body, out, cache)]) == 1
    capsys.readouterr()
    lines = (out / FAILURES_FILE).read_bytes().decode("utf-8").split("\n")
    assert lines[-1] == "" and len(lines) == 4  # one line per failure, each ending in a newline
    fields = [line.split("\t") for line in lines[:-1]]
    assert all(len(f) == 2 and f[1] for f in fields)  # path, tab, reason: no other tab
    assert sorted(Path(_unescape(f[0])).name for f in fields) == sorted(names)


def test_engine_ray_without_ray_says_how_to_install(tmp_path):
    code = ("import sys; sys.modules['ray'] = None\n"  # as if Ray were not installed
            "from sdpose_core.cli.main import main\n"
            f"sys.exit(main(['estimate', {str(tmp_path)!r}, '--model', 'x', '--out', {str(tmp_path / 'o')!r}, "
            "'--engine', 'ray']))")
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "a.png")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(), timeout=120)
    assert proc.returncode == 2 and "pip install -r requirements-ray.txt" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


# ---------------------------------------------------------------------------------------------------- signals
def _wait_for(predicate, proc, timeout=240.0) -> None:
    _wait_for_all(predicate, [proc], timeout)


def _wait_for_all(predicate, procs, timeout=240.0) -> None:
    """Poll ``predicate`` (an event: a file appeared) while every process is still running."""
    end = time.monotonic() + timeout
    while not predicate():
        for proc in procs:
            assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_signals_leave_whole_sets_and_a_rerun_finishes(sig, tiny_body, cache, tmp_path):
    n = 10
    folder = _images(tmp_path / "in", n)
    out, coco = tmp_path / "out", tmp_path / "coco.json"
    cmd = _cli(str(folder), *_fast(tiny_body, out, cache), "--batch-size", "1", "--coco-json", str(coco))
    pause = tmp_path / "pause"  # the third input's outputs staged, not yet published: the run is mid-way for sure
    proc = subprocess.Popen(cmd, env=_pausing_env(pause, "sdpose_core.cli.job:Job.publish", 3),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    staging = out / STATE_DIR / "staging"
    _wait_for(lambda: _paused(pause), proc)
    assert len(list(out.glob("*.json"))) == 2 and any(p.iterdir() for p in staging.iterdir())
    proc.send_signal(sig)
    (pause / "go").touch()
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == (-signal.SIGKILL if sig == signal.SIGKILL else 128 + sig), err
    done = {p.stem for p in out.glob("*.json")}
    assert 2 <= len(done) < n
    if sig != signal.SIGKILL:
        assert "interrupted" in err and "Traceback" not in err
        _assert_whole(out)
        assert not list((out / STATE_DIR / "runs").iterdir())
    else:  # killed: its staged files stay hidden until the next run cleans them up
        assert any(p.iterdir() for p in staging.iterdir())
    assert not coco.exists()
    stamp = {s: (out / f"{s}.json").stat().st_mtime_ns for s in done}
    rerun = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{n - len(done)} done, {len(done)} skipped, 0 failed" in rerun.stdout
    _assert_whole(out, {f"img{i:02d}" for i in range(n)})
    assert not list((out / STATE_DIR / "runs").iterdir())
    assert {s: (out / f"{s}.json").stat().st_mtime_ns for s in done} == stamp  # finished ones untouched
    assert sorted(r["image_id"] for r in _strict_json(coco)) == sorted(f"img{i:02d}" for i in range(n))


def test_sigterm_during_a_video_leaves_nothing(tiny_body, cache, tmp_path):
    from test_video import moving_box_frames, write_clip

    clip = write_clip(tmp_path / "in" / "walk.mp4", (f for f, _ in moving_box_frames(150, size=(64, 48),
                                                                                     box=(10, 20), speed=(0, 0))))
    out = tmp_path / "out"
    proc = subprocess.Popen(_cli(str(clip), *_fast(tiny_body, out, cache), "--frames", "--batch-size", "2"),
                            env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    staging = out / STATE_DIR / "staging"
    _wait_for(lambda: any(True for _ in staging.rglob("*.png")), proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM and "interrupted (SIGTERM)" in err, err
    assert _outputs(out) == []
    assert [p.name for p in out.iterdir()] == [STATE_DIR] and not list(staging.iterdir())


# ---------------------------------------------------------------------------------------------------- concurrency
def test_two_runs_at_once_same_inputs_one_set_other_inputs_other_names(tiny_body, cache, tmp_path):
    same = _images(tmp_path / "same", 4)
    out = tmp_path / "out"
    args = _fast(tiny_body, out, cache)
    pause = tmp_path / "pause-plan"  # both runs planning at the same moment: they overlap from there on
    env = _pausing_env(pause, "sdpose_core.cli.job:Job.plan", 1)
    procs = [subprocess.Popen(_cli(str(same), *args, "--batch-size", "1"), env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    _wait_for_all(lambda: _paused(pause) == sorted(p.pid for p in procs), procs)
    (pause / "go").touch()
    results = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    _assert_whole(out, {f"img{i:02d}" for i in range(4)})  # one set, no numbered copies

    other_a, other_b = _images(tmp_path / "a", 2, seed=1, size=(40, 30)), _images(tmp_path / "b", 2, seed=2,
                                                                                  size=(50, 70))
    out2 = tmp_path / "out2"
    args = _fast(tiny_body, out2, cache)
    pause = tmp_path / "pause-publish"  # both runs with a staged set at the same moment, publishing after it
    env = _pausing_env(pause, "sdpose_core.cli.job:Job.publish", 1)
    procs = [subprocess.Popen(_cli(str(f), *args, "--batch-size", "1"), env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for f in (other_a, other_b)]
    _wait_for_all(lambda: _paused(pause) == sorted(p.pid for p in procs), procs)
    (pause / "go").touch()
    results = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    _assert_whole(out2, {"img00", "img01", "img00-1", "img01-1"})
    widths = {_strict_json(out2 / f"{s}.json")["canvas_height"] for s in ("img00", "img00-1")}
    assert widths == {40, 50}  # each JSON with its own input's PNG (checked in _assert_whole)


def test_coco_image_ids_of_non_utf8_names_are_plain_reversible_text(tiny_body, cache, tmp_path, capsys):
    """A file name with a byte that is not UTF-8: its image_id was a lone surrogate no JSON tool round-trips. Now:
    '%XX' per such byte, '%' as '%25'; urllib.parse.unquote_to_bytes gives the name's bytes back."""
    import urllib.parse

    folder = _images(tmp_path / "in", 1)
    stems = [os.fsdecode(b"caf\xe9"), "50%off", "000000000042", "\u00e9t\u00e9"]
    for stem in stems:
        (folder / f"{stem}.png").write_bytes((folder / "img00.png").read_bytes())
    (folder / "img00.png").unlink()
    out, coco = tmp_path / "out", tmp_path / "results.json"
    assert main(["estimate", str(folder), *_fast(tiny_body, out, cache), "--coco-json", str(coco)]) == 0
    records = json.loads(coco.read_bytes().decode("utf-8"))  # strict UTF-8: no lone surrogate anywhere
    ids = {r["image_id"] for r in records}
    assert ids == {"caf%E9", "50%25off", 42, "\u00e9t\u00e9"}, ids
    back = {os.fsdecode(urllib.parse.unquote_to_bytes(i)) for i in ids if isinstance(i, str)}
    assert back == {os.fsdecode(b"caf\xe9"), "50%off", "\u00e9t\u00e9"}
