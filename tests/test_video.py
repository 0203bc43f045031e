"""Video: streaming decode/encode, clip annotation through the real pipeline, the CLI on videos, sharding, memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import weakref
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch

from sdpose_core.cli.main import main
from sdpose_core.engine.pipeline import PoseEstimator, pose_frame
from sdpose_core.engine.schemes import get_scheme
from sdpose_core.errors import InputError
from sdpose_core.formats.openpose import load_pose_keypoint
from sdpose_core.video import file_job as video_mod
from sdpose_core.video.clip import annotate_frames
from sdpose_core.video.file_job import annotate_video
from sdpose_core.video.io import VideoWriter, count_frames, probe_video, read_frames
from sdpose_core.video.options import ClipOptions
from sdpose_core.weights.checkpoint import load_model

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Many tiny ops: on a small shared CPU, torch's thread pool costs far more than it gains (8x here)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def moving_box_frames(n: int, size=(96, 72), box=(20, 40), speed=(3, 1), start=(5, 10)):
    """Frames (HxWx3 uint8) with one bright rectangle moving ``speed`` px/frame, and its centre per frame."""
    h, w = size
    for t in range(n):
        x, y = start[0] + speed[0] * t, start[1] + speed[1] * t
        frame = np.full((h, w, 3), 30, np.uint8)
        frame[y:y + box[1], x:x + box[0]] = 220
        yield frame, (x + (box[0] - 1) / 2, y + (box[1] - 1) / 2)


def write_clip(path: Path, frames, fps=Fraction(25)) -> Path:
    with VideoWriter(path, fps) as writer:
        for frame in frames:
            writer.write(frame)
    return path


class BlobModel:
    """Stands in for SDPoseModel at no cost: it 'sees' the bright blob in each crop and puts the 17 keypoints on
    a 3 x 6 grid inside it, as heatmap peaks. Keypoints then follow the blob through crops, decoding and boxes."""

    def __init__(self, jitter: float = 0.0, seed: int = 0):
        self.scheme, self.device, self.dtype = get_scheme("body"), torch.device("cpu"), torch.float32
        self.calls = 0
        self.jitter = jitter  # standard deviation of random peak shifts, heatmap pixels (a shaky model)
        self.generator = torch.Generator().manual_seed(seed)

    def __call__(self, pixels, sample=False, generator=None):
        self.calls += 1
        b, _, h, w = pixels.shape
        hh, hw = h // 4, w // 4
        yy, xx = torch.meshgrid(torch.arange(hh, dtype=torch.float32), torch.arange(hw, dtype=torch.float32),
                                indexing="ij")
        heat = torch.zeros(b, 17, hh, hw)
        for i in range(b):
            ys, xs = torch.nonzero(pixels[i].mean(0) > 0.3, as_tuple=True)
            if not len(ys):
                continue
            x1, x2 = xs.min() * (hw - 1) / (w - 1), xs.max() * (hw - 1) / (w - 1)
            y1, y2 = ys.min() * (hh - 1) / (h - 1), ys.max() * (hh - 1) / (h - 1)
            shake = torch.randn(17, 2, generator=self.generator) * self.jitter
            for k in range(17):
                px = x1 + (x2 - x1) * (k % 3) / 2 + shake[k, 0]
                py = y1 + (y2 - y1) * (k // 3) / 5 + shake[k, 1]
                heat[i, k] = torch.exp(-((xx - px) ** 2 + (yy - py) ** 2) / 2.0)
        return heat


def blob_detector(calls: list):
    """A person detector for ``moving_box_frames``: the bright rectangle's corners (image tensor [3, H, W])."""

    def detect(image):
        calls.append(1)
        ys, xs = torch.nonzero(image.mean(0) > 0.5, as_tuple=True)
        if not len(ys):
            return torch.zeros(0, 5)
        return torch.tensor([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1, 0.9]], dtype=torch.float64)

    return detect


# ------------------------------------------------------------------------------------------------ video I/O
@pytest.mark.parametrize("backend", ["av", "opencv"])
def test_video_round_trip_keeps_frame_count_and_rate(tmp_path, backend):
    if backend == "av":
        pytest.importorskip("av")
    fps = Fraction(30000, 1001) if backend == "av" else Fraction(25)
    frames = [f for f, _ in moving_box_frames(23, size=(45, 63))]  # odd sides: padded to 64x46
    path = tmp_path / "clip.mp4"
    with VideoWriter(path, fps, backend=backend) as writer:
        for f in frames:
            writer.write(f)
        assert not path.exists()  # appears only when complete
    info = probe_video(path, backend)
    assert (info.width, info.height, info.fps, info.frames) == (64, 46, fps, 23)
    decoded = list(read_frames(path, backend))
    assert len(decoded) == 23 and decoded[0].shape == (46, 64, 3) and decoded[0].dtype == np.uint8
    assert np.abs(decoded[5][:45, :63].astype(int) - frames[5]).mean() < 8  # lossy but the same picture


def test_video_errors_are_clear_and_leave_nothing(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42 but not a video")
    with pytest.raises(InputError, match="Cannot read"):
        probe_video(bad)
    with pytest.raises(InputError, match="not found"):
        list(read_frames(tmp_path / "missing.mp4"))
    out = tmp_path / "partial.mp4"
    with pytest.raises(InputError, match="earlier frames"):
        with VideoWriter(out, 25) as writer:
            writer.write(np.zeros((32, 32, 3), np.uint8))
            writer.write(np.zeros((16, 32, 3), np.uint8))
    assert list(tmp_path.iterdir()) == [bad]  # the partial file was removed


# --------------------------------------------------------------------------------- clips through the pipeline
def test_untracked_unsmoothed_clip_is_frame_exact_and_ids_are_stable(tiny_body, cache):
    """What the ComfyUI node does with an IMAGE batch: float [B, H, W, 3]; keypoints equal the plain pipeline's."""
    model = load_model(tiny_body, cache=cache)
    frames = torch.stack([torch.from_numpy(f).float() / 255 for f, _ in moving_box_frames(3)])
    boxes = [[[4, 8, 30, 50], [40, 10, 25, 40]]] * 3  # two people per frame, caller boxes
    estimator = PoseEstimator(model, input_size=(64, 128), flip=False, batch_size=3)  # small: plumbing only
    plain = list(estimator(frames, boxes))
    tracked = list(annotate_frames(estimator, frames, fps=25, boxes=boxes))
    assert [r.info.index for r in tracked] == list(range(3))
    for a, b in zip(plain, tracked):
        assert sorted(b.info.track_ids) == b.info.track_ids and len(b.info.track_ids) == 2
        for kp, box in zip(b.keypoints, b.boxes):  # the same people, bit for bit, listed by id
            row = int(np.argmin(np.abs(a.boxes - box).sum(1)))
            assert torch.equal(a.keypoints[row], kp) and torch.equal(a.boxes[row], box)
    frame = pose_frame(tracked[0], threshold=0.0)
    assert [p["person_id"] for p in frame["people"]] == [[i] for i in tracked[0].info.track_ids]
    assert load_pose_keypoint(frame)[0]["people"][0]["pose_keypoints_2d"] == frame["people"][0]["pose_keypoints_2d"]
    smoothed = list(annotate_frames(estimator, frames[:2], fps=25, boxes=boxes, smooth=True, threshold=0.0))
    assert smoothed[0].keypoints.equal(tracked[0].keypoints)  # the first frame has nothing to smooth with
    assert not smoothed[1].keypoints.equal(tracked[1].keypoints)
    with pytest.raises(InputError):
        list(annotate_frames(estimator, frames, detect_every=0))


WARM, COOL = (250, 250, 120), (120, 250, 250)  # two people BlobModel sees as bright, told apart by colour
PERSON = (24, 48)  # w, h


def crossing_frames(n: int, rows: tuple[int, int], size=(120, 240), speed=4):
    """Two people walking towards each other, at heights ``rows``, crossing mid-clip (COOL in front, hiding WARM),
    with pixel noise; yields (frame, {colour: true box x1, y1, x2, y2})."""
    rng = np.random.default_rng(5)
    h, w = size
    for t in range(n):
        places = {WARM: (10 + speed * t, rows[0]), COOL: (w - 10 - PERSON[0] - speed * t, rows[1])}
        frame = np.full((h, w, 3), 30, np.uint8)
        for colour, (x, y) in places.items():
            frame[y:y + PERSON[1], x:x + PERSON[0]] = colour
        noisy = np.clip(frame.astype(np.int16) + rng.integers(-8, 9, frame.shape), 0, 255).astype(np.uint8)
        yield noisy, {c: (x, y, x + PERSON[0], y + PERSON[1]) for c, (x, y) in places.items()}


def colour_detector(seed: int = 0, min_visible: float = 0.6):
    """Each person's visible extent by colour, a pixel or two off, listed in a random order every frame; a person
    less than ``min_visible`` visible is missed (as a real detector misses the mostly hidden)."""
    rng = np.random.default_rng(seed)

    def detect(image):
        rgb = image * 255
        found = []
        for colour in (WARM, COOL):
            mask = ((rgb - torch.tensor(colour, dtype=rgb.dtype)[:, None, None]).abs() < 20).all(0)
            ys, xs = torch.nonzero(mask, as_tuple=True)
            if len(ys) >= min_visible * PERSON[0] * PERSON[1]:
                box = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], float) + rng.normal(0, 1, 4)
                found.append([*box, 0.9])
        rng.shuffle(found)
        return torch.tensor(found, dtype=torch.float64).reshape(-1, 5)

    return detect


@pytest.mark.parametrize("rows", [(36, 44), (40, 40)], ids=["partly-hidden", "hidden-then-back"])
def test_tracking_keeps_ids_through_a_crossing_in_a_clip(rows):
    """Through the whole clip path (detector, crops, decoding, tracker): two people cross. While they overlap each
    crop holds both, so their keypoints are confused; the one behind is partly hidden, or missed by the detector
    for a few frames; the detector lists people in a random order. Each keeps their id from the first frame to the
    last (a hidden person comes back under their own id), and people come out in id order."""
    data = list(crossing_frames(50, rows))
    estimator = PoseEstimator(BlobModel(jitter=0.3, seed=1), input_size=(64, 128), flip=False, batch_size=8,
                              detector=colour_detector())
    results = list(annotate_frames(estimator, [f for f, _ in data], fps=25))
    ids = {WARM: set(), COOL: set()}
    overlapped = missed = 0
    for result, (_, truth) in zip(results, data):
        assert result.info.track_ids == sorted(result.info.track_ids)
        for track_id, (x, y, w, h) in zip(result.info.track_ids, result.boxes.numpy()):
            centre = np.array([x + w / 2, y + h / 2])
            who = min(truth, key=lambda c: np.abs(centre - np.add(truth[c][:2], truth[c][2:]) / 2).sum())
            ids[who].add(track_id)
        warm, cool = truth[WARM], truth[COOL]
        overlapped += bool(warm[0] < cool[2] and cool[0] < warm[2])
        missed += result.num_people < 2
    assert ids == {WARM: {0}, COOL: {1}}, ids  # numbered left to right in the first frame, never swapped
    assert results[0].info.track_ids == results[-1].info.track_ids == [0, 1]
    assert overlapped >= 5  # the crossing is real
    if rows[0] == rows[1]:
        assert missed >= 4  # and so is the gap


def test_detect_every_n_carries_boxes_that_follow_the_person():
    model = BlobModel()
    data = list(moving_box_frames(24, size=(120, 160), speed=(4, 2)))
    frames, centres = [f for f, _ in data], np.array([c for _, c in data])
    for every, expected_calls in ((1, 24), (5, 5)):
        calls: list = []
        estimator = PoseEstimator(model, input_size=(64, 128), flip=False, batch_size=4, detector=blob_detector(calls))
        results = list(annotate_frames(estimator, iter(frames), fps=25, detect_every=every))
        assert len(calls) == expected_calls
        assert estimator.detector is not None and len(results) == 24
        found = np.array([r.keypoints[0, :, :2].mean(0).numpy() for r in results])
        assert [r.num_people for r in results] == [1] * 24
        error = np.abs(found - centres).max(axis=1)  # about 1.2 px of it is BlobModel's own rounding
        assert error[every:].max() < 2.0 and error.max() < 5.0, error  # before any result is back, boxes stand
        assert all(r.info.track_ids == [0] for r in results)


@pytest.mark.parametrize("speed, less_shake", [(0, 3.0), (1, 1.6)])
def test_smoothing_a_shaky_clip_cuts_jitter_and_keeps_up_with_the_person(speed, less_shake):
    """A person standing, or walking 1 px/frame (0.6 heights/s), posed by a model whose keypoints shake (~3 % of
    the person's height): through the whole clip path (detector, crops, decoding, tracking), smoothing cuts the
    frame-to-frame shake (as much as the One-Euro defaults promise: most of it at rest, about half in motion) and
    stays on the person."""
    data = list(moving_box_frames(90, size=(120, 200), box=(24, 48), speed=(speed, 0), start=(20, 30)))
    frames, centres = [f for f, _ in data], np.array([c for _, c in data])
    out = {}
    for smooth in (False, True):
        estimator = PoseEstimator(BlobModel(jitter=0.5, seed=3), input_size=(64, 128), flip=False, batch_size=8,
                                  detector=blob_detector([]))
        results = list(annotate_frames(estimator, frames, fps=30, smooth=smooth))
        assert [r.info.track_ids for r in results] == [[0]] * 90
        out[smooth] = np.stack([r.keypoints[0, :, :2].numpy() for r in results])  # [T, 17, 2]
    settled = slice(10, None)

    def shake(seq):  # RMS second difference: zero for steady motion
        return float(np.sqrt((np.diff(seq[settled], n=2, axis=0) ** 2).mean()))

    raw, smoothed = shake(out[False]), shake(out[True])
    print(f"\nspeed {speed} px/frame: keypoint shake {raw:.2f} px raw, {smoothed:.2f} px smoothed "
          f"(x{raw / smoothed:.1f} less)")
    assert raw > 1.0 and raw / smoothed > less_shake
    lag = (out[True] - out[False]).mean(axis=1)[settled]  # smoothed vs. raw person position, px
    print(f"mean lag {lag[:, 0].mean():+.2f} px (one frame's motion: {speed} px)")
    assert abs(lag[:, 0].mean()) < 0.6 and np.abs(lag).max() < 3.0  # trailing by less than a frame
    error = np.abs(out[True].mean(axis=1) - centres)[settled]
    assert error.mean() < 2.0  # on the person (BlobModel's own rounding is about 1.2 px)


def test_interrupted_or_failing_videos_leave_no_outputs_and_no_threads(tmp_path):
    import threading

    clip = write_clip(tmp_path / "clip.mp4", (f for f, _ in moving_box_frames(40)))
    batches = [0]

    def stop_at_third(_crops):
        batches[0] += 1
        if batches[0] == 3:
            raise KeyboardInterrupt

    out = tmp_path / "out"
    estimator = PoseEstimator(BlobModel(), input_size=(64, 64), flip=False, batch_size=4, on_batch=stop_at_third)
    with pytest.raises(KeyboardInterrupt):
        annotate_video(estimator, clip, out, frames_png=True)
    assert list(out.iterdir()) == []
    estimator = PoseEstimator(BlobModel(), input_size=(64, 64), flip=False, batch_size=4)
    with pytest.raises(InputError, match="resolution"):  # raised while drawing, in the writer thread
        annotate_video(estimator, clip, out, draw_options={"resolution": 8})
    assert list(out.iterdir()) == []
    assert not [t for t in threading.enumerate() if t.name.startswith("sdpose-")]


# ---------------------------------------------------------------------------------------------------- the CLI
def _common(model: Path, out: Path, cache: Path) -> list[str]:
    return ["--model", str(model), "--out", str(out), "--input-size", "192x256", "--no-flip", "--detector", "none",
            "--cache-dir", str(cache), "--device", "cpu"]


def test_cli_annotates_a_video_keeping_frame_count_and_rate(tiny_wholebody, cache, tmp_path):
    clip = write_clip(tmp_path / "in" / "walk.mp4", (f for f, _ in moving_box_frames(4)), Fraction(24000, 1001))
    out = tmp_path / "out"
    args = ["estimate", str(clip), *_common(tiny_wholebody, out, cache), "--frames", "--smooth",
            "--threshold", "0", "--resolution", "128"]
    assert main(args) == 0
    poses = json.loads((out / "walk.json").read_text())
    assert isinstance(poses, list) and len(poses) == 4
    assert all(len(f["people"]) == 1 and f["people"][0]["person_id"] == [0] for f in poses)
    assert poses[0]["canvas_width"] == 72 and poses[0]["canvas_height"] == 96
    assert len(poses[0]["people"][0]["face_keypoints_2d"]) == 70 * 3
    info = probe_video(out / "walk_pose.mp4")
    assert info.fps == Fraction(24000, 1001) and count_frames(out / "walk_pose.mp4") == 4
    assert (info.width, info.height) == (128, 172)  # short side = resolution; 171 padded to even
    pngs = sorted((out / "walk_frames").iterdir())
    assert [p.name for p in pngs] == [f"walk_{i:05d}.png" for i in range(4)]
    stamp = {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.name[0] != "."}
    assert main(args) == 0  # a rerun resumes: the complete set is skipped, nothing numbered, nothing touched
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.name[0] != "."} == stamp
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == [".sdpose-job"]  # no temporary files
    assert not list((out / ".sdpose-job" / "staging").iterdir())


def test_cli_boxes_file_gives_per_frame_boxes_for_a_video(tiny_body, cache, tmp_path):
    clip = write_clip(tmp_path / "clip.mp4", (f for f, _ in moving_box_frames(4)))
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({"clip.mp4": [[[5, 10, 20, 40]], [[8, 11, 20, 40], [40, 50, 20, 30]], []]}))
    out = tmp_path / "out"
    assert main(["estimate", str(clip), *_common(tiny_body, out, cache), "--boxes", str(boxes), "--no-track"]) == 0
    poses = json.loads((out / "clip.json").read_text())
    assert [len(f["people"]) for f in poses] == [1, 2, 0, 0]  # frames past the list: nobody, as for images
    assert "person_id" not in poses[1]["people"][0]  # --no-track: no ids


def test_sharded_processes_write_every_output_once(tiny_body, cache, tmp_path, monkeypatch):
    """Two processes (as accelerate launch starts them, here threads) share a folder of videos and images."""
    import threading

    from PIL import Image

    import sdpose_core.cli.batch as batch

    folder = tmp_path / "in"
    for name in ("a", "b", "c"):
        write_clip(folder / f"{name}.mp4", (f for f, _ in moving_box_frames(2)))
    Image.fromarray(np.zeros((40, 30, 3), np.uint8)).save(folder / "a.png")  # same stem as a video
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "b.json").write_text("{}")  # from an earlier run: kept, b gets a numbered name
    barrier, local = threading.Barrier(2, timeout=120), threading.local()

    class Group:  # accelerate's PartialState, as far as the CLI uses it
        device = "cpu"

        def wait_for_everyone(self):
            barrier.wait()

    monkeypatch.setattr(batch, "process_group", lambda: (local.rank, 2, Group()))
    codes = {}

    def run(rank):
        local.rank = rank
        codes[rank] = main(["estimate", str(folder), *_common(tiny_body, tmp_path / "out", cache),
                            "--coco-json", str(tmp_path / "coco.json")])

    threads = [threading.Thread(target=run, args=(r,)) for r in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == {0: 0, 1: 0}
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == sorted([".sdpose-job", "a.json", "a_pose.mp4", "a-1.json", "a-1_pose.png", "b.json",
                            "b-1.json", "b-1_pose.mp4", "c.json", "c_pose.mp4"])
    assert len(json.loads((tmp_path / "coco.json").read_text())) == 1  # the image's record, written once
    assert sorted(p.name for p in tmp_path.iterdir()) == ["coco.json", "in", "out"]


def test_accelerate_launch_shards_videos(tiny_body, cache, tmp_path):
    """The real thing: ``accelerate launch`` with two processes (CPU: torchrun via --multi_gpu), about 25 s."""
    pytest.importorskip("accelerate")
    folder = tmp_path / "in"
    for name in ("a", "b", "c"):
        write_clip(folder / f"{name}.mp4", (f for f, _ in moving_box_frames(3)))
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
           "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
           "-m", "sdpose_core", "estimate", str(folder), *_common(tiny_body, out, cache)[:-2]]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "process 1 of 2" in proc.stdout and "process 2 of 2" in proc.stdout
    assert sorted(p.name for p in out.iterdir()) == sorted([".sdpose-job"] + [f"{n}{s}" for n in "abc"
                                                                             for s in (".json", "_pose.mp4")])


# ---------------------------------------------------------------------------------------------------- memory
def _rss() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_a_thousand_frames_stream_in_bounded_memory(tmp_path, monkeypatch):
    """1,000 frames of 160x120 (58 MB decoded, 230 MB as float tensors) through decode, pipeline, tracking,
    smoothing, overlay drawing, encode and JSON: at most a batch of frames is ever alive, and RSS stays flat."""
    n, batch = 1000, 8
    data = moving_box_frames(n, size=(120, 160), box=(20, 40), speed=(0, 0), start=(70, 40))
    clip = write_clip(tmp_path / "long.mp4", (f for f, _ in data), Fraction(30))
    alive, peak = [0], [0]
    real_read = video_mod.read_frames

    class Frame(np.ndarray):  # ndarray subclass: weak-referenceable, counted while alive
        pass

    def counting_reader(path, backend=None):
        for frame in real_read(path, backend):
            f = frame.view(Frame)
            alive[0] += 1
            weakref.finalize(f, lambda: alive.__setitem__(0, alive[0] - 1))
            peak[0] = max(peak[0], alive[0])
            yield f

    monkeypatch.setattr(video_mod, "read_frames", counting_reader)
    rss = {}

    def progress(done):
        if done in (100, n):
            rss[done] = _rss()

    calls: list = []
    estimator = PoseEstimator(BlobModel(), input_size=(64, 64), flip=False, batch_size=batch,
                              detector=blob_detector(calls))
    result = annotate_video(estimator, clip, tmp_path / "out", options=ClipOptions(smooth=True, detect_every=10),
                            overlay=True, progress=progress)
    assert result.frame_count == n and count_frames(result.video) == n and probe_video(result.video).fps == 30
    assert len(json.loads(result.json.read_text())) == n
    assert len(calls) == n // 10
    assert peak[0] <= batch + video_mod.PREFETCH + video_mod.WRITE_QUEUE + 3, peak[0]  # never the clip
    growth = rss[n] - rss[100]
    print(f"RSS growth over frames 100..1000: {growth / 2**20:.1f} MiB; frames alive at most: {peak[0]}")
    assert growth < 25 * 2**20, f"RSS grew {growth / 2**20:.0f} MiB over 900 frames"  # holding them: 52 MiB


def test_writers_that_must_not_replace_keep_an_existing_file(tmp_path):
    """A video or keypoint file that appeared while we worked is kept; ours is dropped, no temporary left."""
    from sdpose_core.atomic import AlreadyExists
    from sdpose_core.formats.openpose import save_pose_keypoint
    from sdpose_core.video.io import VideoWriter

    video, poses = tmp_path / "pose.mp4", tmp_path / "pose.json"
    video.write_bytes(b"theirs")
    poses.write_text("theirs")
    with pytest.raises(AlreadyExists, match="left untouched"):
        with VideoWriter(video, 8, replace=False) as writer:
            writer.write(np.zeros((16, 16, 3), np.uint8))
    with pytest.raises(AlreadyExists):
        save_pose_keypoint([{"people": [], "canvas_width": 16, "canvas_height": 16}], poses, replace=False)
    assert video.read_bytes() == b"theirs" and poses.read_text() == "theirs"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pose.json", "pose.mp4"]
