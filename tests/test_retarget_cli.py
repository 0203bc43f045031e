"""``python -m sdpose_core retarget``: JSON or image reference, JSON and pose video out, nothing overwritten."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from sdpose_core.cli.main import main
from sdpose_core.formats.openpose import BODY_KEY
from sdpose_core.pose.render import LIMBS
from sdpose_core.video.io import count_frames
from test_retarget import POSE, SHORT, TALL, body, frame, person, walk_angles


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
