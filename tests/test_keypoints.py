"""sdpose_core.keypoints is the one definition of the COCO / COCO-WholeBody layout and of DWPose's threshold: the
layout is consistent, and the schemes, the OpenPose format, drawing, the motion and pose tools and training use its
objects (``is``: a copy of the value written elsewhere is a different object and fails)."""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
from pathlib import Path

import pytest

from sdpose_core import keypoints
from sdpose_core.keypoints import (
    BODY,
    DWPOSE_THRESHOLD,
    FACE,
    FOOT,
    LEFT_HAND,
    NUM_BODY,
    NUM_WHOLEBODY,
    RIGHT_HAND,
    WHOLEBODY_PARTS,
    WHOLEBODY_SIGMAS,
)

REPO = Path(__file__).resolve().parents[1]
# mmpose's COCO-WholeBody metainfo (names, swap pairs, sigmas), kept as data with its source and commit
METAINFO = json.loads((REPO / "tests" / "data" / "coco_wholebody_metainfo.json").read_text())


def test_body_sigmas_are_pycocotools_coco_sigmas():
    """COCO's 17 OKS sigmas as the COCO evaluation itself defines them (pycocotools' keypoint Params)."""
    cocoeval = pytest.importorskip("pycocotools.cocoeval")
    coco = cocoeval.Params(iouType="keypoints").kpt_oks_sigmas
    assert len(coco) == len(keypoints.BODY_SIGMAS) == 17
    assert [round(float(s), 6) for s in coco] == list(keypoints.BODY_SIGMAS)


def test_wholebody_sigmas_are_the_published_list():
    """All 133 sigmas, literally, against COCO-WholeBody's list as mmpose's metainfo publishes it."""
    assert list(WHOLEBODY_SIGMAS) == METAINFO["sigmas"]
    assert METAINFO["sigmas"][:17] == list(keypoints.BODY_SIGMAS)  # the body part keeps COCO's sigmas


def test_names_are_the_metainfos():
    assert list(keypoints.BODY_NAMES + keypoints.FOOT_NAMES) == METAINFO["names"][:FOOT.stop]


@pytest.mark.parametrize("name", ["body", "wholebody"])
def test_flip_pairs_are_the_metainfos(name):
    """Every left/right pair of the flip test, literally, from the metainfo's swap names (the body's are COCO's)."""
    from sdpose_core.engine.schemes import get_scheme

    scheme = get_scheme(name)
    pairs = {tuple(p) for p in METAINFO["flip_pairs"] if p[1] < scheme.num_keypoints}
    assert len(pairs) == {"body": 8, "wholebody": 61}[name]
    ours = {(i, j) for i, j in enumerate(scheme.flip_indices) if i < j}
    assert ours == pairs
    assert all(scheme.flip_indices[i] == i for i in range(scheme.num_keypoints) if not any(i in p for p in pairs))


def test_parts_are_contiguous_and_cover_the_133_points():
    assert WHOLEBODY_PARTS == (BODY, FOOT, FACE, LEFT_HAND, RIGHT_HAND)
    assert WHOLEBODY_PARTS[0].start == 0 and WHOLEBODY_PARTS[-1].stop == NUM_WHOLEBODY == 133
    for before, after in zip(WHOLEBODY_PARTS, WHOLEBODY_PARTS[1:]):
        assert before.stop == after.start, (before.name, after.name)
    sizes = {p.name: p.size for p in WHOLEBODY_PARTS}
    assert sizes == {"body": 17, "foot": 6, "face": 68, "lefthand": 21, "righthand": 21}
    assert NUM_BODY == BODY.stop == 17
    rows = list(range(NUM_WHOLEBODY))
    assert [i for p in WHOLEBODY_PARTS for i in rows[p.points]] == rows


def test_names_and_sigmas_fit_the_parts():
    assert len(keypoints.BODY_NAMES) == BODY.size and len(keypoints.FOOT_NAMES) == FOOT.size
    names = keypoints.BODY_NAMES + keypoints.FOOT_NAMES
    assert len(set(names)) == len(names)
    assert names[0] == "nose" and names[BODY.stop - 1] == "right_ankle" and names[-1] == "right_heel"
    for part in WHOLEBODY_PARTS:
        assert len(part.sigmas) == part.size, part.name
        assert all(0 < s < 0.2 for s in part.sigmas), part.name
    assert len(WHOLEBODY_SIGMAS) == NUM_WHOLEBODY
    assert WHOLEBODY_SIGMAS[FACE.points] == FACE.sigmas and WHOLEBODY_SIGMAS[RIGHT_HAND.points] == RIGHT_HAND.sigmas
    assert LEFT_HAND.sigmas == RIGHT_HAND.sigmas


def test_fields_are_coco_wholebodys():
    """The five fields of COCO-WholeBody annotation and result files, in the 133-point order."""
    assert [p.field for p in WHOLEBODY_PARTS] == ["keypoints", "foot_kpts", "face_kpts", "lefthand_kpts",
                                                  "righthand_kpts"]
    assert (DWPOSE_THRESHOLD, keypoints.RESCORE_THRESHOLD) == (0.3, 0.2)  # DWPose's and mmpose's CocoMetric's


def test_schemes_openpose_and_training_use_the_layout():
    from sdpose_core.engine import schemes
    from sdpose_core.formats import openpose
    from train import data

    assert (schemes.BODY.num_keypoints, schemes.WHOLEBODY.num_keypoints) == (NUM_BODY, NUM_WHOLEBODY)
    flip = schemes.WHOLEBODY.flip_indices
    mirrored = {BODY.name: BODY, FOOT.name: FOOT, FACE.name: FACE, LEFT_HAND.name: RIGHT_HAND,
                RIGHT_HAND.name: LEFT_HAND}
    for part in WHOLEBODY_PARTS:  # flipping keeps every point in its part (the hands swap)
        other = mirrored[part.name]
        assert all(other.start <= flip[i] < other.stop for i in range(part.start, part.stop)), part.name
    assert schemes.BODY.flip_indices == flip[BODY.points]
    assert (openpose.FEET, openpose.FACE, openpose.LEFT_HAND, openpose.RIGHT_HAND) == tuple(
        p.points for p in (FOOT, FACE, LEFT_HAND, RIGHT_HAND))
    assert openpose.PART_POINTS[openpose.FACE_KEY][1] == FACE.size == openpose.FACE_LANDMARKS
    assert openpose.PART_POINTS[openpose.LEFT_KEY] == (LEFT_HAND.size,)
    assert openpose.PART_POINTS[openpose.FOOT_KEY] == (FOOT.size,)
    assert data.PART_FIELDS == tuple(p.field for p in WHOLEBODY_PARTS)
    assert data.LOWER_BODY_IDS["wholebody"][-1] == FOOT.stop - 1
    assert set(data.UPPER_BODY_IDS) | set(data.LOWER_BODY_IDS["body"]) == set(range(NUM_BODY))


def test_old_threshold_names_are_the_one_value():
    from sdpose_core.formats import openpose
    from sdpose_core.motion import track
    from sdpose_core.pose import render

    assert openpose.DWPOSE_THRESHOLD is render.DRAW_THRESHOLD is track.DEFAULT_THRESHOLD is DWPOSE_THRESHOLD


def _modules():
    """The OpenPose format and every module of the motion, pose and video packages (formats.coco's threshold is the
    rescoring one)."""
    yield importlib.import_module("sdpose_core.formats.openpose")
    for package in ("motion", "pose", "video"):
        path = importlib.import_module(f"sdpose_core.{package}").__path__
        for info in pkgutil.iter_modules(path):
            yield importlib.import_module(f"sdpose_core.{package}.{info.name}")


def _threshold_defaults():
    """(where, default) for every parameter named ``threshold`` that has a default, in those modules."""
    for module in _modules():
        name = module.__name__.removeprefix("sdpose_core.")
        for attr, obj in vars(module).items():
            if getattr(obj, "__module__", None) != module.__name__ or not callable(obj):
                continue
            try:
                params = inspect.signature(obj).parameters
            except (TypeError, ValueError):
                continue
            default = params["threshold"].default if "threshold" in params else inspect.Parameter.empty
            if default is not inspect.Parameter.empty:
                yield f"{name}.{attr}", default


def test_every_threshold_default_is_dwposes():
    """A bare 0.3 written as a default anywhere in these modules is another object than keypoints' and fails."""
    found = dict(_threshold_defaults())
    assert {"formats.openpose.to_pose_keypoint", "motion.smooth.OneEuroSettings", "motion.gaps.fill_gaps",
            "pose.render.render_frame", "pose.people.person_extent", "pose.face.face_points",
            "pose.retarget.retarget", "motion.track.PoseTracker"} <= set(found)
    assert {where: d for where, d in found.items() if d is not DWPOSE_THRESHOLD} == {}


@pytest.mark.parametrize("command", ["estimate", "retarget"])
def test_cli_threshold_default_is_dwposes(command):
    from sdpose_core.cli.main import build_parser

    commands = next(a for a in build_parser()._actions if a.dest == "command")
    assert commands.choices[command].get_default("threshold") is DWPOSE_THRESHOLD
