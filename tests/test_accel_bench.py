"""bench/gpu.py end to end in its smoke mode (tiny model, CPU): the JSON and the table have every part."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_gpu_bench_smoke_writes_the_json_and_the_table(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, str(REPO / "bench" / "gpu.py"), "--smoke", "--device", "cpu",
                           "--schemes", "body", "--out", str(out)], capture_output=True, text=True, timeout=1200,
                          env={**os.environ, "TQDM_DISABLE": "1"}, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["preset"] == "tiny" and report["smoke"] is True and report["input_size"] == [128, 128]
    rows = {(r["path"], r["batch"], r["flip"]) for r in report["rows"]}
    assert rows == {("official", 1, False), ("official", 1, True), ("eager", 1, False), ("eager", 1, True),
                    ("eager", 2, False), ("eager", 2, True), ("compiled", 2, False), ("eager-fp32", 2, False)}
    for r in report["rows"]:
        assert r["scheme"] == "body" and r["crops_per_s"] > 0 and r["seconds"] > 0
        assert 0 <= r["heat_rel_err"] < 1 and r["kp_px_median"] >= 0 and 0 <= r["kp_within_1px"] <= 1
        assert (r["reserve_mib"] is None) == (r["path"] == "official")
    compiled = next(r for r in report["rows"] if r["path"] == "compiled")
    assert compiled["compile_s"] > 0 and "compile_failure" not in report
    assert report["clip"]["frames"] == 6 and report["clip"]["frames_per_s"] > 0
    table = proc.stdout[proc.stdout.index("crops/s"):]
    assert table.count("\nbody ") == len(report["rows"]) and "x official" in proc.stdout
    assert "video clip path: 6 frames 160x120" in proc.stdout


def test_gpu_bench_names_a_missing_package_and_its_wheel(tmp_path):
    """A machine without diffusers (the lent GPU machines have none) is told which wheel to carry."""
    blocker = tmp_path / "block"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'diffusers':\n"
        "            raise ImportError('No module named diffusers')\n"
        "sys.meta_path.insert(0, Block())\n")
    env = {**os.environ, "PYTHONPATH": str(blocker)}
    proc = subprocess.run([sys.executable, str(REPO / "bench" / "gpu.py"), "--smoke", "--device", "cpu"],
                          capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert proc.returncode == 3
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("missing: diffusers")
    assert "pip download --no-deps" in lines[0] and "diffusers==" in lines[0] and ".whl" in lines[0]
    assert not (tmp_path / "bench-gpu.json").exists()
