"""``python -m sdpose_core estimate``: files and folders in, per-image JSON and COCO results out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sdpose_core.cli import main

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def images(tmp_path) -> Path:
    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (120, 90, 3), dtype=np.uint8)).save(folder / "000000000042.png")
    Image.fromarray(rng.integers(0, 255, (80, 100), dtype=np.uint8)).save(folder / "grey_frame.jpg")
    (folder / "notes.txt").write_text("not an image")
    return folder


def _common(model: Path, out: Path, cache: Path) -> list[str]:
    return ["--model", str(model), "--out", str(out), "--input-size", "192x256", "--no-flip", "--detector", "none",
            "--cache-dir", str(cache), "--device", "cpu"]


def test_estimate_folder_with_boxes_and_coco_json(tiny_body, cache, images, tmp_path, capsys):
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({"000000000042.png": [[10, 10, 50, 90], [30, 5, 40, 60]]}))
    out, coco = tmp_path / "out", tmp_path / "res" / "coco.json"
    assert main(["estimate", str(images), *_common(tiny_body, out, cache), "--boxes", str(boxes),
                 "--coco-json", str(coco), "--batch-size", "3"]) == 0
    first = json.loads((out / "000000000042.json").read_text())
    assert first["width"] == 90 and first["height"] == 120 and first["scheme"] == "body"
    assert [p["bbox"] for p in first["people"]] == [[10, 10, 50, 90], [30, 5, 40, 60]]
    assert all(len(p["keypoints"]) == 17 for p in first["people"])
    grey = json.loads((out / "grey_frame.json").read_text())
    assert grey["people"] == []  # a boxes file that lists no boxes for an image means nobody there
    records = json.loads(coco.read_text())
    assert len(records) == 2
    assert {r["image_id"] for r in records} == {42}
    r = records[0]
    assert r["category_id"] == 1 and r["bbox"] == [10, 10, 50, 90] and len(r["keypoints"]) == 17 * 3
    kp = np.array(r["keypoints"]).reshape(17, 3)
    valid = kp[:, 2][kp[:, 2] > 0.2]
    assert r["score"] == pytest.approx(valid.mean() if valid.size else 0.0, abs=1e-3)


def test_whole_image_without_detector_and_no_overwrite(tiny_wholebody, cache, images, tmp_path):
    out = tmp_path / "out"
    args = ["estimate", str(images / "grey_frame.jpg"), *_common(tiny_wholebody, out, cache)]
    assert main(args) == 0
    assert main(args) == 0
    a = json.loads((out / "grey_frame.json").read_text())
    b = json.loads((out / "grey_frame-1.json").read_text())
    assert a == b and a["people"][0]["bbox"] == [0, 0, 100, 80] and len(a["people"][0]["keypoints"]) == 133


def test_bad_paths_and_models_give_clear_errors(tiny_body, cache, tmp_path, capsys):
    assert main(["estimate", str(tmp_path / "missing.png"), *_common(tiny_body, tmp_path / "o", cache)]) == 2
    assert "Input not found" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["estimate", str(empty), *_common(tiny_body, tmp_path / "o", cache)]) == 2
    assert "No image files" in capsys.readouterr().err
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG but not really")
    assert main(["estimate", str(bad), *_common(tiny_body, tmp_path / "o", cache)]) == 2
    assert "Cannot read" in capsys.readouterr().err
    assert main(["estimate", str(bad), *_common(tmp_path / "nomodel", tmp_path / "o", cache)]) == 2
    assert "not found" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["estimate", str(bad), *_common(tiny_body, tmp_path / "o", cache), "--input-size", "big"])


def test_module_entry_point_runs(tiny_body, cache, images, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "sdpose_core", "estimate", str(images / "000000000042.png"),
                           *_common(tiny_body, out, cache)], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (out / "000000000042.json").is_file()


def test_yolox_detector_file_gives_the_boxes(tiny_body, cache, tmp_path):
    """``--detector model.onnx``: a YOLOX-shaped ONNX model's person box becomes the crop box."""
    from test_detect import blank_base, build_model, put_box

    input_hw = (320, 320)
    base = blank_base(input_hw)
    put_box(base, input_hw, 32, (64.0, 32.0, 160.0, 224.0), obj=0.9)
    onnx_path = build_model(tmp_path / "yolox_tiny.onnx", input_hw, base, red=False)
    image = tmp_path / "person.png"
    Image.fromarray(np.zeros((200, 100, 3), np.uint8)).save(image)  # letterbox ratio 1.6
    out = tmp_path / "out"
    args = _common(tiny_body, out, cache)
    args[args.index("--detector") + 1] = str(onnx_path)
    assert main(["estimate", str(image), *args]) == 0
    person = json.loads((out / "person.json").read_text())["people"]
    assert len(person) == 1
    np.testing.assert_allclose(person[0]["bbox"], [40.0, 20.0, 60.0, 120.0], atol=1e-3)
    assert person[0]["bbox_score"] == pytest.approx(0.9, abs=1e-6)
