"""Drawing styles: ``wan_animate`` pixel-identical to Wan2.2's own drawing, ``unianimate`` to DWPose's without face."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sdpose_core.choices import DRAW_STYLES
from sdpose_core.cli.main import build_parser, main
from sdpose_core.cli.options import draw_style
from sdpose_core.errors import InputError
from sdpose_core.pose.render import STYLES, render_frame, render_pose_keypoint

GOLDEN = Path(__file__).parent / "data" / "golden"
WAN_CASES = [("wan_animate_three", "wan_animate_three", True), ("wan_animate_three_big", "wan_animate_three_big", True),
             ("wan_animate_three_big", "wan_animate_three_big_nohead", False),
             ("wan_animate_single", "wan_animate_single", True)]


def png(name: str) -> np.ndarray:
    return np.asarray(Image.open(GOLDEN / f"{name}.png").convert("RGB"))


def pose(name: str) -> list:
    return json.loads((GOLDEN / f"{name}.pose.json").read_text())


@pytest.mark.parametrize("pose_name, png_name, head", WAN_CASES)
def test_wan_animate_is_pixel_identical_to_wan22(pose_name, png_name, head):
    """Wan2.2's draw_aapose_by_meta_new drew these (tests/data/golden/README.md); the poses carry faces, which
    Wan-Animate's drawing leaves out, and toes, which it joins to the ankles."""
    drawn = render_frame(pose(pose_name), style="wan_animate", head=head)
    assert drawn.shape == png(png_name).shape
    assert np.array_equal(drawn, png(png_name))


def test_wan_animate_ignores_dwpose_sizes_and_xinsr():
    """Wan2.2's stroke sizes follow the canvas; DWPose's size controls and xinsr widening do not apply."""
    drawn = render_frame(pose("wan_animate_three"), style="wan_animate", stick_width=9, point_size=7, xinsr=True)
    assert np.array_equal(drawn, png("wan_animate_three"))


def test_wan_animate_toggles_remove_parts():
    full = render_frame(pose("wan_animate_three_big"), style="wan_animate")
    no_feet = render_frame(pose("wan_animate_three_big"), style="wan_animate", feet=False)
    no_hands = render_frame(pose("wan_animate_three_big"), style="wan_animate", hands=False)
    assert (no_feet.any(-1) <= full.any(-1)).all() and no_feet.any(-1).sum() < full.any(-1).sum()
    assert (no_hands.any(-1) <= full.any(-1)).all() and no_hands.any(-1).sum() < full.any(-1).sum()
    # the toe joints' colours (Wan2.2's (200, 200, 0) and (100, 100, 0)) appear only with feet
    for color in ((200, 200, 0), (100, 100, 0)):
        assert (full == color).all(-1).any() and not (no_feet == color).all(-1).any()


def test_wan_animate_resolution_resizes_after_drawing():
    (drawn,) = render_pose_keypoint(pose("wan_animate_three_big"), style="wan_animate", resolution=600)
    assert drawn.shape == (600, 800, 3)


def test_unianimate_is_dwpose_without_face():
    """DWPose's own drawing with face and hands off (golden) = unianimate with hands off, whatever face says."""
    dwpose = json.loads((GOLDEN / "wholebody_three.pose.json").read_text())
    drawn = render_frame(dwpose, style="unianimate", hands=False, face=True, resolution=704)
    assert np.array_equal(drawn, png("wholebody_three_noface_nohands"))


def test_unianimate_draws_hands_but_no_face_or_feet():
    frame = pose("wan_animate_three")
    uni = render_frame(frame, style="unianimate", feet=True)
    dw = render_frame(frame, style="dwpose", feet=True)
    assert np.array_equal(uni, render_frame(frame, style="dwpose", face=False, feet=False))
    assert (dw == (255, 255, 255)).all(-1).any() and not (uni == (255, 255, 255)).all(-1).any()  # face dots
    assert (uni == (0, 0, 255)).all(-1).any()  # hand dots


def test_default_style_is_dwpose():
    frame = pose("wan_animate_three")
    assert np.array_equal(render_frame(frame), render_frame(frame, style="dwpose"))


def test_styles_table_matches_choices():
    assert tuple(STYLES) == DRAW_STYLES


def test_unknown_style_names_the_choices():
    with pytest.raises(InputError, match="dwpose, unianimate, wan_animate"):
        render_frame(pose("wan_animate_single"), style="openpose")
    with pytest.raises(InputError, match="style must be one of"):
        render_frame(pose("wan_animate_single"), style=["dwpose"])


def test_draw_command_style_matches_wan22(tmp_path):
    assert main(["draw", str(GOLDEN / "wan_animate_three.pose.json"), "--out", str(tmp_path), "--style",
                 "wan_animate", "--feet"]) == 0
    drawn = Image.open(tmp_path / "wan_animate_three.pose_00000.png").convert("RGB")
    assert np.array_equal(np.asarray(drawn), png("wan_animate_three"))


def test_retarget_command_has_the_toggles_and_style():
    args = build_parser().parse_args(["retarget", "d.json", "--reference", "r.json", "--out", "o.json",
                                      "--style", "unianimate", "--no-body", "--no-face", "--feet"])
    drawing = draw_style(args)
    assert (drawing["style"], drawing["body"], args.face, args.feet) == ("unianimate", False, False, True)


def test_command_refuses_an_unknown_style(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["draw", str(GOLDEN / "wan_animate_three.pose.json"), "--out", "x.png", "--style", "openpose"])
    assert exc.value.code == 2 and "wan_animate" in capsys.readouterr().err
