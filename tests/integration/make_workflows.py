"""Regenerate workflows/*.json (UI format) and their API twins (*.api.json) with the real ComfyUI frontend.

    python tests/integration/make_workflows.py [NAME ...]

Each graph below is built node by node in the ComfyUI web app (headless Chromium + playwright, a real ComfyUI
server with this pack), saved as the app saves it (``app.graph.serialize()``) and converted to API format by
the app itself (``.output``), so the two files are twins by construction. The API twin leaves out what needs Stable
Diffusion / ControlNet weights (``api`` lists the node ids kept). ``DWPreprocessor`` (comfyui_controlnet_aux) is
stood in for by a stub with its exact inputs, only while generating; so are the Impact Pack's detector nodes.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from comfy_helpers import (  # noqa: E402
    BUILD_GRAPH_JS,
    REPO,
    Frontend,
    browser_missing,
    comfy_folder,
    comfyui_main,
    framed_view,
    layout_overlaps,
    start_server,
    stop_server,
)

OUT = REPO / "workflows"
MODEL = "teemosliang/SDPose-Wholebody [hub]"
IMAGE = "example.png"  # ComfyUI's input/ ships it

DWPREPROCESSOR = REPO / "tests" / "data" / "controlnet_aux_dwpreprocessor.json"  # its real inputs, with the commit


def dwpose_stub() -> str:
    """A generation-time stand-in for comfyui_controlnet_aux's DWPreprocessor (never shipped), built from the
    inputs read once from its source (tests/data/controlnet_aux_dwpreprocessor.json)."""
    spec = json.loads(DWPREPROCESSOR.read_text())
    return f'''
import json


class DWPreprocessor:
    """Stand-in with comfyui_controlnet_aux's DWPreprocessor inputs ({spec["source"]["commit"][:12]})."""

    @classmethod
    def INPUT_TYPES(cls):
        return json.loads({json.dumps(json.dumps(spec["input"]))})

    RETURN_TYPES = {tuple(spec["output"])!r}
    FUNCTION = {spec["function"]!r}
    CATEGORY = {spec["category"]!r}


NODE_CLASS_MAPPINGS = {{{spec["node_id"]!r}: DWPreprocessor}}
NODE_DISPLAY_NAME_MAPPINGS = {{{spec["node_id"]!r}: {spec["display_name"]!r}}}
'''

IMPACT_STUB = '''
class UltralyticsDetectorProvider:
    """Generation-time stand-in with the Impact Subpack's detector loader inputs (never shipped)."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model_name": (["bbox/face_yolov8m.pt", "segm/person_yolov8m-seg.pt"],)}}

    RETURN_TYPES = ("BBOX_DETECTOR", "SEGM_DETECTOR")
    FUNCTION = "doit"
    CATEGORY = "ImpactPack"


class BboxDetectorForEach:
    """Generation-time stand-in with the Impact Pack's BBOX Detector (SEGS) inputs (never shipped)."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "bbox_detector": ("BBOX_DETECTOR",), "image": ("IMAGE",),
            "threshold": ("FLOAT", {"default": 0.5, "min": 0.0, "max": 1.0, "step": 0.01}),
            "dilation": ("INT", {"default": 10, "min": -512, "max": 512, "step": 1}),
            "crop_factor": ("FLOAT", {"default": 3.0, "min": 1.0, "max": 100, "step": 0.1}),
            "drop_size": ("INT", {"min": 1, "max": 16384, "step": 1, "default": 10}),
            "labels": ("STRING", {"multiline": True, "default": "all"})},
            "optional": {"detailer_hook": ("DETAILER_HOOK",)}}

    RETURN_TYPES = ("SEGS",)
    FUNCTION = "doit"
    CATEGORY = "ImpactPack/Detector"


NODE_CLASS_MAPPINGS = {"UltralyticsDetectorProvider": UltralyticsDetectorProvider,
                       "BboxDetectorSEGS": BboxDetectorForEach}
NODE_DISPLAY_NAME_MAPPINGS = {"BboxDetectorSEGS": "BBOX Detector (SEGS)"}
'''


def node(id_, type_, pos, widgets=None, size=None, title=None):
    return {"id": id_, "type": type_, "pos": pos, "widgets": widgets or {}, "size": size, "title": title}


def loader(id_, pos):
    return node(id_, "SDPoseNodes.ModelLoader", pos, {"model_name": MODEL, "dtype": "auto"}, size=[340, 90])


def estimator(id_, pos, **widgets):
    return node(id_, "SDPoseNodes.Estimator", pos, widgets, size=[340, 340])


NOTE_MODELS = ("Models: the SDPose Model Loader downloads teemosliang/SDPose-Wholebody into models/sdpose/ on first "
               "use, or pick a folder/file you put in models/sdpose/, or ComfyUI's "
               "sdpose_wholebody_fp16.safetensors from models/checkpoints/. Person detector: None poses the whole "
               "image as one person (no download); for several people pick yolox_l.onnx (DWPose's: taken from "
               "models/sdpose/ or comfyui_controlnet_aux, else downloaded once), or connect boxes, a MASK or SEGS "
               "from any detector node.")

# The driving half of the retarget workflows: video -> SDPose (tracked) -> the largest person -> retargeted onto
# the reference image's body (posed by the same model).
DRIVING_NODES = [
    node(1, "LoadVideo", [40, 80], {"file": "dance.mp4"}, size=[300, 340]),
    node(2, "GetVideoComponents", [40, 480], size=[260, 90]),
    loader(3, [40, 630]),
    node(4, "SDPoseNodes.VideoOptions", [40, 780], {"tracking": True, "smoothing": False, "detect_every": 1},
         size=[340, 180]),
    estimator(5, [400, 80], resolution=512),
    node(6, "LoadImage", [780, 80], {"image": IMAGE}, size=[300, 330], title="Reference image"),
    node(7, "SDPoseNodes.SelectPeople", [780, 470], {"mode": "largest", "count": 1}, size=[340, 130]),
    node(8, "SDPoseNodes.RetargetPose", [1160, 80], {"resolution": 0, "fill_gaps": 5, "zero_lag_smoothing": True},
         size=[340, 620]),
    node(9, "SDPoseNodes.SavePoseKeypoints", [780, 660], {"filename_prefix": "sdpose/retarget/keypoints"},
         size=[340, 110]),
]


def driving_nodes(style: str) -> list:
    """DRIVING_NODES with the retarget drawn in ``style``, the pose images its animation model was trained on;
    ``wan_animate`` draws toes, so the Estimator outputs feet and the retarget draws them."""
    feet = {"draw_feet": True} if style == "wan_animate" else {}
    changes = {5: feet, 8: {"style": style, **feet}}
    return [{**n, "widgets": {**n["widgets"], **changes.get(n["id"], {})}} for n in DRIVING_NODES]


def detector_choice(id_):
    """One dropdown for the person detector of the Estimator (5) and the Retarget node (8): chosen once."""
    return node(id_, "PrimitiveNode", [40, 1020], size=[340, 80], title="Person detector (Estimator and Retarget)")


def detector_links(id_):
    return [(id_, 0, 5, "bbox_detector"), (id_, 0, 8, "bbox_detector")]


DRIVING_LINKS = [
    (1, 0, 2, "video"), (2, 0, 5, "image"), (3, 0, 5, "sdpose_model"), (2, 2, 4, "frame_rate"),
    (4, 0, 5, "video_options"), (5, 1, 7, "pose_keypoint"), (7, 0, 8, "driving_pose"), (6, 0, 8, "reference_image"),
    (3, 0, 8, "sdpose_model"), (2, 2, 8, "frame_rate"), (8, 0, 9, "pose_keypoint"),
]

WORKFLOWS = {
    # (a) image -> SDPose -> OpenPose ControlNet -> image
    "sdpose_controlnet_openpose": {
        "nodes": [
            node(1, "LoadImage", [40, 80], {"image": IMAGE}, size=[300, 330]),
            loader(2, [40, 460]),
            estimator(3, [400, 80], resolution=512),
            node(4, "PreviewImage", [780, 80], size=[300, 330], title="SDPose pose"),
            node(5, "SDPoseNodes.SavePoseKeypoints", [40, 920], {"filename_prefix": "sdpose/pose"},
                 size=[340, 110]),
            node(6, "CheckpointLoaderSimple", [40, 640], {"ckpt_name": "v1-5-pruned-emaonly.safetensors"},
                 size=[320, 100]),
            node(7, "CLIPTextEncode", [780, 870], {"text": "a dancer on a stage, masterpiece, best quality"},
                 size=[340, 120], title="Positive prompt"),
            node(8, "CLIPTextEncode", [780, 1030], {"text": "lowres, bad anatomy, bad hands, worst quality"},
                 size=[340, 120], title="Negative prompt"),
            node(9, "ControlNetLoader", [40, 800], {"control_net_name": "control_v11p_sd15_openpose.pth"},
                 size=[320, 60]),
            node(10, "ControlNetApplyAdvanced", [780, 460], {"strength": 1.0, "start_percent": 0.0,
                                                             "end_percent": 1.0}, size=[300, 190]),
            node(11, "EmptyLatentImage", [780, 700], {"width": 512, "height": 768, "batch_size": 1},
                 size=[300, 110]),
            node(12, "KSampler", [1120, 460], {"seed": 0, "control_after_generate": "fixed", "steps": 20,
                                               "cfg": 7.0, "sampler_name": "euler", "scheduler": "normal",
                                               "denoise": 1.0}, size=[300, 270]),
            node(13, "VAEDecode", [1120, 780], size=[210, 50]),
            node(14, "SaveImage", [1460, 460], {"filename_prefix": "sdpose/controlnet"}, size=[330, 380]),
            node(15, "Note", [1120, 80], {"text": NOTE_MODELS + " ControlNet: control_v11p_sd15_openpose.pth in "
                                          "models/controlnet/, an SD 1.5 checkpoint in models/checkpoints/."},
                 size=[420, 220]),
        ],
        "links": [
            (1, 0, 3, "image"), (2, 0, 3, "sdpose_model"), (3, 0, 4, "images"), (3, 1, 5, "pose_keypoint"),
            (6, 1, 7, "clip"), (6, 1, 8, "clip"), (7, 0, 10, "positive"), (8, 0, 10, "negative"),
            (9, 0, 10, "control_net"), (3, 0, 10, "image"), (6, 2, 10, "vae"), (6, 0, 12, "model"),
            (10, 0, 12, "positive"), (10, 1, 12, "negative"), (11, 0, 12, "latent_image"), (12, 0, 13, "samples"),
            (6, 2, 13, "vae"), (13, 0, 14, "images"),
        ],
        "api": [1, 2, 3, 4, 5],
    },
    # (b) video frames -> SDPose pose sequence -> pose frames + pose video (AnimateAnyone / MimicMotion / UniAnimate)
    "sdpose_video_pose_sequence": {
        "nodes": [
            node(1, "LoadVideo", [40, 80], {"file": "dance.mp4"}, size=[300, 340]),
            node(2, "GetVideoComponents", [40, 480], size=[260, 90]),
            loader(3, [40, 630]),
            estimator(4, [400, 80], resolution=512),
            node(5, "SaveImage", [780, 80], {"filename_prefix": "sdpose/frames/pose"}, size=[320, 330],
                 title="Pose frames (PNG sequence)"),
            node(6, "CreateVideo", [780, 460], {"fps": 30.0}, size=[260, 80]),
            node(7, "SaveVideo", [1120, 460], {"filename_prefix": "sdpose/pose_video", "format": "auto",
                                               "codec": "auto"}, size=[330, 380]),
            node(8, "SDPoseNodes.SavePoseKeypoints", [780, 600], {"filename_prefix": "sdpose/frames/keypoints"},
                 size=[340, 110]),
            node(9, "Note", [1120, 80], {"text": "The pose IMAGE batch (one frame per video frame, black "
                                         "background, DWPose colours) is what AnimateAnyone / MimicMotion / "
                                         "UniAnimate pose inputs take: connect SDPose Estimator's IMAGE to them. "
                                         "SDPose Video Options makes the batch one clip: people keep their order "
                                         "and id from frame to frame, and smoothing (on here; off for "
                                         "frame-exact keypoints) steadies the skeletons. " + NOTE_MODELS},
                 size=[420, 260]),
            node(10, "SDPoseNodes.VideoOptions", [40, 780], {"tracking": True, "smoothing": True,
                                                            "detect_every": 1}, size=[340, 180]),
        ],
        "links": [
            (1, 0, 2, "video"), (2, 0, 4, "image"), (3, 0, 4, "sdpose_model"), (4, 0, 5, "images"),
            (4, 0, 6, "images"), (2, 2, 6, "fps"), (6, 0, 7, "video"), (4, 1, 8, "pose_keypoint"),
            (2, 2, 10, "frame_rate"), (10, 0, 4, "video_options"),
        ],
        "api": [1, 2, 3, 4, 5, 6, 7, 8, 10],
    },
    # (f) people boxed by a mask (painted in Load Image's mask editor, or any segmentation node's MASK) or SEGS
    "sdpose_people_from_mask": {
        "nodes": [
            node(1, "LoadImage", [40, 80], {"image": IMAGE}, size=[300, 330], title="Image (paint the people)"),
            loader(2, [40, 460]),
            estimator(3, [400, 80], resolution=512, min_mask_area=64),
            node(4, "PreviewImage", [780, 80], size=[300, 330], title="SDPose pose"),
            node(5, "SDPoseNodes.SavePoseKeypoints", [780, 460], {"filename_prefix": "sdpose/masked/keypoints"},
                 size=[340, 110]),
            node(6, "Note", [780, 620], {"text": "People boxed by a mask, for anime and stylized figures that COCO "
                                         "person detectors miss: right-click Load Image > Open in MaskEditor and "
                                         "paint each person (each separate region is one person; regions under "
                                         "min_mask_area pixels are ignored), or connect the MASK of any "
                                         "segmentation node (SAM, a person segmenter) to the Estimator's mask. "
                                         "With the Impact Pack, connect its SEGS (e.g. from BBOX Detector (SEGS)) "
                                         "to segs instead; segs_labels keeps the labels listed. " + NOTE_MODELS},
                 size=[340, 320]),
        ],
        "links": [(1, 0, 3, "image"), (1, 1, 3, "mask"), (2, 0, 3, "sdpose_model"), (3, 0, 4, "images"),
                  (3, 1, 5, "pose_keypoint")],
        "api": [1, 2, 3, 4, 5],
    },
    # (g) people boxed by the Impact Pack's SEGS (no API twin: CI has no Impact Pack)
    "sdpose_people_from_segs_with_impact_pack": {
        "nodes": [
            node(1, "LoadImage", [40, 80], {"image": IMAGE}, size=[300, 330]),
            loader(2, [40, 460]),
            node(3, "UltralyticsDetectorProvider", [40, 610], {"model_name": "segm/person_yolov8m-seg.pt"},
                 size=[340, 80]),
            node(4, "BboxDetectorSEGS", [40, 750], {"threshold": 0.5, "labels": "person"}, size=[340, 250]),
            estimator(5, [400, 80], resolution=512, segs_labels="person"),
            node(6, "PreviewImage", [780, 80], size=[300, 330], title="SDPose pose"),
            node(7, "SDPoseNodes.SavePoseKeypoints", [780, 460], {"filename_prefix": "sdpose/segs/keypoints"},
                 size=[340, 110]),
            node(8, "Note", [780, 620], {"text": "People boxed by the Impact Pack's detectors (ComfyUI-Impact-Pack "
                                         "and ComfyUI-Impact-Subpack): every SEG whose label is in segs_labels is "
                                         "one person (its detection box; the crop factor does not matter). Any "
                                         "ultralytics person model works, or an anime person detector for "
                                         "stylized figures. " + NOTE_MODELS}, size=[340, 320]),
        ],
        "links": [(1, 0, 4, "image"), (3, 0, 4, "bbox_detector"), (1, 0, 5, "image"), (2, 0, 5, "sdpose_model"),
                  (4, 0, 5, "segs"), (5, 0, 6, "images"), (5, 1, 7, "pose_keypoint")],
        "api": [],
    },
    # (c) SDPose on its own: input | overlay | pose, side by side (DWPose added in the *_with_controlnet_aux twin)
    "sdpose_vs_dwpose": {
        "nodes": [
            node(1, "LoadImage", [40, 80], {"image": IMAGE}, size=[300, 330]),
            loader(2, [40, 460]),
            estimator(3, [400, 80], resolution=512),
            node(4, "SDPoseNodes.DrawPose", [780, 80], {"resolution": 0, "overlay_opacity": 0.6}, size=[300, 250],
                 title="SDPose over the image"),
            node(5, "ImageStitch", [1120, 80], {"direction": "right", "match_image_size": True,
                                                "spacing_width": 0, "spacing_color": "white"}, size=[270, 150]),
            node(6, "ImageStitch", [1120, 280], {"direction": "right", "match_image_size": True,
                                                 "spacing_width": 8, "spacing_color": "white"}, size=[270, 150]),
            node(7, "SaveImage", [1420, 80], {"filename_prefix": "sdpose/compare"}, size=[400, 420]),
            node(8, "Note", [1420, 560], {"text": "Side by side: the image, SDPose drawn over it, SDPose's pose "
                                         "image. With comfyui_controlnet_aux installed, "
                                         "sdpose_vs_dwpose_with_controlnet_aux.json adds DWPose Estimator with the "
                                         "same settings next to it. " + NOTE_MODELS}, size=[340, 240]),
        ],
        "links": [
            (1, 0, 3, "image"), (2, 0, 3, "sdpose_model"), (3, 1, 4, "pose_keypoint"), (1, 0, 4, "image"),
            (1, 0, 5, "image1"), (4, 0, 5, "image2"), (5, 0, 6, "image1"), (3, 0, 6, "image2"), (6, 0, 7, "images"),
        ],
        "api": [1, 2, 3, 4, 5, 6, 7],
    },
    # (d) reference image + driving video -> retargeted pose video (UniAnimate / MimicMotion / AnimateAnyone style)
    "sdpose_retarget_pose_video": {
        "nodes": driving_nodes("unianimate") + [
            node(10, "SaveImage", [1540, 80], {"filename_prefix": "sdpose/retarget/pose"}, size=[320, 330],
                 title="Retargeted pose frames"),
            node(11, "CreateVideo", [1540, 460], {"fps": 30.0}, size=[260, 80]),
            node(12, "SaveVideo", [1540, 600], {"filename_prefix": "sdpose/retarget/pose_video", "format": "auto",
                                                "codec": "auto"}, size=[330, 380]),
            node(13, "Note", [780, 830], {"text": "The driving video's poses with the reference character's body: "
                                          "every bone gets the reference's length, hands and face its size, and the "
                                          "clip stands on the reference's neck. Connect the retargeted IMAGE batch "
                                          "to the pose input of UniAnimate / MimicMotion / AnimateAnyone (drawn in "
                                          "the unianimate style, body and hands without face dots, as UniAnimate and "
                                          "MusePose were trained; dwpose draws the face too). SDPose "
                                          "Select People keeps the largest dancer; short dropouts are filled and "
                                          "the clip is smoothed without lag. " + NOTE_MODELS}, size=[340, 320]),
            detector_choice(14),
        ],
        "links": DRIVING_LINKS + [(8, 1, 10, "images"), (8, 1, 11, "images"), (2, 2, 11, "fps"), (11, 0, 12, "video"),
                                  *detector_links(14)],
        "api": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
    },
    # (e) Wan-Animate preprocessing: the retargeted pose video and the face video of the driving clip
    "sdpose_wan_animate_preprocess": {
        "nodes": driving_nodes("wan_animate") + [
            node(10, "CreateVideo", [1540, 80], {"fps": 30.0}, size=[260, 80], title="Pose video"),
            node(11, "SaveVideo", [1540, 220], {"filename_prefix": "sdpose/wan/pose_video", "format": "auto",
                                                "codec": "auto"}, size=[330, 380]),
            node(12, "SDPoseNodes.FaceCrops", [1160, 760], {"width": 512, "height": 512, "framing": "wan_animate",
                                                            "scale": 1.3, "square": False}, size=[340, 450]),
            node(13, "CreateVideo", [1540, 660], {"fps": 30.0}, size=[260, 80], title="Face video"),
            node(14, "SaveVideo", [1540, 800], {"filename_prefix": "sdpose/wan/face_video", "format": "auto",
                                                "codec": "auto"}, size=[330, 380]),
            node(15, "SaveImage", [1920, 80], {"filename_prefix": "sdpose/wan/face"}, size=[320, 330],
                 title="Face crops"),
            node(16, "Note", [780, 830], {"text": "Wan-Animate preprocessing: the pose video (the driving poses "
                                           "retargeted to the reference character, drawn as Wan2.2 draws them) goes "
                                           "to pose_images, the face video (512x512 face crops of the driving clip "
                                           "framed as Wan2.2 frames them, steadied over time) to "
                                           "face_images, the reference image to the reference input. " +
                                           NOTE_MODELS}, size=[340, 320]),
            detector_choice(17),
        ],
        "links": DRIVING_LINKS + [
            (8, 1, 10, "images"), (2, 2, 10, "fps"), (10, 0, 11, "video"), (7, 0, 12, "pose_keypoint"),
            (2, 0, 12, "image"), (2, 2, 12, "frame_rate"), (12, 0, 13, "images"), (2, 2, 13, "fps"),
            (13, 0, 14, "video"), (12, 0, 15, "images"), *detector_links(17),
        ],
        "api": list(range(1, 16)),
    },
    # (c) with DWPose: needs comfyui_controlnet_aux (no API twin: CI cannot run DWPose offline)
    "sdpose_vs_dwpose_with_controlnet_aux": {
        "nodes": [
            node(1, "LoadImage", [40, 80], {"image": IMAGE}, size=[300, 330]),
            loader(2, [40, 460]),
            estimator(3, [400, 80], resolution=512, bbox_detector="yolox_l.onnx"),  # DWPose's, as DWPose uses it
            node(4, "DWPreprocessor", [40, 640], {"resolution": 512}, size=[340, 250]),
            node(5, "ImageStitch", [780, 80], {"direction": "right", "match_image_size": True, "spacing_width": 8,
                                               "spacing_color": "white"}, size=[270, 150]),
            node(6, "ImageStitch", [780, 280], {"direction": "right", "match_image_size": True, "spacing_width": 8,
                                                "spacing_color": "white"}, size=[270, 150]),
            node(7, "SaveImage", [1100, 80], {"filename_prefix": "sdpose/dwpose_vs_sdpose"}, size=[480, 420]),
            node(8, "Note", [780, 480], {"text": "Left to right: the image, DWPose Estimator, SDPose Estimator, "
                                         "with the same detect_*, resolution and bbox_detector settings. Needs "
                                         "comfyui_controlnet_aux for DWPose. " + NOTE_MODELS}, size=[300, 240]),
        ],
        "links": [
            (1, 0, 3, "image"), (2, 0, 3, "sdpose_model"), (1, 0, 4, "image"), (1, 0, 5, "image1"),
            (4, 0, 5, "image2"), (5, 0, 6, "image1"), (3, 0, 6, "image2"), (6, 0, 7, "images"),
        ],
        "api": [],
    },
}


def without_nulls(value, key=None):
    """The serialized graph minus the null-valued keys the app's slot objects carry (loading treats both alike)."""
    if key == "widgets_values":
        return value
    if isinstance(value, dict):
        return {k: without_nulls(v, k) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


def main() -> None:
    why = browser_missing()
    if comfyui_main() is None or why:
        sys.exit(f"cannot generate workflows: {why or 'ComfyUI is not installed (.ci/install-comfyui.sh)'}")
    stubs = {"dwpose_stub.py": dwpose_stub(), "impact_stub.py": IMPACT_STUB}
    base = comfy_folder(Path(tempfile.mkdtemp(prefix="sdpose-workflows-")), stubs)
    server = start_server(base)
    frontend = None
    try:
        frontend = Frontend(server)
        for name, spec in WORKFLOWS.items():
            if sys.argv[1:] and name not in sys.argv[1:]:  # regenerate only the workflows named, if any
                continue
            built = frontend.evaluate(BUILD_GRAPH_JS, {k: spec[k] for k in ("nodes", "links")})
            workflow = without_nulls(built["workflow"])
            overlaps = layout_overlaps(workflow)
            if overlaps:
                sys.exit(f"{name}: nodes overlap (move them in WORKFLOWS): " + "; ".join(overlaps))
            workflow["extra"]["ds"] = framed_view(workflow)  # opens clear of the tab bar and sidebar
            (OUT / f"{name}.json").write_text(json.dumps(workflow, indent=2) + "\n")
            if spec["api"]:
                keep = {str(i) for i in spec["api"]}
                api = {k: v for k, v in built["output"].items() if k in keep}
                assert set(api) == keep, (name, sorted(api), sorted(keep))
                for v in api.values():  # links to left-out nodes cannot stay
                    assert all(not isinstance(x, list) or x[0] in keep for x in v["inputs"].values()), (name, v)
                (OUT / f"{name}.api.json").write_text(json.dumps(api, indent=2) + "\n")
            print(f"wrote {name}")
        if frontend.errors:
            print("page errors:", *frontend.errors, sep="\n  ")
    finally:
        if frontend is not None:
            frontend.close()
        stop_server(server)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
