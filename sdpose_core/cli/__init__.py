"""The command line (``python -m sdpose_core`` / ``sdpose``) and the batch job behind ``estimate``.

Every public name of the old ``sdpose_core.cli`` module (0.2.0) stays importable from here: ``main``,
``build_parser`` and ``parse_size`` directly, the others (the option checks and the subcommands) from
:mod:`.main`, where they live now.
"""

from __future__ import annotations

from typing import Any

from ..sizes import parse_size
from . import main as _main
from .main import build_parser, main

_FROM_MAIN = ("MAX_BOX_COORD", "MAX_CRF", "boxes_for", "check_box_list", "check_coco_path", "check_device", "check_out",
              "draw_command", "draw_style", "estimate_command", "find_inputs", "load_boxes", "work_settings")

__all__ = ["build_parser", "main", "parse_size", *_FROM_MAIN]


def __getattr__(name: str) -> Any:
    if name in _FROM_MAIN:
        return getattr(_main, name)
    raise AttributeError(f"module '{__name__}' has no attribute '{name}'")
