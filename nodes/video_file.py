"""SDPose Annotate Video File: a video in input/ -> pose video, POSE_KEYPOINT JSON and optional frames in output/.

An IMAGE batch holds a whole clip in memory; this node never does. It hands the file to
``sdpose_core.video.file_job.annotate_video``, which decodes, poses, draws and encodes a few frames at a time, so
memory stays the same for a 10-second or a 2-hour video. Outputs appear only when complete (a failure or a cancel
leaves none) under a new numbered name in ComfyUI's scheme (``<prefix>_00001_.json``, ``<prefix>_00001_pose.mp4``,
``<prefix>_00001_frames/``; ``nodes/files.py``), never over an existing file. The node shows the poses of the first
frames in the pack's preview.
"""

from __future__ import annotations

import json
from pathlib import Path

from comfy_api.latest import InputImpl, io

from ..sdpose_core.keypoints import DWPOSE_THRESHOLD
from . import common, estimator, files, preview, v3
from .video_options import clip_inputs, clip_options

PREVIEW_FRAMES = 16  # frames whose poses (and images) the node's preview shows


def list_videos() -> list[str]:
    """Video files under ComfyUI's input folder, as relative names (subfolders included), sorted."""
    from ..sdpose_core.video.io import is_video

    return sorted(name for name, _ in common.listing(files.input_dir()) if is_video(name))


def resolve_video(name: str) -> Path:
    """A video name relative to input/ -> its path; an InputError for anything outside input/ or not a video."""
    from ..sdpose_core.video.io import VIDEO_SUFFIXES, is_video

    root = files.input_dir()
    path = common.path_in(root, name or "", "Video file", "ComfyUI's input folder")
    if not is_video(path):
        raise common.InputError(f"'{name}' is not a video file ({', '.join(VIDEO_SUFFIXES)}).")
    if not path.is_file():
        raise common.InputError(f"Video file '{name}' not found in ComfyUI's input folder ({root}); put it there "
                                "(or upload it on the node) and pick it again.")
    return path


def first_frames(path: Path, count: int):
    """The first ``count`` frames of a video as a small IMAGE batch (for the preview backgrounds), or None."""
    import itertools

    import numpy as np
    import torch

    from ..sdpose_core.video.io import read_frames

    frames = read_frames(path)
    try:
        images = list(itertools.islice(frames, count))
    finally:
        frames.close()
    if not images:
        return None
    return torch.from_numpy(np.stack(images).astype(np.float32) / 255.0)


def _missing_parents(folder: Path, root: Path) -> list[Path]:
    """The folders from ``folder`` up to (not including) ``root`` that do not exist yet, deepest first."""
    missing = []
    while folder != root and not folder.exists():
        missing.append(folder)
        folder = folder.parent
    return missing


def _remove_empty(folders: list[Path]) -> None:
    """Remove the folders a failed run created, deepest first, as long as they are empty."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return


def _entry(path: Path, root: Path) -> dict:
    """A ComfyUI file reference (``/view`` style) for a file or folder in output/."""
    subfolder = path.parent.relative_to(root).as_posix()
    return {"filename": path.name, "subfolder": "" if subfolder == "." else subfolder, "type": "output"}


class SDPoseAnnotateVideoFile(io.ComfyNode):
    """A long video, streamed from input/ to output/ with bounded memory."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return v3.schema(
            node_id="SDPoseNodes.AnnotateVideoFile",
            display_name="SDPose Annotate Video File",
            description=("Poses a whole video file from ComfyUI's input folder, a few frames at a time (memory stays "
                         "flat for any length): writes the pose video (same frame rate and frame count), the "
                         "POSE_KEYPOINT JSON (one entry per frame) and optionally a PNG per frame into the output "
                         "folder. For long clips that an IMAGE batch cannot hold."),
            inputs=[
                v3.SDPoseModel.Input("sdpose_model", tooltip="From SDPose Model Loader."),
                v3.Choice("file", options=list_videos(), upload=io.UploadType.video, tooltip=(
                    "A video in ComfyUI's input folder (subfolders too).")),
                io.String.Input("filename_prefix", default="sdpose/video", tooltip=(
                    "Relative to the output folder: writes <prefix>_00001_.json, <prefix>_00001_pose.mp4 "
                    "(and <prefix>_00001_frames/), never over existing files.")),
                *clip_inputs(),
                io.Boolean.Input("save_frames", default=False,
                                 tooltip="Also write every pose frame as a PNG (a folder next to the video)."),
                io.Boolean.Input("draw_over_video", default=False,
                                 tooltip="Draw the poses over the video frames instead of on black."),
                *estimator.option_inputs(),
            ],
            outputs=[io.Video.Output(display_name="pose_video", tooltip=(
                "The pose video written to the output folder (connect Save Video / Get Video Components only for "
                "short clips: they load it whole)."))],
            is_output_node=True,
        )

    @classmethod
    def validate_inputs(cls, score_threshold=None, smooth_min_cutoff=None, smooth_beta=None) -> bool | str:
        return v3.number_problem(cls, score_threshold=score_threshold, smooth_min_cutoff=smooth_min_cutoff,
                                 smooth_beta=smooth_beta)

    @classmethod
    def fingerprint_inputs(cls, file, **_options):
        try:
            stat = resolve_video(file).stat()
            return f"{file}:{stat.st_mtime_ns}:{stat.st_size}"
        except Exception:
            return float("nan")  # let the run itself report the problem

    @classmethod
    def execute(cls, sdpose_model, file, filename_prefix="sdpose/video", save_frames=False, draw_over_video=False,
                detect_hand="enable", detect_body="enable", detect_face="enable", resolution=512,
                bbox_detector=common.DETECTOR_FILE, scale_stick_for_xinsr_cn="disable", flip_test=True,
                crop_mode="topdown", score_threshold=DWPOSE_THRESHOLD, batch_size=4, **clip) -> io.NodeOutput:
        common.require(common.CORE_PACKAGES, common.DRAW_PACKAGES)
        import comfy.model_management as mm
        import comfy.utils

        from ..sdpose_core.video.file_job import annotate_video
        from ..sdpose_core.video.io import probe_video

        source = resolve_video(file)
        options = clip_options(**clip)  # tracking, smoothing, smooth_min_cutoff, smooth_beta, detect_every
        root = files.output_dir().resolve()
        folder, stem = files.save_target(filename_prefix, root)
        total = probe_video(source).frames or 0
        pose = estimator.pose_estimator(sdpose_model, bbox_detector,
                                        estimator.node_options(flip_test, crop_mode, score_threshold, batch_size))
        progress = comfy.utils.ProgressBar(max(total, 1))
        shown: list[dict] = []

        def on_progress(count: int) -> None:
            mm.throw_exception_if_processing_interrupted()
            progress.update_absolute(count, max(total, count))

        def on_pose(index: int, frame: dict) -> None:
            if index < PREVIEW_FRAMES:
                shown.append(frame)

        created = _missing_parents(folder, root)
        folder.mkdir(parents=True, exist_ok=True)
        if not common.inside(folder, root):  # a symlinked subfolder created meanwhile
            raise common.InputError(f"filename_prefix '{filename_prefix}' leads outside ComfyUI's output folder.")
        try:
            stem = files.numbered(stem, files.first_free(folder, stem), "")  # <prefix>_00001_
            out = annotate_video(pose, source, folder, stem=stem, options=options,
                                 frames_png=save_frames, pose_options={"threshold": score_threshold},
                                 draw_options=estimator.draw_options(detect_hand, detect_body, detect_face,
                                                                     resolution, scale_stick_for_xinsr_cn),
                                 overlay=draw_over_video, progress=on_progress, on_pose=on_pose)
        except BaseException:
            _remove_empty(created)
            raise
        common.LOG.info("SDPose: posed %d frames of '%s' -> %s", out.frame_count, file, out.video)
        ui = {
            "openpose_json": [json.dumps(shown)],  # the pack's preview (web/): the first frames' poses
            **preview.background_ui(first_frames(source, len(shown))),
            "pose_keypoint_files": [_entry(out.json, root)],
            "pose_videos": [_entry(out.video, root)],
            **({"pose_frame_folders": [_entry(out.frames_dir, root)]} if out.frames_dir else {}),
        }
        return io.NodeOutput(InputImpl.VideoFromFile(str(out.video)), ui=ui)


NODES = [SDPoseAnnotateVideoFile]
