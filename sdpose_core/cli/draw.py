"""``python -m sdpose_core draw POSE.json --out OUT``: a POSE_KEYPOINT file drawn to PNG (DWPose look or ``--style``).

One frame (a dict) becomes the PNG ``OUT`` (or ``OUT/<stem>.png`` when ``OUT`` is a folder); a list becomes
``OUT/<stem>_00000.png`` per frame. Each PNG appears whole or not at all, and nothing is written when any target
exists unless ``overwrite``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..atomic import write_atomic
from ..errors import InputError
from ..formats.openpose import load_pose_keypoint, read_pose_json
from ..pose.render import output_size, render_frame
from ..video.io import write_png
from .options import check_output_file


def _targets(pose_path: Path, out: Path, frames: int, single: bool) -> list[Path]:
    """Output PNG paths: ``out`` itself (or ``out/<stem>.png`` for a folder) for one dict, else one per frame."""
    if single:
        return [out / f"{pose_path.stem}.png" if out.is_dir() else out]
    if out.exists() and not out.is_dir():
        raise InputError(f"'{out}' is a file; a POSE_KEYPOINT list needs a folder to hold one PNG per frame.")
    digits = max(5, len(str(frames - 1)))
    return [out / f"{pose_path.stem}_{i:0{digits}d}.png" for i in range(frames)]


def draw_command(pose_path: str | Path, out: str | Path, resolution: int | None = None, hands: bool = True,
                 face: bool = True, feet: bool = True, xinsr: bool = False, overwrite: bool = False,
                 body_layout: str = "auto", **drawing: Any) -> list[Path]:
    """Render a POSE_KEYPOINT file: one dict -> the PNG ``out``; a list -> ``out/<stem>_00000.png`` per frame.

    ``drawing``: the other ``render_frame`` keywords (``style``, ``body``, drawing controls); ``body_layout``: how
    25-point bodies are read (``formats.openpose.load_pose_keypoint``).
    Existing files are never replaced unless ``overwrite``; nothing is written when any target exists.
    """
    pose_path, out = Path(pose_path), Path(out)
    data = read_pose_json(pose_path)
    frames = load_pose_keypoint(data, body_layout=body_layout)
    if not frames:
        raise InputError(f"'{pose_path}' holds an empty POSE_KEYPOINT list; there is nothing to draw.")
    for frame in frames:
        output_size(frame["canvas_width"], frame["canvas_height"], resolution)
    try:
        targets = _targets(pose_path, out, len(frames), isinstance(data, dict))
        check_output_file(targets[0], "--out")  # the name fits, the folder is made and takes files
        taken = [t for t in targets if t.exists()]
    except OSError as exc:
        raise InputError(f"--out '{out}': {exc.strerror or exc}.") from None
    if taken and not overwrite:
        raise InputError(f"'{taken[0]}' already exists ({len(taken)} of {len(targets)} outputs); "
                         "choose another output or allow overwriting.")
    for frame, target in zip(frames, targets):
        image = render_frame(frame, resolution=resolution, hands=hands, face=face, feet=feet, xinsr=xinsr,
                             **drawing)
        write_atomic(target, lambda tmp: write_png(image, tmp), replace=overwrite)
    return targets
