"""YOLOX person detector: DWPose's letterbox, stride decoding, NMS and thresholds, on small hand-built ONNX models."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
cv2 = pytest.importorskip("cv2")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from sdpose_core.engine.detect import (  # noqa: E402
    DETECTOR_FILE,
    NMS_THRESHOLD,
    SCORE_THRESHOLD,
    STRIDES,
    YoloxDetector,
    anchor_count,
    decode_outputs,
    letterbox,
    nms,
    resolve_detector_path,
)
from sdpose_core.errors import CheckpointError, DownloadError, InputError  # noqa: E402
from sdpose_core.images import to_rgb_uint8  # noqa: E402

NUM_CLASSES = 80
CAR = 2


def build_model(path: Path, input_hw: tuple[int, int], base: np.ndarray | None = None, *, red: bool = True,
                input_shape: list | None = None, input_type: int = TensorProto.FLOAT) -> Path:
    """A YOLOX-shaped ONNX model: output = ``base`` [1, A, 85] plus, if ``red``, an objectness read from the image.

    The image term: for each stride-32 cell, the mean of relu(R - G) / 255 over the cell's pixels goes into the
    objectness column. A pure red patch filling a cell thus scores ~1 there, only if the detector feeds R as
    channel 0 (RGB), 0..255 values, and letterboxes the patch onto that cell.
    """
    h, w = input_hw
    count = anchor_count(input_hw)
    base = np.zeros((1, count, 5 + NUM_CLASSES), np.float32) if base is None else base.astype(np.float32)
    inits = [numpy_helper.from_array(base, "base")]
    nodes = []
    x = "x"
    if input_type != TensorProto.FLOAT:
        nodes.append(helper.make_node("Cast", ["x"], ["xf"], to=TensorProto.FLOAT))
        x = "xf"
    if red:
        n32 = (h // 32) * (w // 32)
        inits += [numpy_helper.from_array(np.array(v, np.int64), n) for n, v in
                  [("c0", [0]), ("c1", [1]), ("c2", [2]), ("ax1", [1]), ("shape", [1, -1, 1])]]
        inits += [numpy_helper.from_array(np.array(255.0, np.float32), "k255"),
                  numpy_helper.from_array(np.zeros((1, count - n32, 1), np.float32), "zobj"),
                  numpy_helper.from_array(np.zeros((1, count, 4), np.float32), "zbox"),
                  numpy_helper.from_array(np.zeros((1, count, base.shape[2] - 5), np.float32), "zcls")]
        nodes += [
            helper.make_node("Slice", [x, "c0", "c1", "ax1"], ["r"]),
            helper.make_node("Slice", [x, "c1", "c2", "ax1"], ["g"]),
            helper.make_node("Sub", ["r", "g"], ["rg"]),
            helper.make_node("Div", ["rg", "k255"], ["rgn"]),
            helper.make_node("Relu", ["rgn"], ["redness"]),
            helper.make_node("AveragePool", ["redness"], ["cells"], kernel_shape=[32, 32], strides=[32, 32]),
            helper.make_node("Reshape", ["cells", "shape"], ["obj32"]),
            helper.make_node("Concat", ["zobj", "obj32"], ["obj"], axis=1),
            helper.make_node("Concat", ["zbox", "obj", "zcls"], ["term"], axis=2),
            helper.make_node("Add", ["base", "term"], ["y"]),
        ]
    else:
        inits += [numpy_helper.from_array(np.array([1, 1, 1], np.int64), "one3"),
                  numpy_helper.from_array(np.array(0.0, np.float32), "zero")]
        nodes += [
            helper.make_node("ReduceMean", [x], ["m"], keepdims=1),
            helper.make_node("Reshape", ["m", "one3"], ["m3"]),
            helper.make_node("Mul", ["m3", "zero"], ["z"]),
            helper.make_node("Add", ["base", "z"], ["y"]),
        ]
    graph = helper.make_graph(
        nodes, "yolox_like",
        [helper.make_tensor_value_info("x", input_type, input_shape or [1, 3, h, w])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(base.shape))],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def level_offset(input_hw: tuple[int, int], stride: int) -> int:
    return anchor_count(input_hw, [s for s in STRIDES if s < stride])


def put_box(base: np.ndarray, input_hw: tuple[int, int], stride: int, box: tuple[float, float, float, float],
            obj: float, cls: int = 0, prob: float = 1.0) -> int:
    """Write the raw YOLOX row predicting xyxy ``box`` (model-input pixels) at the cell holding its centre."""
    x1, y1, x2, y2 = box
    cx, cy, bw, bh = (x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1
    gx, gy = int(cx // stride), int(cy // stride)
    index = level_offset(input_hw, stride) + gy * (input_hw[1] // stride) + gx
    base[0, index, :4] = [cx / stride - gx, cy / stride - gy, math.log(bw / stride), math.log(bh / stride)]
    base[0, index, 4] = obj
    base[0, index, 5 + cls] = prob
    return index


def blank_base(input_hw: tuple[int, int]) -> np.ndarray:
    return np.zeros((1, anchor_count(input_hw), 5 + NUM_CLASSES), np.float32)


# ---------------------------------------------------------------------------------------------- pre-processing


@pytest.mark.parametrize("image_hw", [(333, 500), (500, 333), (50, 100), (640, 640), (1000, 30)])
def test_letterbox_resizes_by_one_ratio_and_pads_bottom_right_with_114(image_hw):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 114, (*image_hw, 3), dtype=np.uint8)  # never 114+, so padding is recognisable
    padded, ratio = letterbox(image, (640, 640))
    assert padded.shape == (640, 640, 3) and padded.dtype == np.uint8
    assert ratio == pytest.approx(min(640 / image_hw[0], 640 / image_hw[1]))
    new_h, new_w = int(image_hw[0] * ratio), int(image_hw[1] * ratio)
    expected = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_array_equal(padded[:new_h, :new_w], expected)
    assert (padded[new_h:] == 114).all() and (padded[:, new_w:] == 114).all()


def test_letterbox_rectangular_model_input():
    image = np.zeros((100, 100, 3), np.uint8)
    padded, ratio = letterbox(image, (128, 256))
    assert padded.shape == (128, 256, 3) and ratio == pytest.approx(1.28)
    assert (padded[:, :128] == 0).all() and (padded[:, 128:] == 114).all()


@pytest.mark.parametrize(
    "image_hw, patch, cell",
    [
        ((100, 200), (100, 20, 120, 40), (5, 1)),  # landscape: ratio 1.6, padding at the bottom
        ((200, 100), (20, 100, 40, 120), (1, 5)),  # portrait: ratio 1.6, padding on the right
    ],
)
def test_red_patch_is_found_at_its_original_pixels(tmp_path, image_hw, patch, cell):
    """Pre-processing end to end: the model scores a cell by its redness, the box maps back to the patch."""
    input_hw = (320, 320)
    base = blank_base(input_hw)
    gx, gy = cell
    index = level_offset(input_hw, 32) + gy * 10 + gx
    base[0, :, 2:4] = 0.0  # every anchor predicts a stride-sized box around its cell centre
    base[0, :, :2] = 0.5
    base[0, index, 5] = 1.0  # only the patch's cell says "person"; its objectness comes from the image
    detector = YoloxDetector(build_model(tmp_path / "m.onnx", input_hw, base))

    image = np.zeros((*image_hw, 3), np.uint8)
    x1, y1, x2, y2 = patch
    image[y1:y2, x1:x2] = (255, 0, 0)
    found = detector(image)
    assert found.shape == (1, 5) and found.dtype == np.float32
    np.testing.assert_allclose(found[0, :4], patch, atol=1e-3)
    assert 0.8 < found[0, 4] <= 1.0

    assert detector(image[..., ::-1].copy()).shape == (0, 5)  # the same patch in BGR order is blue: nobody


def test_model_input_size_is_read_from_the_model(tmp_path):
    detector = YoloxDetector(build_model(tmp_path / "r.onnx", (256, 384), red=False))
    assert detector.input_hw == (256, 384)
    dynamic = build_model(tmp_path / "d.onnx", (640, 640), red=False, input_shape=["batch", 3, "height", "width"])
    assert YoloxDetector(dynamic).input_hw == (640, 640)


def test_float16_input_model(tmp_path):
    input_hw = (64, 64)
    base = blank_base(input_hw)
    put_box(base, input_hw, 8, (10, 12, 30, 40), obj=0.9)
    detector = YoloxDetector(build_model(tmp_path / "h.onnx", input_hw, base, input_type=TensorProto.FLOAT16))
    found = detector(np.zeros((64, 64, 3), np.uint8))
    np.testing.assert_allclose(found, [[10, 12, 30, 40, 0.9]], atol=1e-3)


# ---------------------------------------------------------------------------------------------- decoding


def test_decode_outputs_grid_and_strides():
    input_hw = (64, 96)
    count = anchor_count(input_hw)
    assert count == 8 * 12 + 4 * 6 + 2 * 3
    raw = np.random.default_rng(1).normal(size=(count, 7)).astype(np.float32)
    decoded = decode_outputs(raw, input_hw)

    index = 0
    for stride in STRIDES:
        for gy in range(input_hw[0] // stride):
            for gx in range(input_hw[1] // stride):
                dx, dy, lw, lh = raw[index, :4]
                expected = [(dx + gx) * stride, (dy + gy) * stride, math.exp(lw) * stride, math.exp(lh) * stride]
                np.testing.assert_allclose(decoded[index, :4], expected, rtol=1e-5, atol=1e-4)
                index += 1
    np.testing.assert_array_equal(decoded[:, 4:], raw[:, 4:])
    assert not np.shares_memory(decoded, raw)


def test_decode_outputs_known_row():
    input_hw = (64, 96)
    raw = np.zeros((anchor_count(input_hw), 6), np.float32)
    index = level_offset(input_hw, 16) + 2 * 6 + 3  # stride 16, cell x=3, y=2
    raw[index, :4] = [0.25, 0.5, math.log(2.0), 0.0]
    cx, cy, w, h = decode_outputs(raw, input_hw)[index, :4]
    assert (cx, cy, w, h) == pytest.approx((52.0, 40.0, 32.0, 16.0))


# ---------------------------------------------------------------------------------------------- NMS


def test_nms_suppresses_overlaps_and_keeps_distinct_boxes():
    boxes = np.array([[0, 0, 99, 99], [5, 5, 104, 104], [200, 200, 299, 299], [0, 0, 99, 49], [60, 0, 159, 99]],
                     np.float32)
    scores = np.array([0.8, 0.9, 0.7, 0.6, 0.5], np.float32)
    # IoU with the best box (1), in pixel +1 areas: 0 -> 0.82, 2 -> 0, 3 -> 95*45/10725 = 0.40, 4 -> 95*45/15725 = 0.27;
    # 4 with 3: 0.15.
    np.testing.assert_array_equal(nms(boxes, scores, 0.45), [1, 2, 3, 4])
    np.testing.assert_array_equal(nms(boxes, scores, 0.3), [1, 2, 4])
    np.testing.assert_array_equal(nms(boxes, scores, 0.1), [1, 2])
    assert nms(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), 0.45).shape == (0,)


def test_nms_uses_pixel_plus_one_areas():
    # Touching boxes [0,9] and [9,18] share one pixel column in DWPose's convention: IoU = 10/190.
    boxes = np.array([[0, 0, 9, 9], [9, 0, 18, 9]], np.float32)
    scores = np.array([0.9, 0.8], np.float32)
    assert list(nms(boxes, scores, 10 / 190 - 1e-4)) == [0]
    assert list(nms(boxes, scores, 10 / 190 + 1e-4)) == [0, 1]


# ---------------------------------------------------------------------------------------------- end to end


@pytest.fixture
def crafted(tmp_path):
    """A model with fixed predictions in a 320x320 input, and a 160x480 (landscape) image: ratio 2/3."""
    input_hw = (320, 320)
    base = blank_base(input_hw)
    put_box(base, input_hw, 32, (20, 20, 120, 100), obj=0.9)  # A: kept
    put_box(base, input_hw, 16, (26, 24, 124, 104), obj=0.8)  # B: IoU with A > 0.45 -> suppressed
    put_box(base, input_hw, 8, (200, 10, 260, 60), obj=0.6)  # C: kept
    put_box(base, input_hw, 16, (200, 10, 260, 60), obj=0.95, cls=CAR)  # a car on C: neither output nor suppressing C
    put_box(base, input_hw, 8, (150, 20, 180, 50), obj=0.25)  # D: below 0.3 -> dropped
    put_box(base, input_hw, 32, (130, 60, 190, 150), obj=0.5, prob=0.7)  # E: 0.35, reaches into the padding
    return YoloxDetector(build_model(tmp_path / "c.onnx", input_hw, base, red=False)), np.zeros((160, 480, 3), np.uint8)


def test_crafted_predictions_give_the_expected_person_boxes(crafted):
    detector, image = crafted
    assert (detector.score_threshold, detector.nms_threshold) == (SCORE_THRESHOLD, NMS_THRESHOLD) == (0.3, 0.45)
    found = detector(image)
    assert found.dtype == np.float32 and found.shape == (3, 5)
    scale = 480 / 320
    expected = np.array([
        [20 * scale, 20 * scale, 120 * scale, 100 * scale, 0.9],
        [200 * scale, 10 * scale, 260 * scale, 60 * scale, 0.6],
        [130 * scale, 60 * scale, 190 * scale, 150 * scale, 0.35],  # y2 225 past the 160-pixel image, as DWPose
    ])
    np.testing.assert_allclose(found, expected, rtol=1e-5, atol=1e-3)
    clipped = YoloxDetector(detector.model_path, clip_boxes=True)(image)  # the option: y2 at the image height
    np.testing.assert_allclose(clipped, np.minimum(expected, [480, 160, 480, 160, 1]), rtol=1e-5, atol=1e-3)


def test_thresholds_are_parameters(crafted, tmp_path):
    detector, image = crafted
    detector.score_threshold = 0.2
    assert 0.25 == pytest.approx(sorted(detector(image)[:, 4])[0])
    detector.score_threshold, detector.nms_threshold = 0.3, 0.95
    assert 0.8 == pytest.approx(detector(image)[1, 4])
    strict = YoloxDetector(detector.model_path, score_threshold=0.7, nms_threshold=0.45)
    np.testing.assert_allclose(strict(image)[:, 4], [0.9], atol=1e-6)


def test_decoded_output_models(tmp_path):
    input_hw = (64, 64)
    base = np.zeros((1, anchor_count(input_hw), 85), np.float32)
    base[0, 0, :6] = [32, 32, 20, 10, 0.9, 1.0]  # already decoded: centre/size in model-input pixels
    path = build_model(tmp_path / "dec.onnx", input_hw, base, red=False)
    found = YoloxDetector(path, raw_output=False)(np.zeros((32, 64, 3), np.uint8))
    np.testing.assert_allclose(found, [[22, 27, 42, 37, 0.9]], atol=1e-4)  # y2 37 past the 32-pixel image


def test_nobody_gives_an_empty_float32_array(tmp_path):
    detector = YoloxDetector(build_model(tmp_path / "e.onnx", (64, 64)))
    found = detector(np.zeros((48, 80, 3), np.uint8))
    assert found.shape == (0, 5) and found.dtype == np.float32


def test_tiny_and_huge_aspect_images(tmp_path):
    detector = YoloxDetector(build_model(tmp_path / "t.onnx", (64, 64)))
    assert detector(np.zeros((1, 1, 3), np.uint8)).shape == (0, 5)
    assert detector(np.zeros((1, 5000, 3), np.uint8)).shape == (0, 5)


# ---------------------------------------------------------------------------------------------- errors


def test_corrupt_or_missing_model_file(tmp_path):
    bad = tmp_path / "yolox_l.onnx"
    bad.write_bytes(b"<html>404 not found</html>")
    with pytest.raises(CheckpointError, match="yolox_l.onnx.*not a usable ONNX model"):
        YoloxDetector(bad)
    with pytest.raises(CheckpointError, match="not found"):
        YoloxDetector(tmp_path / "absent.onnx")


def test_unexpected_model_shapes(tmp_path):
    with pytest.raises(CheckpointError, match=r"wrong_out.onnx.*\[1, anchors, 5 \+ classes\]"):
        YoloxDetector(build_model(tmp_path / "wrong_out.onnx", (64, 64), np.zeros((1, 84, 4)), red=False))
    with pytest.raises(CheckpointError, match=r"wrong_count.onnx.*83 predictions.*84"):
        YoloxDetector(build_model(tmp_path / "wrong_count.onnx", (64, 64), np.zeros((1, 83, 85)), red=False))
    with pytest.raises(CheckpointError, match=r"grey.onnx.*\[1, 3, H, W\]"):
        YoloxDetector(build_model(tmp_path / "grey.onnx", (64, 64), red=False, input_shape=[1, 1, 64, 64]))
    with pytest.raises(CheckpointError, match="odd.onnx.*multiple of 32"):
        YoloxDetector(build_model(tmp_path / "odd.onnx", (64, 64), red=False, input_shape=[1, 3, 60, 64]))


@pytest.mark.parametrize(
    "image, problem",
    [
        (np.zeros((32, 32, 3), np.float32), "dtype uint8"),
        (np.zeros((32, 32), np.uint8), "HxWx3"),
        (np.zeros((32, 32, 4), np.uint8), "HxWx3"),
        (np.zeros((0, 32, 3), np.uint8), "empty"),
        ([[0, 0, 0]], "numpy array"),
    ],
)
def test_bad_images_are_refused(tmp_path, image, problem):
    detector = YoloxDetector(build_model(tmp_path / "m.onnx", (64, 64), red=False))
    with pytest.raises(InputError, match=problem):
        detector(image)


def test_missing_onnxruntime_says_how_to_install(tmp_path, monkeypatch):
    path = build_model(tmp_path / "m.onnx", (64, 64), red=False)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(CheckpointError, match="pip install onnxruntime"):
        YoloxDetector(path)


def test_missing_opencv_says_how_to_install(tmp_path, monkeypatch):
    path = build_model(tmp_path / "m.onnx", (64, 64), red=False)
    monkeypatch.setitem(sys.modules, "cv2", None)
    with pytest.raises(CheckpointError, match="pip install opencv-python-headless"):
        YoloxDetector(path)


def test_importing_the_module_loads_neither_onnxruntime_nor_opencv():
    code = "import sys, sdpose_core.engine.detect; print(sorted({'onnxruntime', 'cv2'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------------------------------------- model file


def test_resolve_detector_path_uses_local_files(tmp_path):
    mine = build_model(tmp_path / "mine.onnx", (64, 64), red=False)
    assert resolve_detector_path(mine, tmp_path / "models") == mine
    models = tmp_path / "models"
    models.mkdir()
    (models / DETECTOR_FILE).write_bytes(b"placeholder")
    assert resolve_detector_path(None, models) == models / DETECTOR_FILE
    with pytest.raises(CheckpointError, match="typo.onnx"):
        resolve_detector_path(tmp_path / "typo.onnx", models)


def test_resolve_detector_path_offline_names_the_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants as hf_constants

    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    models = tmp_path / "offline-models"
    for given in (None, models / "elsewhere" / DETECTOR_FILE):
        with pytest.raises(DownloadError) as info:
            resolve_detector_path(given, models)
        message = str(info.value)
        assert str(models) in message and "yzd-v/DWPose" in message and DETECTOR_FILE in message


# ------------------------------------------------------------------------------- held against DWPose's own code
# comfyui_controlnet_aux's detector (src/custom_controlnet_aux/dwpose/dw_onnx/cv_ox_det.py) and HWC3 (util.py), run
# from a fetched copy of the repository (git objects, read with ``git show``), never copied into the project. Where
# no copy is at hand, the boxes that code produced on these inputs (tests/data/dwpose_detector_boxes.json, written
# by tests/data/make_dwpose_detector_boxes.py at the commit below) stand in for it.
AUX_COMMIT = "e8b689a513c3e6b63edc44066560ca5919c0576e"
AUX_GIT = os.environ.get("SDPOSE_CONTROLNET_AUX_GIT", "/work/.mirror/Fannovel16+comfyui_controlnet_aux/repo")
AUX_FILES = {"cv_ox_det": "src/custom_controlnet_aux/dwpose/dw_onnx/cv_ox_det.py",
             "util": "src/custom_controlnet_aux/util.py"}
DWPOSE_BOXES = Path(__file__).parent / "data" / "dwpose_detector_boxes.json"
YOLOX_HW = (640, 640)  # yolox_l.onnx's input


def aux_module(name: str, folder: Path):
    """A module of the fetched comfyui_controlnet_aux at AUX_COMMIT, imported from ``folder``; None without a copy."""
    try:
        text = subprocess.run(["git", "--git-dir", AUX_GIT, "show", f"{AUX_COMMIT}:{AUX_FILES[name]}"],
                              capture_output=True, check=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    path = folder / f"aux_{name}.py"
    path.write_bytes(text)
    spec = importlib.util.spec_from_file_location(f"aux_{name}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except ImportError:
        return None
    return module


def random_yolox(path: Path, seed: int = 0) -> Path:
    """YOLOX-L's interface ([1, 3, 640, 640] in, [1, 8400, 85] raw rows out) with seeded random weights: per stride,
    the image pooled to the grid, a random 1x1 convolution, box columns raw and score columns through a sigmoid."""
    rng = np.random.default_rng(seed)
    inits = [numpy_helper.from_array(np.array(255.0, np.float32), "k255"),
             numpy_helper.from_array(np.array([1, 85, -1], np.int64), "shape")]
    nodes, levels = [], []
    nodes.append(helper.make_node("Div", ["x", "k255"], ["xn"]))
    for s in STRIDES:
        weight = (rng.normal(0, 1.0, (85, 3, 1, 1)) * np.r_[[0.3] * 4, [4.0] * 81][:, None, None, None]).astype(
            np.float32)
        bias = np.concatenate([[0.5, 0.5, 2.0 + np.log(32 / s), 2.5 + np.log(32 / s), -5.0],
                               rng.normal(0, 1.0, 80) + np.r_[1.0, 0, 1.0, np.zeros(77)]]).astype(np.float32)
        inits += [numpy_helper.from_array(weight, f"w{s}"), numpy_helper.from_array(bias, f"b{s}")]
        nodes += [helper.make_node("AveragePool", ["xn"], [f"p{s}"], kernel_shape=[s, s], strides=[s, s]),
                  helper.make_node("Conv", [f"p{s}", f"w{s}", f"b{s}"], [f"c{s}"]),
                  helper.make_node("Reshape", [f"c{s}", "shape"], [f"r{s}"]),
                  helper.make_node("Transpose", [f"r{s}"], [f"t{s}"], perm=[0, 2, 1])]
        levels.append(f"t{s}")
    inits += [numpy_helper.from_array(np.array(v, np.int64), n) for n, v in
              [("s0", [0]), ("s4", [4]), ("s85", [85]), ("ax2", [2])]]
    nodes += [helper.make_node("Concat", levels, ["z"], axis=1),
              helper.make_node("Slice", ["z", "s0", "s4", "ax2"], ["box"]),
              helper.make_node("Slice", ["z", "s4", "s85", "ax2"], ["logit"]),
              helper.make_node("Sigmoid", ["logit"], ["prob"]),
              helper.make_node("Concat", ["box", "prob"], ["y"], axis=2)]
    graph = helper.make_graph(nodes, "yolox_l_random", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                                          [1, 3, *YOLOX_HW])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, anchor_count(YOLOX_HW), 85])],
                              initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def dwpose_images() -> dict[str, np.ndarray]:
    """Seeded images of several shapes: smooth colour fields with blocks, so that boxes overlap, tie and cross the
    frame edge."""
    rng = np.random.default_rng(7)
    images = {}
    for i, (h, w) in enumerate([(480, 640), (720, 405), (300, 1000), (97, 131), (640, 640), (1200, 900)]):
        small = rng.integers(0, 256, (max(2, h // 40), max(2, w // 40), 3), dtype=np.uint8)
        image = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
        for _ in range(4):
            y, x = rng.integers(0, h), rng.integers(0, w)
            image[y: y + h // 3, x: x + w // 4] = rng.integers(0, 256, 3, dtype=np.uint8)
        images[f"img{i}_{w}x{h}"] = image
    return images


@pytest.fixture(scope="module")
def yolox_random(tmp_path_factory) -> Path:
    return random_yolox(tmp_path_factory.mktemp("yolox") / "yolox_l_random.onnx")


def test_boxes_are_dwposes_on_a_random_yolox_l(yolox_random, tmp_path):
    """Same ONNX model, same images: our boxes are DWPose's to float32 precision (0.0000 px), not clipped."""
    import onnxruntime as ort

    ours = YoloxDetector(yolox_random, providers=["CPUExecutionProvider"])
    stored = json.loads(DWPOSE_BOXES.read_text())
    assert stored["commit"] == AUX_COMMIT
    det = aux_module("cv_ox_det", tmp_path)
    session = ort.InferenceSession(str(yolox_random), providers=["CPUExecutionProvider"])
    crossing = 0
    for name, image in dwpose_images().items():
        found = ours(image)
        if det is not None:  # live: DWPose's own function, exact
            theirs = det.inference_detector(session, image)
            theirs = np.zeros((0, 4)) if theirs is None else np.asarray(theirs)
            assert found.shape[0] == theirs.shape[0], name
            assert np.array_equal(found[:, :4].astype(np.float64), theirs), name
        reference = np.asarray(stored["boxes"][name], dtype=np.float64).reshape(-1, 4)
        assert found.shape[0] == reference.shape[0], name
        np.testing.assert_allclose(found[:, :4], reference, atol=1e-3, err_msg=name)  # other CPUs: float noise
        h, w = image.shape[:2]
        crossing += int(((found[:, :2] < 0) | (found[:, 2:4] > [w, h])).any(axis=1).sum())
    assert crossing > 0  # some boxes reach past the edge, and stay so, as DWPose's


def test_nms_ties_and_the_threshold_compare_as_dwposes(tmp_path):
    """Equal scores: DWPose keeps the later box; a score of exactly float32(0.3) passes its float64 comparison."""
    det = aux_module("cv_ox_det", tmp_path)
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60], [51, 50, 61, 60]], np.float32)
    scores = np.array([0.5, 0.5, 0.7, 0.7], np.float32)
    assert nms(boxes, scores, 0.45).tolist() == [3, 1]  # the later of each equal pair
    if det is not None:
        assert nms(boxes, scores, 0.45).tolist() == [int(i) for i in det.nms(boxes, scores, 0.45)]
    input_hw = (64, 64)
    base = blank_base(input_hw)
    put_box(base, input_hw, 32, (4, 4, 28, 28), obj=float(np.float32(0.3)))  # exactly float32(0.3)
    put_box(base, input_hw, 32, (36, 36, 60, 60), obj=float(np.nextafter(np.float32(0.3), np.float32(0))))
    found = YoloxDetector(build_model(tmp_path / "t.onnx", input_hw, base, red=False))(np.zeros((64, 64, 3), np.uint8))
    np.testing.assert_allclose(found, [[4, 4, 28, 28, np.float32(0.3)]], atol=1e-4)


def test_comfy_and_rgba_images_become_the_bytes_dwposes_node_feeds_its_detector(tmp_path):
    """A ComfyUI IMAGE between 8-bit steps (after a resize node): the DWPose node's ``np.asarray(image * 255.,
    dtype=np.uint8)`` (comfyui_controlnet_aux utils.common_annotator_call) truncates; a feathered RGBA edge: HWC3."""
    util = aux_module("util", tmp_path)
    rng = np.random.default_rng(5)
    comfy = torch.from_numpy(rng.random((40, 50, 3), dtype=np.float32))
    assert np.array_equal(to_rgb_uint8(comfy), np.asarray(comfy * 255., dtype=np.uint8))
    rgba = rng.integers(0, 256, (40, 50, 4), dtype=np.uint8)
    rgba[..., 3] = np.linspace(0, 255, 50).astype(np.uint8)  # a feathered alpha edge
    color, alpha = rgba[..., :3].astype(np.float32), rgba[..., 3:].astype(np.float32) / np.float32(255)
    expected = util.HWC3(rgba) if util is not None else (color * alpha + 255 * (1 - alpha)).clip(0, 255).astype(
        np.uint8)
    assert np.array_equal(to_rgb_uint8(rgba), expected)
