"""``python -m sdpose_core retarget``: JSON or image reference, JSON and pose video out, nothing overwritten."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from sdpose_core.cli.main import main
from sdpose_core.errors import InputError
from sdpose_core.formats.openpose import BODY_KEY, LEFT_KEY
from sdpose_core.pose.render import LIMBS
from sdpose_core.pose.retarget import retarget
from sdpose_core.pose.retarget_clip import RetargetOptions, retarget_clip
from sdpose_core.video.io import count_frames
from test_retarget import POSE, SHORT, TALL, body, frame, person, walk_angles, wholebody


def write(path, data):
    path.write_text(json.dumps(data))
    return path


def test_json_reference_json_and_video_out(tmp_path, capsys):
    driving = write(tmp_path / "drive.json", [frame(person(body(SHORT, walk_angles(t)))) for t in range(6)])
    ref = write(tmp_path / "ref.json", [frame(person(body(TALL, POSE, neck=(320, 120))), w=640, h=400)])
    out, video = tmp_path / "out.json", tmp_path / "pose.mp4"
    args = ["retarget", str(driving), "--reference", str(ref), "--out", str(out), "--pose-video", str(video),
            "--fps", "24", "--stick-width", "6"]
    assert main(args) == 0
    frames = json.loads(out.read_text())
    assert len(frames) == 6 and frames[0]["canvas_width"] == 640
    b = np.asarray(frames[3]["people"][0][BODY_KEY]).reshape(18, 3)
    assert abs(np.linalg.norm(b[3, :2] - b[2, :2]) / TALL[LIMBS.index((2, 3))] - 1) < 1e-3
    assert count_frames(video) == 6
    assert main(args) == 2  # never overwrites
    assert "already exists" in capsys.readouterr().err
    assert main(["retarget", str(driving), "--reference", str(ref), "--out", str(tmp_path / "b.json"),
                 "--pose-video", str(tmp_path / "b.mp4")]) == 2
    assert "--fps" in capsys.readouterr().err and not (tmp_path / "b.json").exists()


def test_image_reference_is_posed_like_estimate(tiny_body, cache, tmp_path, capsys):
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (128, 96, 3), dtype=np.uint8)).save(tmp_path / "ref.png")
    model = ["--model", str(tiny_body), "--input-size", "192x256", "--detector", "none", "--cache-dir", str(cache),
             "--device", "cpu", "--threshold", "0"]
    driving = write(tmp_path / "drive.json", [frame(person(body(SHORT, walk_angles(t)))) for t in range(3)])
    assert main(["estimate", str(tmp_path / "ref.png"), "--out", str(tmp_path / "est2"), *model]) == 0
    assert main(["retarget", str(driving), "--reference", str(tmp_path / "est2" / "ref.json"),
                 "--out", str(tmp_path / "b.json")]) == 0
    assert main(["retarget", str(driving), "--reference", str(tmp_path / "ref.png"), "--out", str(tmp_path / "c.json"),
                 *model]) == 0
    assert json.loads((tmp_path / "c.json").read_text()) == json.loads((tmp_path / "b.json").read_text())
    assert json.loads((tmp_path / "c.json").read_text())[0]["canvas_width"] == 96
    assert main(["retarget", str(driving), "--reference", str(tmp_path / "ref.png"),
                 "--out", str(tmp_path / "d.json")]) == 2
    assert "pass --model" in capsys.readouterr().err


def wrist_dropout_clip() -> list:
    """A tracked walk whose left body wrist is missing in frame 3 (the hand itself is seen)."""
    clip = [frame(wholebody(body(SHORT, walk_angles(t), neck=(200 + 3 * t, 150)), 10, 16, pid=1)) for t in range(8)]
    b = np.asarray(clip[3]["people"][0][BODY_KEY]).reshape(18, 3)
    b[7] = 0.0
    clip[3]["people"][0][BODY_KEY] = b.reshape(-1).tolist()
    return clip


def test_the_command_runs_the_node_pipeline_gap_filling_first(tmp_path, capsys):
    """A hand whose wrist is missing for a frame lands where the library pipeline (the node's) puts it: on the
    arm, as without the dropout; without gap filling it is placed by the root transform, far off."""
    clip = wrist_dropout_clip()
    long_arms = tuple(v * (1.6 if i in (2, 3, 4, 5) else 1) for i, v in enumerate(TALL))
    reference = frame(wholebody(body(long_arms, POSE, neck=(320, 120)), 30, 40), w=640, h=600)
    driving, ref = write(tmp_path / "drive.json", clip), write(tmp_path / "ref.json", reference)
    base = ["retarget", str(driving), "--reference", str(ref)]
    assert main([*base, "--out", str(tmp_path / "a.json")]) == 0
    assert main([*base, "--out", str(tmp_path / "b.json"), "--fill-gaps", "0"]) == 0
    out = json.loads((tmp_path / "a.json").read_text())
    frames, _ = retarget_clip(clip, reference, RetargetOptions())
    assert json.loads(json.dumps(frames)) == out
    intact = [frame(wholebody(body(SHORT, walk_angles(t), neck=(200 + 3 * t, 150)), 10, 16, pid=1)) for t in range(8)]
    truth = retarget(intact, reference)[3]["people"][0][LEFT_KEY][:2]
    filled = out[3]["people"][0][LEFT_KEY][:2]
    unfilled = json.loads((tmp_path / "b.json").read_text())[3]["people"][0][LEFT_KEY][:2]
    assert np.linalg.norm(np.subtract(filled, truth)) < 5.0  # linear interpolation of a swinging wrist
    assert np.linalg.norm(np.subtract(unfilled, truth)) > 25.0
    assert main([*base, "--out", str(tmp_path / "c.json"), "--smooth", "--fps", "24"]) == 0
    smoothed, _ = retarget_clip(clip, reference, RetargetOptions(smooth=True, frame_rate=24.0))
    assert json.loads((tmp_path / "c.json").read_text()) == json.loads(json.dumps(smoothed))
    assert smoothed != frames


@pytest.mark.parametrize("flags,message", [(["--fill-gaps", "-1"], "--fill-gaps must be a whole number"),
                                           (["--fill-gaps", "301"], "--fill-gaps must be a whole number"),
                                           (["--smooth"], "--smooth needs --fps"),
                                           (["--smooth", "--fps", "nan"], "--smooth needs --fps")])
def test_bad_pipeline_flags_get_one_error_line(tmp_path, capsys, flags, message):
    driving = write(tmp_path / "drive.json", [frame(person(body(SHORT, walk_angles(t)))) for t in range(3)])
    ref = write(tmp_path / "ref.json", [frame(person(body(TALL, POSE)))])
    out = tmp_path / "out.json"
    assert main(["retarget", str(driving), "--reference", str(ref), "--out", str(out), *flags]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("error:") == 1 and not out.exists()


@pytest.mark.parametrize("options, match", [(RetargetOptions(smooth=True, frame_rate="30"), "smooth needs"),
                                            (RetargetOptions(smooth=True, frame_rate=float("inf")), "smooth needs"),
                                            (RetargetOptions(smooth=True, frame_rate=1e308), "smooth needs"),
                                            (RetargetOptions(reference_person="0"), "reference person '0'"),
                                            (RetargetOptions(reference_person=True), "reference person True"),
                                            (RetargetOptions(fill_gaps=2.5), "fill_gaps must be a whole number"),
                                            (RetargetOptions(threshold=float("nan")), "threshold must be")])
def test_pipeline_options_of_the_wrong_type_are_one_clear_error(options, match):
    """What a script may pass the library: an InputError naming the option, never a TypeError."""
    driving = [frame(person(body(SHORT, walk_angles(t)))) for t in range(3)]
    with pytest.raises(InputError, match=match):
        retarget_clip(driving, frame(person(body(TALL, POSE))), options)
BIG = "1" + "0" * 400  # an integer no float holds


def _inputs(tmp_path):
    driving = write(tmp_path / "drive.json", [frame(person(body(SHORT, walk_angles(t)))) for t in range(3)])
    ref = write(tmp_path / "ref.json", frame(person(body(TALL, POSE))))
    return driving, ref


@pytest.mark.parametrize("extra, message", [
    (["--threshold", "nan"], "--threshold must be a number in 0..1"),
    (["--threshold", "5"], "--threshold must be a number in 0..1"),
    (["--out", "{tmp}/afile/x.json"], "which is a file"),
    (["--pose-video", "{tmp}/afile/v.mp4", "--fps", "24"], "which is a file"),
    (["--out", "{tmp}/" + "o" * 251 + ".json"], "is 256 bytes long (at most 255)"),
    (["--pose-video", "{tmp}/" + "v" * 252 + ".mp4", "--fps", "24"], "is 256 bytes long"),
    (["--out", "/proc/x.json"], "cannot write a file there"),
    (["--pose-video", "{tmp}/v.mp4", "--fps", "inf"], "a number in 0..1000"),
    (["--pose-video", "{tmp}/v.mp4", "--fps", "1e308"], "a number in 0..1000"),
    (["--pose-video", "{tmp}/v.mp4", "--fps", "nan"], "a number in 0..1000"),
    (["--pose-video", "{tmp}/out.json", "--fps", "24"], "are the same file"),
    (["--stick-width", "0"], "must be 1..64"),
    (["--point-size", "1000000000"], "must be 1..64"),
    (["--point-size", "99999999999"], "must be 1..64"),
    (["--stick-width", "99999999999"], "must be 1..64"),
    (["--resolution", "10"], "--resolution must be 64..16384"),
    (["--reference-person", "-1"], "--reference-person must be 0 or more"),
])
def test_bad_values_and_outputs_get_one_line_before_anything(extra, message, tmp_path, capsys):
    driving, ref = _inputs(tmp_path)
    (tmp_path / "afile").write_text("the user's")
    args = ["retarget", str(driving), "--reference", str(ref), "--out", str(tmp_path / "out.json")]
    assert main(args + [e.format(tmp=tmp_path) for e in extra]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and err.startswith("error: "), err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "drive.json", "ref.json"]  # nothing written


def test_device_is_checked_before_a_reference_image_is_posed(tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    driving, _ = _inputs(tmp_path)
    Image.fromarray(np.zeros((64, 48, 3), np.uint8)).save(tmp_path / "ref.png")
    assert main(["retarget", str(driving), "--reference", str(tmp_path / "ref.png"), "--out", str(tmp_path / "o.json"),
                 "--model", str(tmp_path / "missing-model"), "--device", "cuda"]) == 2
    err = capsys.readouterr().err
    assert "no CUDA GPU is usable here" in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize("where", ["keypoint", "canvas"])
@pytest.mark.parametrize("command", ["retarget", "draw"])
def test_integers_too_large_for_a_float_are_one_line(where, command, tmp_path, capsys):
    driving, ref = _inputs(tmp_path)
    frames = json.loads(driving.read_text())
    if where == "canvas":
        frames[0]["canvas_width"] = "BIG"
    else:
        frames[0]["people"][0][BODY_KEY][0] = "BIG"
    driving.write_text(json.dumps(frames).replace('"BIG"', BIG))
    args = (["retarget", str(driving), "--reference", str(ref), "--out", str(tmp_path / "o.json")]
            if command == "retarget" else ["draw", str(driving), "--out", str(tmp_path / "o")])
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "too large" in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize("value", [1e300, -1e300, 1e-300, 5e-324])
def test_coordinates_whose_lengths_overflow_or_underflow_are_refused(value, tmp_path, capsys):
    """Bones 1e300 long overflow when squared; 1e-300 long underflow to 0: either collapsed every joint onto the
    neck with status 0. Now the file is refused, naming the value."""
    driving, ref = _inputs(tmp_path)
    frames = json.loads(driving.read_text())
    flat = frames[1]["people"][0][BODY_KEY]
    frames[1]["people"][0][BODY_KEY] = [v * value if i % 3 != 2 else v for i, v in enumerate(flat)]
    driving.write_text(json.dumps(frames))
    assert main(["retarget", str(driving), "--reference", str(ref), "--out", str(tmp_path / "o.json")]) == 2
    err = capsys.readouterr().err
    assert "frame 1" in err and "is not a pixel position" in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "o.json").exists()


@pytest.mark.parametrize("out, message", [
    ("{tmp}/afile/x.png", "which is a file"),
    ("{tmp}/" + "p" * 252 + ".png", "File name too long"),
    ("/proc/x.png", "cannot write a file there"),
])
def test_draw_outputs_are_checked_before_drawing(out, message, tmp_path, capsys):
    _, ref = _inputs(tmp_path)
    (tmp_path / "afile").write_text("the user's")
    assert main(["draw", str(ref), "--out", out.format(tmp=tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and err.startswith("error: "), err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "drive.json", "ref.json"]
