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

from sdpose_core.cli.main import main

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
                 "--coco-json", str(coco), "--batch-size", "3", "--raw-scores", "--threshold", "0"]) == 0
    first = json.loads((out / "000000000042.json").read_text())  # POSE_KEYPOINT, one frame
    assert first["canvas_width"] == 90 and first["canvas_height"] == 120 and len(first["people"]) == 2
    person = first["people"][0]
    assert len(person["pose_keypoints_2d"]) == 18 * 3 and person["hand_left_keypoints_2d"] is None
    assert Image.open(out / "000000000042_pose.png").size == (90, 120)
    grey = json.loads((out / "grey_frame.json").read_text())
    assert grey["people"] == []  # a boxes file that lists no boxes for an image means nobody there
    assert np.asarray(Image.open(out / "grey_frame_pose.png")).max() == 0
    records = json.loads(coco.read_text())
    assert len(records) == 2
    assert {r["image_id"] for r in records} == {42}
    r = records[0]
    # the COCO keypoint results format: no "bbox", which pycocotools' loadRes would take for a box result
    assert list(r) == ["image_id", "category_id", "keypoints", "score"]
    assert r["category_id"] == 1 and len(r["keypoints"]) == 17 * 3
    kp = np.array(r["keypoints"]).reshape(17, 3)
    valid = kp[:, 2][kp[:, 2] > 0.2]
    assert r["score"] == pytest.approx(valid.mean() if valid.size else 0.0, abs=1e-3)
    # the POSE_KEYPOINT body is the COCO result in OpenPose-18 order (nose first, right shoulder third)
    body = np.array(person["pose_keypoints_2d"]).reshape(18, 3)
    np.testing.assert_allclose(body[[0, 2]], kp[[0, 6]], atol=1e-3)


def test_whole_image_without_detector_and_no_overwrite(tiny_wholebody, cache, images, tmp_path):
    out = tmp_path / "out"
    args = ["estimate", str(images / "grey_frame.jpg"), *_common(tiny_wholebody, out, cache), "--threshold", "0",
            "--resolution", "160", "--overlay"]
    assert main(args) == 0
    stamp = {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.name[0] != "."}
    assert main(args) == 0  # a rerun resumes: nothing redone, nothing numbered, nothing touched
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.name[0] != "."} == stamp
    a = json.loads((out / "grey_frame.json").read_text())
    assert len(a["people"]) == 1
    person = a["people"][0]
    assert len(person["face_keypoints_2d"]) == 70 * 3 and len(person["hand_right_keypoints_2d"]) == 21 * 3
    assert Image.open(out / "grey_frame_pose.png").size == (200, 160)  # short side = resolution
    drawn = tmp_path / "drawn.png"
    assert main(["draw", str(out / "grey_frame.json"), "--out", str(drawn), "--resolution", "160"]) == 0
    assert Image.open(drawn).size == (200, 160)
    assert main(["draw", str(out / "grey_frame.json"), "--out", str(drawn)]) == 2  # never overwrites


def test_bad_paths_and_models_give_clear_errors(tiny_body, cache, tmp_path, capsys):
    assert main(["estimate", str(tmp_path / "missing.png"), *_common(tiny_body, tmp_path / "o", cache)]) == 2
    assert "Input not found" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["estimate", str(empty), *_common(tiny_body, tmp_path / "o", cache)]) == 2
    assert "No image files" in capsys.readouterr().err
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG but not really")
    assert main(["estimate", str(bad), *_common(tiny_body, tmp_path / "o", cache)]) == 1  # that input failed
    assert "Cannot read" in capsys.readouterr().err
    assert main(["estimate", str(bad), *_common(tmp_path / "nomodel", tmp_path / "o", cache)]) == 2
    assert "not found" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["estimate", str(bad), *_common(tiny_body, tmp_path / "o", cache), "--input-size", "big"])


def test_a_model_that_cannot_load_fails_before_any_progress(images, tmp_path):
    """Offline with an uninstalled hub model: one line naming the model and the remedy, exit 2, no progress bar."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "SDPOSE_CACHE": str(tmp_path / "cache")}
    proc = subprocess.run([sys.executable, "-m", "sdpose_core", "estimate", str(images), "--model",
                           "teemosliang/SDPose-Wholebody", "--out", str(tmp_path / "out"), "--detector", "none"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 2, proc.stderr
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith("error: ") and "teemosliang/SDPose-Wholebody" in line and "huggingface.co" in line, line
    assert "SDPose:" not in proc.stderr


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
    coco = tmp_path / "coco.json"
    assert main(["estimate", str(image), *args, "--coco-json", str(coco)]) == 0
    (person,) = json.loads(coco.read_text())
    assert len(json.loads((out / "person.json").read_text())["people"]) == 1
    # the same pose as the box [40, 20, 60, 120] given by hand: the detector's box became the crop box
    boxes, given = tmp_path / "boxes.json", tmp_path / "given.json"
    boxes.write_text(json.dumps({"person.png": [[40.0, 20.0, 60.0, 120.0]]}))
    assert main(["estimate", str(image), *_common(tiny_body, tmp_path / "out2", cache), "--boxes", str(boxes),
                 "--coco-json", str(given)]) == 0
    (by_hand,) = json.loads(given.read_text())
    np.testing.assert_allclose(person["keypoints"], by_hand["keypoints"], atol=2e-2)
    assert person["score"] == pytest.approx(0.9 * by_hand["score"], rel=1e-3)  # rescored from the box's 0.9


def test_max_people_keeps_the_largest_in_json_and_drawing(tiny_body, cache, images, tmp_path):
    """--max-people 1 keeps the person whose drawn points span most (here: the one in the larger box); the COCO
    results keep everyone (they are for evaluation)."""
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({"000000000042.png": [[2, 2, 86, 116], [60, 5, 12, 16]]}))
    every, one, coco = tmp_path / "every", tmp_path / "one", tmp_path / "coco.json"
    common = ["--boxes", str(boxes), "--raw-scores", "--threshold", "0"]
    assert main(["estimate", str(images), *_common(tiny_body, every, cache), *common]) == 0
    assert main(["estimate", str(images), *_common(tiny_body, one, cache), *common, "--max-people", "1",
                 "--order", "largest", "--coco-json", str(coco)]) == 0
    people = json.loads((every / "000000000042.json").read_text())["people"]
    kept = json.loads((one / "000000000042.json").read_text())["people"]

    def span(person: dict) -> float:
        xy = np.array(person["pose_keypoints_2d"]).reshape(-1, 3)[:, :2]
        return float(np.prod(xy.max(axis=0) - xy.min(axis=0)))

    assert len(people) == 2 and len(kept) == 1
    assert kept[0] == max(people, key=span)
    assert len(json.loads(coco.read_text())) == 2
    assert main(["estimate", str(images), *_common(tiny_body, tmp_path / "bad", cache), "--max-people", "0"]) == 2
