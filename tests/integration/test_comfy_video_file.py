"""SDPose Annotate Video File in a real ComfyUI server: outputs, confinement, flat memory on a long clip, cancel."""

from __future__ import annotations

import json
import threading
import time

import pytest

from comfy_helpers import BODY, comfy_folder, loader, start_server, stop_server, write_clip

NODE = "SDPoseNodes.AnnotateVideoFile"
LONG_FRAMES, LONG_W, LONG_H = 1000, 1280, 720


def annotate(file: str, prefix: str, **options) -> dict:
    inputs = {"sdpose_model": ["1", 0], "file": file, "filename_prefix": prefix, "tracking": True,
              "smoothing": False, "smooth_min_cutoff": 1.0, "smooth_beta": 10.0, "detect_every": 1,
              "save_frames": False, "draw_over_video": False, "detect_hand": "enable", "detect_body": "enable",
              "detect_face": "enable", "resolution": 64, "bbox_detector": "None",
              "scale_stick_for_xinsr_cn": "disable", "flip_test": False, "crop_mode": "topdown",
              "score_threshold": 0.0, "batch_size": 8}
    inputs.update(options)
    return {"1": loader(BODY), "2": {"class_type": NODE, "inputs": inputs}}


def frame_count(path) -> int:
    import av

    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def leftovers(folder, stem: str) -> list[str]:
    """Anything in ``folder`` (hidden temporary files included) that belongs to outputs named ``stem``."""
    return sorted(p.name for p in folder.iterdir() if stem in p.name) if folder.is_dir() else []


@pytest.fixture(scope="module")
def long_comfy(comfy_base, tmp_path_factory):
    """A second server on the same tiny models with 64x64 crops (the model is then a small part of the time), and
    input/long/walk.mp4: 1,000 frames of 1280x720 (in a subfolder of input/, as users organise clips). Frames that
    large make one frame's worth (11 MB as float32) larger than the allocator's noise in RSS."""
    base = comfy_folder(tmp_path_factory.mktemp("comfy-long"))
    (base / "models").mkdir()
    (base / "models" / "sdpose").symlink_to(comfy_base / "models" / "sdpose", target_is_directory=True)
    write_clip(base / "input" / "long" / "walk.mp4", LONG_FRAMES, LONG_W, LONG_H, fps=25)
    # One torch thread: the decode and encode threads run beside the model on the two CI cores (two torch threads
    # there, or on a busy machine, spend most of their time waiting for each other).
    server = start_server(base, input_size="64x64", extra_env={"OMP_NUM_THREADS": "1"})
    yield server
    stop_server(server)


def test_video_file_to_pose_video_keypoints_and_frames(comfy):
    folder = comfy.base / "output" / "vid"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "dance_00001_.png").write_text("precious")  # ComfyUI's SaveImage numbering: the outputs number on
    entry = comfy.run_ok(annotate("dance.mp4", "vid/dance", save_frames=True, draw_over_video=True))
    ui = entry["outputs"]["2"]
    [keypoints] = comfy.output_files(entry, "2", "pose_keypoint_files")
    [video] = comfy.output_files(entry, "2", "pose_videos")
    [frames_dir] = comfy.output_files(entry, "2", "pose_frame_folders")
    assert (keypoints.name, video.name, frames_dir.name) == ("dance_00002_.json", "dance_00002_pose.mp4",
                                                            "dance_00002_frames")  # one scheme (nodes/files.py)
    assert (folder / "dance_00001_.png").read_text() == "precious"
    poses = json.loads(keypoints.read_text())
    assert len(poses) == 6 and all(len(f["people"]) == 1 for f in poses)  # bbox_detector None: the whole frame
    assert all(f["people"][0]["person_id"] == [0] for f in poses)  # tracked
    assert (poses[0]["canvas_width"], poses[0]["canvas_height"]) == (64, 96)
    assert frame_count(video) == 6 and len(list(frames_dir.glob("*.png"))) == 6
    assert json.loads(ui["openpose_json"][0]) == poses  # the preview: the first frames' poses (all six here)
    assert len(ui["sdpose_backgrounds"]) == 6


@pytest.mark.parametrize("file", ["../secret.mp4", "/etc/passwd.mp4", "long/../../secret.mp4", "person.png"])
def test_files_outside_input_or_not_videos_are_refused(comfy, file):
    (comfy.base / "secret.mp4").write_bytes(b"not for the node")
    status, body = comfy.submit(annotate(file, "vid/refused"))
    assert status == 400 and "2" in body["node_errors"], body
    assert comfy.alive()


def rss_sampler(pid: int):
    """Peak resident memory of ``pid`` while the returned ``stop`` is not called (sampled every 20 ms)."""
    import psutil

    process, peak, done = psutil.Process(pid), [0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            try:
                peak[0] = max(peak[0], process.memory_info().rss)
            except psutil.NoSuchProcess:
                return
            time.sleep(0.02)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()

    def stop() -> int:
        done.set()
        thread.join()
        return peak[0]

    return process.memory_info().rss, stop


def measured_run(comfy, prompt: dict) -> tuple[int, int, dict, float]:
    """(peak RSS during the run - RSS before it, RSS after it, history entry, seconds) of one prompt."""
    import psutil

    before, stop = rss_sampler(comfy.process.pid)
    started = time.monotonic()
    try:
        entry = comfy.run_ok(prompt, timeout=900)
    finally:
        peak = stop()
    return peak - before, psutil.Process(comfy.process.pid).memory_info().rss, entry, time.monotonic() - started


def test_a_long_clip_streams_with_flat_memory(long_comfy):
    """1,000 frames through the server keep nothing per frame: after the run RSS is within a dozen frames' worth of
    where it was after 100 frames (holding the clip would take 1,000 frames' worth: 10.3 GiB as an IMAGE batch,
    2.6 GiB decoded). While it runs, RSS grows by the frames in flight only, a number set by batch_size and the
    decode-ahead / encode queues, not by the clip's length."""
    comfy = long_comfy
    for frames in (40, 100):
        write_clip(comfy.base / "input" / "long" / f"walk{frames}.mp4", frames, LONG_W, LONG_H, fps=25)
    comfy.run_ok(annotate("long/walk40.mp4", "vid/warm"), timeout=300)  # model, caches, encoder warmed up
    _, after_short, _, _ = measured_run(comfy, annotate("long/walk100.mp4", "vid/walk100"))
    growth, after, entry, seconds = measured_run(comfy, annotate("long/walk.mp4", "vid/walk"))
    [video] = comfy.output_files(entry, "2", "pose_videos")
    [keypoints] = comfy.output_files(entry, "2", "pose_keypoint_files")
    assert frame_count(video) == LONG_FRAMES and len(json.loads(keypoints.read_text())) == LONG_FRAMES
    assert len(json.loads(entry["outputs"]["2"]["openpose_json"][0])) == 16  # the preview keeps the first frames
    frame_bytes = LONG_W * LONG_H * 3 * 4  # one frame as a float32 IMAGE: 11 MB
    kept = after - after_short
    print(f"\n{LONG_FRAMES} frames in {seconds:.0f} s; peak RSS growth {growth / 2**20:.1f} MiB = "
          f"{growth / frame_bytes:.1f} frames' worth; kept after the run, compared with 100 frames: "
          f"{kept / 2**20:+.1f} MiB = {kept / frame_bytes:+.1f} frames' worth")
    # Nothing kept per frame: holding the 900 extra frames decoded would keep 2.3 GiB (225 frames' worth); allocator
    # noise measured +0.8 alone and +5.9 frames' worth with the other core busy, so the bound leaves room for that.
    assert kept < 12 * frame_bytes
    assert growth < 48 * frame_bytes  # in flight at batch_size 8: measured about 30 frames' worth (float copies)


def test_progress_and_cancel_leave_no_partial_files(long_comfy):
    comfy = long_comfy
    prompt = annotate("long/walk.mp4", "vid/cancelled", save_frames=True, batch_size=2)
    folder = comfy.base / "output" / "vid"

    def being_written():
        assert leftovers(folder, "cancelled")  # the outputs are being written (hidden for now)

    _, interrupted_at, last, events = comfy.run_and_interrupt(prompt, node="2", at=20, timeout=300,
                                                              before_interrupt=being_written)
    assert interrupted_at is not None and interrupted_at[1] == LONG_FRAMES  # progress counts the clip's frames
    assert last["type"] == "execution_interrupted" and last["data"]["node_id"] == "2"
    progress = [e["data"]["value"] for e in events if e["type"] == "progress" and e["data"].get("node") == "2"]
    assert max(progress) < LONG_FRAMES
    assert leftovers(folder, "cancelled") == []  # no pose video, no JSON, no frames, no temporary file
    assert comfy.alive()
