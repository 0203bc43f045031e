"""Where the video code lives: the still-image node never imports video/ (pose/ is kept from it by the layer rules
of tests/test_layers.py, and the old names of ``sdpose_core.video`` by its public-names test)."""

from __future__ import annotations

from test_layers import ROOT, imports


def test_the_still_image_node_never_imports_video():
    found = imports(ROOT / "nodes" / "estimator.py")
    video = sorted(m for m in found if m == "sdpose_core.video" or m.startswith("sdpose_core.video."))
    assert not video, f"nodes/estimator.py imports {video}"
    assert "sdpose_core.engine.pipeline" in found  # the node's imports were read, relative ones resolved
