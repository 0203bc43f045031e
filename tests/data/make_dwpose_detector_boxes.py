"""Write dwpose_detector_boxes.json: the boxes comfyui_controlnet_aux's DWPose detector (cv_ox_det.py at
test_detect.AUX_COMMIT, run from a fetched copy) gives on test_detect's seeded random YOLOX-L model and images.

Run: python tests/data/make_dwpose_detector_boxes.py (needs the fetched repository, see test_detect.AUX_GIT).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnxruntime as ort

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from test_detect import AUX_COMMIT, DWPOSE_BOXES, aux_module, dwpose_images, random_yolox  # noqa: E402


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        det = aux_module("cv_ox_det", Path(tmp))
        if det is None:
            raise SystemExit("no fetched comfyui_controlnet_aux: set SDPOSE_CONTROLNET_AUX_GIT to its git folder")
        session = ort.InferenceSession(str(random_yolox(Path(tmp) / "m.onnx")), providers=["CPUExecutionProvider"])
        boxes = {}
        for name, image in dwpose_images().items():
            found = det.inference_detector(session, image)
            boxes[name] = [] if found is None else np.asarray(found, dtype=np.float64).tolist()
    DWPOSE_BOXES.write_text(json.dumps({"commit": AUX_COMMIT, "source": "Fannovel16/comfyui_controlnet_aux "
                                        "src/custom_controlnet_aux/dwpose/dw_onnx/cv_ox_det.py inference_detector",
                                        "boxes": boxes}, indent=1) + "\n")
    print({k: len(v) for k, v in boxes.items()})


if __name__ == "__main__":
    main()
