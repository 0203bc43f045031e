"""The OpenCV the official SDPose code runs with (opencv-python 4.9.0.80, numpy < 2), as a test oracle.

It cannot share a process with the project's OpenCV, so each call runs in that environment's Python:
``$SDPOSE_OPENCV_ORACLE``, else ``.venv-opencv49/bin/python`` in the repository (.ci/run builds it).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

OFFICIAL_VERSION = "4.9.0"
_SCRIPT = ("import sys, numpy as np, cv2; d = np.load(sys.argv[1]); "
           f"assert cv2.__version__ == {OFFICIAL_VERSION!r}, cv2.__version__; "
           "np.save(sys.argv[2], cv2.warpAffine(d['image'], d['mat'], tuple(int(v) for v in d['size']), "
           "flags=int(d['flags'])))")


def oracle_python() -> Path | None:
    explicit = os.environ.get("SDPOSE_OPENCV_ORACLE")
    path = Path(explicit) if explicit else Path(__file__).resolve().parents[1] / ".venv-opencv49" / "bin" / "python"
    return path if path.is_file() else None


def official_warp_affine() -> Callable:
    """``cv2.warpAffine`` of the official OpenCV; skips (fails under SDPOSE_REQUIRE_INTEGRATION) when absent."""
    python = oracle_python()
    if python is None:
        reason = ("no Python with the official OpenCV 4.9.0.80: set SDPOSE_OPENCV_ORACLE or build .venv-opencv49 "
                  "(python -m venv .venv-opencv49 && .venv-opencv49/bin/pip install numpy==1.26.4 "
                  "opencv-python-headless==4.9.0.80)")
        (pytest.fail if os.environ.get("SDPOSE_REQUIRE_INTEGRATION") else pytest.skip)(reason)

    def warp_affine(image: np.ndarray, mat: np.ndarray, size: tuple[int, int], flags: int) -> np.ndarray:
        with tempfile.TemporaryDirectory() as tmp:
            src, dst = Path(tmp) / "in.npz", Path(tmp) / "out.npy"
            np.savez(src, image=image, mat=mat, size=np.asarray(size), flags=flags)
            subprocess.run([str(python), "-c", _SCRIPT, str(src), str(dst)], check=True, capture_output=True)
            return np.load(dst)

    return warp_affine
