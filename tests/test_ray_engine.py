"""``--engine ray`` on a local Ray cluster of two CPU workers: the same bytes as one process, resume, and a worker
killed mid-run (its unit is posed again elsewhere; every output exactly once)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch

from sdpose_core.cli.job import STATE_DIR
from sdpose_core.cli.main import main
from test_batch import _assert_whole, _cli, _env, _fast, _images, _paused, _pausing_env, _strict_json, _wait_for

ray = pytest.importorskip("ray", reason="Ray is optional: pip install -r requirements-ray.txt")


def test_two_ray_workers_give_the_bytes_of_one_process_and_resume(tiny_body, cache, tmp_path, capsys):
    folder = _images(tmp_path / "in", 6)
    local, distributed = tmp_path / "local", tmp_path / "ray"
    coco = {local: tmp_path / "local.json", distributed: tmp_path / "ray.json"}
    extra = ["--batch-size", "2", "--threshold", "0", "--raw-scores"]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each of the two workers on two cores: CPU float sums depend on the thread count
    try:
        assert main(["estimate", str(folder), *_fast(tiny_body, local, cache), *extra,
                     "--coco-json", str(coco[local])]) == 0
    finally:
        torch.set_num_threads(threads)
    ray_args = ["estimate", str(folder), *_fast(tiny_body, distributed, cache)[:-2], *extra, "--engine", "ray",
                "--num-workers", "2", "--coco-json", str(coco[distributed])]
    assert main(ray_args) == 0
    assert "6 done, 0 skipped, 0 failed" in capsys.readouterr().out
    names = sorted(p.name for p in local.iterdir() if p.name != STATE_DIR)
    assert names == sorted(p.name for p in distributed.iterdir() if p.name != STATE_DIR) and len(names) == 12
    for name in names:
        assert (local / name).read_bytes() == (distributed / name).read_bytes(), name
    assert _strict_json(coco[local]) == _strict_json(coco[distributed])
    assert main(ray_args) == 0  # resume works the same (and starts no cluster)
    assert "0 done, 6 skipped, 0 failed" in capsys.readouterr().out
    assert not ray.is_initialized()


def test_a_worker_killed_mid_run_is_replaced_and_every_output_is_written_once(tiny_body, cache, tmp_path):
    folder = _images(tmp_path / "in", 12)
    out = tmp_path / "out"
    cmd = _cli(str(folder), *_fast(tiny_body, out, cache)[:-2], "--batch-size", "1", "--engine", "ray",
               "--num-workers", "2")
    pause = tmp_path / "pause"  # each worker's second unit waits, inside PoseWorker.run, until the test says go
    proc = subprocess.Popen(cmd, env=_pausing_env(pause, "sdpose_core.cli.ray_engine:run_unit", 2),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for(lambda: _paused(pause), proc)
    victim = _paused(pause)[0]
    assert Path(f"/proc/{victim}/cmdline").read_bytes().startswith(b"ray::PoseWorker")  # a worker, busy posing
    os.kill(victim, signal.SIGKILL)
    (pause / "go").touch()
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr[-3000:]
    assert "a Ray worker died while posing" in stderr and "trying again" in stderr
    assert "12 done, 0 skipped, 0 failed" in stdout
    _assert_whole(out, {f"img{i:02d}" for i in range(12)})
    records = [json.loads(p.read_text()) for p in (out / STATE_DIR / "records").glob("*.json")]
    assert len(records) == 12 and all(r["state"] == "done" for r in records)
    assert not Path(out / STATE_DIR / "runs").exists() or not list((out / STATE_DIR / "runs").iterdir())


def _interrupt(cmd: list[str], out: Path, sig: int, ignore_sigint: bool) -> subprocess.CompletedProcess:
    """Start ``cmd`` (SIGINT ignored, as a non-interactive shell starts background jobs, if ``ignore_sigint``),
    send ``sig`` once its first output is published, and collect it."""
    def setup() -> None:
        if ignore_sigint:
            signal.signal(signal.SIGINT, signal.SIG_IGN)

    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=setup)
    end = time.monotonic() + 240
    while not list(out.glob("*.json")):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < end, "nothing was published"
        time.sleep(0.05)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=240)
    return subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)


@pytest.mark.parametrize("sig, ignored", [(signal.SIGTERM, False), (signal.SIGINT, True)])
def test_signals_stop_the_ray_engine_as_the_local_one(sig, ignored, tiny_body, cache, tmp_path):
    """SIGTERM: status 143 and the 'interrupted' line (Ray's own handler exited with 15, silently); SIGINT in a
    non-interactive start (SIGINT ignored when started): status 130 as the local engine, not ignored. Both engines;
    whole sets only, and a rerun finishes."""
    folder = _images(tmp_path / "in", 12)
    for engine in ("local", "ray"):
        out = tmp_path / engine
        extra = ["--engine", "ray", "--num-workers", "1"] if engine == "ray" else []
        cmd = _cli(str(folder), *_fast(tiny_body, out, cache)[:-2], "--batch-size", "1", *extra)
        result = _interrupt(cmd, out, sig, ignored)
        assert result.returncode == 128 + sig, (engine, result.returncode, result.stderr[-2000:])
        assert "interrupted (" + signal.Signals(sig).name + ")" in result.stderr, (engine, result.stderr[-2000:])
        _assert_whole(out)
        finish = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=300)
        assert finish.returncode == 0, finish.stderr[-2000:]
        _assert_whole(out, {f"img{i:02d}" for i in range(12)})
