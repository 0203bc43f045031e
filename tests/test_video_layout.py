"""Where the video code lives: the still-image node and pose/ never import video/, and the old public names of
``sdpose_core.video`` still import from the package."""

from __future__ import annotations

import ast
from pathlib import Path

import sdpose_core.video as video

ROOT = Path(__file__).resolve().parents[1]
OLD_PUBLIC = ["DEFAULT_CRF", "DEFAULT_FPS", "VIDEO_SUFFIXES", "ClipOptions", "JsonListWriter", "VideoInfo",
              "VideoOutput", "VideoWriter", "annotate_frames", "annotate_video", "count_frames", "is_video",
              "pose_frame", "prefetch", "probe_video", "read_frames"]


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports (relative imports kept with their dots), wherever the import statement is."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            found.add("." * node.level + (node.module or ""))
    return found


def test_the_still_image_node_and_pose_never_import_video():
    files = [ROOT / "nodes" / "estimator.py", *sorted((ROOT / "sdpose_core" / "pose").glob("*.py"))]
    for path in files:
        video_imports = [m for m in imported_modules(path) if "video" in m.split(".")]
        assert not video_imports, f"{path.relative_to(ROOT)} imports {video_imports}"


def test_old_public_names_still_import_from_the_package():
    assert sorted(video.__all__) == sorted(OLD_PUBLIC)
    assert all(getattr(video, name) is not None for name in OLD_PUBLIC)
