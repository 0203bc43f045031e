"""Every ``python -m sdpose_core ...`` command the README and docs/ show is one the command line accepts."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from sdpose_core.cli.main import build_parser

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
PREFIX = "python -m sdpose_core "


def _fenced_commands(text: str) -> list[str]:
    """Commands in ```bash blocks (continuation lines joined, comments dropped)."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split(" #", 1)[0].strip()
            if PREFIX in line:
                commands.append(line[line.index(PREFIX):])
    return commands


def _inline_commands(text: str) -> list[str]:
    """Complete commands in `inline code` (synopses with [optional] parts or ... are not commands)."""
    found = re.findall(r"`(" + re.escape(PREFIX) + r"[^`]+)`", text.replace("\n", " "))
    return [c for c in found if not any(mark in c for mark in ("[", "...", "|"))]


def documented_commands() -> list[tuple[str, str]]:
    commands = []
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        commands += [(path.name, c) for c in _fenced_commands(text) + _inline_commands(text)]
    return commands


def test_the_docs_show_commands():
    names = {name for name, _ in documented_commands()}
    assert "README.md" in names  # the three command-line examples


@pytest.mark.parametrize(("where", "command"), documented_commands())
def test_documented_command_parses(where, command):
    argv = shlex.split(command)[3:]  # after "python -m sdpose_core"
    try:
        build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse's error exit (0 after --help)
        if exc.code != 0:
            pytest.fail(f"{where}: the command line refuses `{command}` (exit {exc.code})")
