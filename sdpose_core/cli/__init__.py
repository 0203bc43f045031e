"""The command line (``python -m sdpose_core`` / ``sdpose``) and the batch job behind ``estimate``.

``main`` and ``parse_size`` stay importable from here, where the old ``sdpose_core.cli`` module had them.
"""

from .main import build_parser, main, parse_size

__all__ = ["build_parser", "main", "parse_size"]
