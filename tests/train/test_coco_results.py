"""One COCO keypoint results format: ``sdpose_core estimate --coco-json`` and ``train.evaluate --results-out`` write
the same records (COCO's for 17 points, COCO-WholeBody's per-part fields for 133), and ``--results`` reads both
that and the flat 133-point form earlier releases wrote."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
from PIL import Image
from test_train_metrics import make_gt, oks_shift, results_from

from sdpose_core.cli.main import main as sdpose_main
from sdpose_core.formats.coco import current_record, record_keypoints, result_record
from sdpose_core.keypoints import FACE_SIGMAS, WHOLEBODY_PARTS
from train import evaluate as ev

WHOLEBODY_KEYS = ["image_id", "category_id", "keypoints", "foot_kpts", "face_kpts", "lefthand_kpts", "righthand_kpts",
                  "score"]


def test_record_format_for_17_and_133_points():
    rng = np.random.default_rng(0)
    body = result_record(7, rng.uniform(0, 50, (17, 3)), 0.5)
    assert list(body) == ["image_id", "category_id", "keypoints", "score"] and len(body["keypoints"]) == 51
    kp = rng.uniform(0, 50, (133, 3))
    whole = result_record(7, kp, 0.25)
    assert list(whole) == WHOLEBODY_KEYS and whole["score"] == 0.25 and whole["category_id"] == 1
    assert [len(whole[p.field]) for p in WHOLEBODY_PARTS] == [51, 18, 204, 63, 63]
    assert whole["face_kpts"][:3] == [round(float(v), 3) for v in kp[23]]  # face starts at point 23
    np.testing.assert_allclose(record_keypoints(whole, 133), kp, atol=5e-4)
    # a record kept by an earlier release (flat 133 points and a bbox) is written in today's form
    old = {"image_id": 7, "category_id": 1, "bbox": [1, 2, 3, 4], "keypoints": kp.reshape(-1).tolist(), "score": 0.25}
    assert current_record(old) == whole
    assert current_record(body) == body


def _split(results: list[dict]) -> list[dict]:
    return [result_record(r["image_id"], np.asarray(r["keypoints"]).reshape(-1, 3), r["score"]) for r in results]


def test_results_reads_the_flat_and_the_split_form(tmp_path, capsys):
    """The same face-perturbed predictions, written flat (as --coco-json wrote them until now) and split per part:
    the same metrics, face AP 0.6 and the rest 1."""
    gt, people = make_gt("wholebody")

    def shift(n, p):
        s = np.zeros((133, 2))
        s[23:91] = oks_shift(p["area"], FACE_SIGMAS, 0.77)
        return s

    flat = results_from(people, "wholebody", shift=shift)
    assert len(flat[0]["keypoints"]) == 399 and "face_kpts" not in flat[0]
    split = _split(flat)
    assert list(split[0]) == WHOLEBODY_KEYS
    ann = tmp_path / "ann.json"
    ann.write_text(json.dumps(gt))
    reports = []
    for name, results in (("flat", flat), ("split", split)):
        res, out = tmp_path / f"{name}.json", tmp_path / f"{name}_metrics.json"
        res.write_text(json.dumps(results))
        assert ev.main(["--ann", str(ann), "--scheme", "wholebody", "--results", str(res),
                        "--metrics-out", str(out)]) == 0
        reports.append(json.loads(out.read_text())["parts"])
    assert reports[0] == reports[1]
    assert reports[0]["face"]["AP"] == pytest.approx(0.6) and reports[0]["body"]["AP"] == pytest.approx(1.0)
    capsys.readouterr()


def _scene(tmp_path):
    """Two images with one person each, as image files, an annotation file and a --boxes table."""
    rng = np.random.default_rng(1)
    folder = tmp_path / "images"
    folder.mkdir()
    gt = {"images": [], "annotations": [], "categories": [{"id": 1, "name": "person"}]}
    table = {}
    for image_id, box in ((42, [10.0, 8.0, 50.0, 96.0]), (7, [30.0, 20.0, 40.0, 70.0])):
        name = f"{image_id:012d}.png"
        Image.fromarray(rng.integers(0, 255, (120, 100, 3), dtype=np.uint8)).save(folder / name)
        gt["images"].append({"id": image_id, "file_name": name, "width": 100, "height": 120})
        x, y, w, h = box
        kp = np.stack([rng.uniform(x, x + w, 133), rng.uniform(y, y + h, 133), np.full(133, 2.0)], axis=1)
        ann = {"id": image_id, "image_id": image_id, "category_id": 1, "iscrowd": 0, "bbox": box,
               "area": w * h * 0.6, "num_keypoints": 17}
        ann.update({p.field: kp[p.points].reshape(-1).tolist() for p in WHOLEBODY_PARTS})
        gt["annotations"].append(ann)
        table[name] = [box]
    ann_file, boxes = tmp_path / "ann.json", tmp_path / "boxes.json"
    ann_file.write_text(json.dumps(gt))
    boxes.write_text(json.dumps(table))
    return folder, ann_file, boxes


def test_coco_json_and_results_out_write_the_same_records(tiny_wholebody, cache, tmp_path, capsys):
    folder, ann, boxes = _scene(tmp_path)
    coco, results_out = tmp_path / "coco.json", tmp_path / "results_out.json"
    assert sdpose_main(["estimate", str(folder), "--model", str(tiny_wholebody), "--out", str(tmp_path / "out"),
                        "--input-size", "192x256", "--no-flip", "--detector", "none", "--boxes", str(boxes),
                        "--cache-dir", str(cache), "--device", "cpu", "--batch-size", "1",
                        "--coco-json", str(coco)]) == 0
    assert ev.main(["--ann", str(ann), "--scheme", "wholebody", "--model", str(tiny_wholebody), "--images",
                    str(folder), "--input-size", "192x256", "--batch-size", "1", "--device", "cpu",
                    "--cache-dir", str(cache), "--results-out", str(results_out)]) == 0
    capsys.readouterr()
    by_cli = sorted(json.loads(coco.read_text()), key=lambda r: r["image_id"])
    by_eval = sorted(json.loads(results_out.read_text()), key=lambda r: r["image_id"])
    assert [r["image_id"] for r in by_cli] == [r["image_id"] for r in by_eval] == [7, 42]
    for a, b in zip(by_cli, by_eval):
        assert list(a) == list(b) == WHOLEBODY_KEYS
        for field in WHOLEBODY_KEYS[2:7]:
            assert len(a[field]) == len(b[field])
            np.testing.assert_allclose(a[field], b[field], atol=2e-3)
        assert a["score"] == pytest.approx(b["score"], rel=1e-4)
    # pycocotools reads either file as keypoint results: the area is the body keypoints' extent (no bbox branch)
    from pycocotools.coco import COCO

    ground = COCO(str(ann))
    loaded = ground.loadRes(copy.deepcopy(by_cli))
    for record in loaded.dataset["annotations"]:
        body = np.asarray(record["keypoints"]).reshape(17, 3)
        extent = np.ptp(body[:, 0]) * np.ptp(body[:, 1])
        assert record["area"] == pytest.approx(extent)
    # and train.evaluate scores the two files alike
    metrics = []
    for res in (coco, results_out):
        out = tmp_path / f"{res.stem}_metrics.json"
        assert ev.main(["--ann", str(ann), "--scheme", "wholebody", "--results", str(res),
                        "--metrics-out", str(out)]) == 0
        metrics.append(json.loads(out.read_text())["parts"])
    capsys.readouterr()
    for part in metrics[0]:
        for name, value in metrics[0][part].items():
            assert value == pytest.approx(metrics[1][part][name], abs=1e-6), (part, name)
