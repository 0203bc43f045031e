"""``python -m train.evaluate`` on malformed inputs: one line naming the file, the problem and the remedy, exit 2."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
from test_train_metrics import make_gt, results_from

from train import evaluate as ev

ROOT = Path(__file__).resolve().parents[2]


def _run(capsys, ann: Path, results: Path, scheme: str = "body") -> tuple[int, str]:
    code = ev.main(["--ann", str(ann), "--scheme", scheme, "--results", str(results)])
    captured = capsys.readouterr()
    return code, captured.err


def _write(path: Path, data) -> Path:
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def body(tmp_path):
    gt, people = make_gt("body")
    return gt, results_from(people, "body"), tmp_path


def _one_error_line(err: str, *needles: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


ANNOTATION_CASES = [
    ("a list", lambda gt: [gt], ["holds a list", "not a COCO annotation file", "pass it as --results"]),
    ("no annotations", lambda gt: {k: v for k, v in gt.items() if k != "annotations"},
     ["has no \"annotations\"", "keypoint annotation file"]),
    ("annotations not a list", lambda gt: {**gt, "annotations": {"1": gt["annotations"][0]}},
     ["has an object as \"annotations\""]),
    ("no images", lambda gt: {k: v for k, v in gt.items() if k != "images"}, ["has no \"images\""]),
    ("null bbox", lambda gt: _set_ann(gt, "bbox", None), ["annotation 0 (id 1) has bbox None", "[x, y, w, h]"]),
    ("NaN bbox", lambda gt: _set_ann(gt, "bbox", [1.0, float("nan"), 3.0, 4.0]), ["has bbox", "finite"]),
    ("string annotation", lambda gt: {**gt, "annotations": ["person"]}, ["annotation 0 is a string"]),
    ("short keypoints", lambda gt: _set_ann(gt, "keypoints", [1.0] * 10),
     ["annotation 0 (id 1)", "'keypoints' holds 10 numbers", "needs 51", "--scheme"]),
    ("NaN keypoint", lambda gt: _set_ann(gt, "keypoints", [float("nan")] * 51), ["NaN or infinite"]),
    ("string area", lambda gt: _set_ann(gt, "area", "big"), ["has area 'big'"]),
    ("no image_id", lambda gt: _set_ann(gt, "image_id", None), ["annotation 0 (id 1) has image_id None"]),
    ("list id", lambda gt: _set_ann(gt, "id", [1]), ["annotation 0 (id [1]) has id [1]"]),
    ("image without id", lambda gt: {**gt, "images": [{"file_name": "a.jpg"}]}, ["image entry 0 has no"]),
    ("nested keypoints", lambda gt: _set_ann(gt, "keypoints", [[[[1.0]]]] * 51),
     ["'keypoints' holds [[[1.0]]], which is not a number"]),
    ("huge bbox", lambda gt: _set_ann(gt, "bbox", [10 ** 400, 0, 5, 5]), ["has bbox", "finite numbers"]),
    ("huge area", lambda gt: _set_ann(gt, "area", 10 ** 400), ["has area", "finite number"]),
    ("huge keypoint", lambda gt: _set_ann(gt, "keypoints", [10 ** 400] * 51), ["NaN or infinite"]),
    ("unknown image", lambda gt: _set_ann(gt, "image_id", 99), ["is on image 99, which \"images\" does not list"]),
    ("unknown category", lambda gt: _set_ann(gt, "category_id", 5), ["has category_id 5, not one of"]),
    ("list category", lambda gt: _set_ann(gt, "category_id", [1]), ["has category_id [1]"]),
    ("string iscrowd", lambda gt: _set_ann(gt, "iscrowd", "x"), ["has iscrowd 'x'", "0 or 1"]),
    ("no keypoints at all", lambda gt: {**gt, "annotations": [{k: v for k, v in a.items() if k != "keypoints"}
                                                              for a in gt["annotations"]]},
     ["no person annotation with \"keypoints\"", "every AP would be -1"]),
]


def _set_ann(gt: dict, key: str, value) -> dict:
    gt = copy.deepcopy(gt)
    gt["annotations"][0][key] = value
    return gt


@pytest.mark.parametrize("name,edit,needles", ANNOTATION_CASES, ids=[c[0] for c in ANNOTATION_CASES])
def test_malformed_annotation_file(body, capsys, name, edit, needles):
    gt, results, tmp = body
    ann = tmp / "ann.json"
    ann.write_text(json.dumps(edit(gt)))  # json writes NaN as the NaN literal Python's reader accepts
    code, err = _run(capsys, ann, _write(tmp / "res.json", results))
    assert code == 2
    _one_error_line(err, f"--ann '{ann}'", *needles)


def test_body_annotation_file_under_the_wholebody_scheme(body, capsys):
    gt, results, tmp = body
    code, err = _run(capsys, _write(tmp / "ann.json", gt), _write(tmp / "res.json", results), "wholebody")
    assert code == 2
    _one_error_line(err, "no person annotation with all of keypoints, foot_kpts", "--scheme body")


RESULT_CASES = [
    ("an object", lambda r, gt: gt, ["holds an object", "looks like an annotation file: pass it as --ann"]),
    ("empty", lambda r, gt: [], ["holds no results (an empty list)"]),
    ("strings", lambda r, gt: ["a", "b"], ["result 0 is a string ('a')", "not an object"]),
    ("no image_id", lambda r, gt: [{k: v for k, v in r[0].items() if k != "image_id"}], ["result 0 has no"]),
    ("unknown image", lambda r, gt: [{**r[0], "image_id": 99}], ["image_id 99, which is not an image of --ann"]),
    ("list image_id", lambda r, gt: [{**r[0], "image_id": [1]}], ["image_id [1]"]),
    ("category", lambda r, gt: [{**r[0], "category_id": 2}], ["category_id 2", "categories are [1]"]),
    ("list category", lambda r, gt: [{**r[0], "category_id": [1]}], ["category_id [1]"]),
    ("NaN score", lambda r, gt: [{**r[0], "score": float("nan")}], ["score nan", "finite number"]),
    ("huge score", lambda r, gt: [{**r[0], "score": 10 ** 400}], ["has score", "finite number"]),
    ("string score", lambda r, gt: [{**r[0], "score": "0.9"}], ["score '0.9'"]),
    ("NaN keypoint", lambda r, gt: [{**r[0], "keypoints": [float("nan")] + r[0]["keypoints"][1:]}],
     ["result 0 (image 1): 'keypoints' holds NaN or infinite values"]),
    ("infinite keypoint", lambda r, gt: [{**r[0], "keypoints": r[0]["keypoints"][:-1] + [float("inf")]}],
     ["NaN or infinite"]),
    ("ten numbers", lambda r, gt: [{**r[0], "keypoints": [1.0] * 10}],
     ["'keypoints' holds 10 numbers; it needs 51 (17 points as x, y, score)", "--scheme body expects 17"]),
    ("string keypoint", lambda r, gt: [{**r[0], "keypoints": ["x"] + r[0]["keypoints"][1:]}],
     ["'keypoints' holds 'x', which is not a number"]),
    ("null keypoints", lambda r, gt: [{**r[0], "keypoints": None}], ["'keypoints' is null, not a list"]),
]


@pytest.mark.parametrize("name,edit,needles", RESULT_CASES, ids=[c[0] for c in RESULT_CASES])
def test_malformed_results_file(body, capsys, name, edit, needles):
    gt, results, tmp = body
    res = tmp / "res.json"
    res.write_text(json.dumps(edit(copy.deepcopy(results), gt)))
    code, err = _run(capsys, _write(tmp / "ann.json", gt), res)
    assert code == 2
    _one_error_line(err, f"--results '{res}'", *needles)


def test_wholebody_results_with_part_of_the_split_fields(tmp_path, capsys):
    gt, people = make_gt("wholebody")
    rec = results_from(people, "wholebody")[0]
    rec = {**rec, "keypoints": rec["keypoints"][:51], "foot_kpts": rec["keypoints"][51:69]}
    res = _write(tmp_path / "res.json", [rec])
    code, err = _run(capsys, _write(tmp_path / "ann.json", gt), res, "wholebody")
    assert code == 2
    _one_error_line(err, f"--results '{res}'", "has foot_kpts but no face_kpts, lefthand_kpts, righthand_kpts")


def test_missing_unreadable_and_hostile_files(body, capsys):
    gt, results, tmp = body
    ann, res = _write(tmp / "ann.json", gt), _write(tmp / "res.json", results)
    missing = tmp / "nowhere.json"
    code, err = _run(capsys, ann, missing)
    assert code == 2
    _one_error_line(err, f"--results file '{missing}' does not exist")
    code, err = _run(capsys, missing, res)
    assert code == 2
    _one_error_line(err, f"--ann annotation file '{missing}' does not exist")
    code, err = _run(capsys, ann, tmp)
    assert code == 2
    _one_error_line(err, f"--results file '{tmp}' is a folder")
    latin = tmp / "latin.json"
    latin.write_bytes(json.dumps(results).encode()[:-1] + ', {"note": "caf\xe9"}]'.encode("latin-1"))
    code, err = _run(capsys, ann, latin)
    assert code == 2
    _one_error_line(err, f"--results file '{latin}' is not UTF-8 text", "save it as UTF-8")
    deep = _write(tmp / "deep.json", None)
    deep.write_text("[" * 100_000 + "]" * 100_000)
    code, err = _run(capsys, ann, deep)
    assert code == 2
    _one_error_line(err, f"--results file '{deep}' is nested too deeply")
    cut = tmp / "cut.json"
    cut.write_text(json.dumps(results)[:100])
    code, err = _run(capsys, ann, cut)
    assert code == 2
    _one_error_line(err, f"--results file '{cut}' is not valid JSON", "complete")


DETECTION_CASES = [
    ({"boxes": []}, "holds an object, not a COCO detection results list"),
    (["box"], "detection 0 is a string"),
    ([{"image_id": 7, "bbox": [0, 0, 5, 5]}], "image_id 7, which is not an image of --ann"),
    ([{"image_id": 1, "bbox": None}], "bbox None"),
    ([{"image_id": 1, "bbox": [0, 0, 5, 5], "score": float("nan")}], "score nan"),
    ([{"image_id": 1, "bbox": [0, 0, 5, 10 ** 400]}], "needs [x, y, w, h] as finite numbers"),
]


@pytest.mark.parametrize("dets,needle", DETECTION_CASES, ids=[c[1][:20] for c in DETECTION_CASES])
def test_malformed_detections_file(body, capsys, dets, needle):
    gt, _, tmp = body
    ann = _write(tmp / "ann.json", gt)
    boxes = tmp / "dets.json"
    boxes.write_text(json.dumps(dets))
    code = ev.main(["--ann", str(ann), "--scheme", "body", "--model", str(tmp / "absent"), "--images", str(tmp),
                    "--boxes", str(boxes)])
    assert code == 2
    _one_error_line(capsys.readouterr().err, f"--boxes '{boxes}'", needle)


def test_model_run_needs_image_files_and_sizes(body, capsys):
    gt, _, tmp = body
    del gt["images"][1]["width"]
    ann = _write(tmp / "ann.json", gt)
    code = ev.main(["--ann", str(ann), "--scheme", "body", "--model", str(tmp / "absent"), "--images", str(tmp)])
    assert code == 2
    _one_error_line(capsys.readouterr().err, f"--ann '{ann}': image 2 needs \"file_name\", \"width\" and \"height\"")


def test_command_line_gives_one_line_and_exit_2(body):
    """The real entry point: a wrong keypoint count is one line on stderr, not a reshape traceback."""
    gt, results, tmp = body
    ann = _write(tmp / "ann.json", gt)
    res = _write(tmp / "res.json", [{**results[0], "keypoints": [1.0] * 10}])
    proc = subprocess.run([sys.executable, "-m", "train.evaluate", "--ann", str(ann), "--scheme", "body",
                           "--results", str(res)], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    _one_error_line(proc.stderr, f"--results '{res}': result 0 (image 1): 'keypoints' holds 10 numbers")
    assert "reshape" not in proc.stderr
