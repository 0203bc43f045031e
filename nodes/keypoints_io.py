"""Save / Load Pose Keypoints: POSE_KEYPOINT as JSON files, only ever inside ComfyUI's output/ and input/ folders.

Saving never replaces a file: names are numbered as SaveImage numbers its PNGs (``<prefix>_00001_.json``) and each
file is created exclusively. Loading accepts only files listed from input/ (or output/, tagged " [output]"), and
re-checks that the resolved path (symlinks included) stays inside that folder.
"""

from __future__ import annotations

from pathlib import Path

from comfy_api.latest import io

from ..sdpose_core.choices import BODY_LAYOUTS, MISSING_PARTS
from . import common, files, v3
from .files import save_target

PER_FRAME, ONE_FILE = "one file per frame", "one file (all frames)"


def save_pose_files(pose_keypoint, filename_prefix: str, layout: str, root: Path) -> list[dict]:
    """Write POSE_KEYPOINT as numbered JSON files under ``root``; returns ComfyUI's file entries.

    Everything is checked (name, POSE_KEYPOINT, strict JSON: no NaN) and serialized before the first file is
    created, so bad input writes nothing.
    """
    from ..sdpose_core.formats.openpose import dumps_pose_keypoint, pose_keypoint_frames

    folder, stem = save_target(filename_prefix, root)
    frames = pose_keypoint_frames(pose_keypoint)
    texts = [dumps_pose_keypoint(frames)] if layout == ONE_FILE else [dumps_pose_keypoint(f) for f in frames]
    folder.mkdir(parents=True, exist_ok=True)
    if not common.inside(folder, root):  # a symlinked subfolder created meanwhile
        raise common.InputError(f"filename_prefix '{filename_prefix}' leads outside ComfyUI's output folder.")
    counter, saved = files.first_free(folder, stem), []
    for text in texts:
        path, counter = files.create_numbered(folder, stem, counter, ".json", text)
        counter += 1
        saved.append({"filename": path.name, "subfolder": folder.relative_to(root).as_posix()
                      if folder != root else "", "type": "output"})
    return saved


def missing_parts_input() -> io.Combo.Input:
    """How a missing face, hand or feet part is written (``sdpose_core.formats.openpose``, ``MISSING_PARTS``)."""
    return v3.Choice("missing_parts", options=list(MISSING_PARTS), default=MISSING_PARTS[0], optional=True,
                     tooltip=("How a face or hand that is not seen is written. null: as DWPose (ComfyUI's "
                                   "native SDPose Face Bounding Boxes needs this). zeros: zero points (ComfyUI's "
                                   "native SDPose Draw Keypoints fails on null). This pack's nodes read both."))


def body_layout_input() -> io.Combo.Input:
    """How 25-point bodies are read (``sdpose_core.formats.openpose``, ``BODY_LAYOUTS``)."""
    return v3.Choice("body_layout", options=list(BODY_LAYOUTS), default=BODY_LAYOUTS[0], optional=True,
                     tooltip=("25-point bodies: auto tells CMU OpenPose BODY_25 from ComfyUI-ProportionChanger's "
                                   "OpenPose-18 + toes by their points (and stops when it cannot); body_25 or "
                                   "openpose_18_toes says which."))


class SDPoseSavePoseKeypoints(io.ComfyNode):
    """POSE_KEYPOINT -> numbered JSON files in output/ (never overwriting)."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return v3.schema(
            node_id="SDPoseNodes.SavePoseKeypoints",
            display_name="SDPose Save Pose Keypoints",
            description=("Saves POSE_KEYPOINT as OpenPose JSON in ComfyUI's output folder, one file per frame (or one "
                         "file holding the list of frames). Existing files are never overwritten."),
            inputs=[
                v3.PoseKeypoint.Input("pose_keypoint", tooltip="The poses to save."),
                io.String.Input("filename_prefix", default="sdpose/pose", tooltip=(
                    "Relative to the output folder; files are named <prefix>_00001_.json, _00002_, ...")),
                v3.Choice("layout", options=[PER_FRAME, ONE_FILE], default=PER_FRAME, tooltip=(
                    "One JSON file per frame (a numbered series Load Pose Keypoints reads back with 'sequence'), or "
                    "one file holding the list of all frames.")),
                missing_parts_input(),
            ],
            outputs=[],
            is_output_node=True,
        )

    @classmethod
    def execute(cls, pose_keypoint, filename_prefix="sdpose/pose", layout=PER_FRAME,
                missing_parts=MISSING_PARTS[0]) -> io.NodeOutput:
        if missing_parts == "zeros":
            from ..sdpose_core.formats.openpose import zero_missing_parts

            pose_keypoint = zero_missing_parts(pose_keypoint)
        saved = save_pose_files(pose_keypoint, filename_prefix, layout, files.output_dir().resolve())
        return io.NodeOutput(ui={"pose_keypoint_files": saved})


def list_pose_files() -> list[str]:
    """.json files under input/ (as is) and output/ (tagged ' [output]'), relative, sorted."""
    names: list[str] = []
    for root, tag in ((files.input_dir(), ""), (files.output_dir(), common.OUTPUT_TAG)):
        names += [n + tag for n in sorted(name for name, _ in common.listing(root) if name.lower().endswith(".json"))]
    return names


def resolve_pose_file(name: str) -> Path:
    """A listed name -> its path, checked to lie inside input/ (or output/ for ' [output]')."""
    return files.resolve_listed(name, "Pose keypoint file", "pose keypoint file", (".json",))


class SDPoseLoadPoseKeypoints(io.ComfyNode):
    """A JSON file from input/ (or output/) -> POSE_KEYPOINT."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return v3.schema(
            node_id="SDPoseNodes.LoadPoseKeypoints",
            display_name="SDPose Load Pose Keypoints",
            description=("Loads POSE_KEYPOINT from a JSON file in ComfyUI's input folder (or output folder, "
                         "' [output]'): DWPose / SDPose / ComfyUI-native / OpenPose JSON, one frame or a list of "
                         "frames."),
            inputs=[
                v3.Choice("file", options=list_pose_files() or [""], tooltip=(
                    "A .json file in ComfyUI's input folder, or one this pack saved (' [output]').")),
                io.Boolean.Input("sequence", default=False, tooltip=(
                    "Load every file of the numbered series this file belongs to (<prefix>_00001_.json, _00002_, "
                    "...) as one sequence.")),
                body_layout_input(),
            ],
            outputs=[v3.PoseKeypoint.Output(display_name="POSE_KEYPOINT")],
        )

    @classmethod
    def fingerprint_inputs(cls, file, sequence=False, body_layout=None):
        try:
            paths = files.series(resolve_pose_file(file)) if sequence else [resolve_pose_file(file)]
            return ";".join(f"{p.name}:{p.stat().st_mtime_ns}:{p.stat().st_size}" for p in paths)
        except Exception:
            return float("nan")  # let the run itself report the problem

    @classmethod
    def execute(cls, file, sequence=False, body_layout=BODY_LAYOUTS[0]) -> io.NodeOutput:
        from ..sdpose_core.formats.openpose import load_pose_keypoint

        path = resolve_pose_file(file)
        paths = files.series(path) if sequence else [path]
        frames = []
        for p in paths:
            frames += load_pose_keypoint(p, body_layout=body_layout)
        return io.NodeOutput(frames)


NODES = [SDPoseSavePoseKeypoints, SDPoseLoadPoseKeypoints]
