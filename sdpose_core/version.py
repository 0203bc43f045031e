"""The release number, read from its one home: ``[project] version`` in the repository's ``pyproject.toml``.

The Comfy Registry and ComfyUI-Manager read that field as it is written, so it is the source; a checkout (the
ComfyUI pack) reads the file beside the package, an installed wheel its own metadata.
"""

from __future__ import annotations

import re
from pathlib import Path

DISTRIBUTION = "sdpose-nodes"


def read_version() -> str:
    """``[project] version`` of the checkout this package is in, else the installed distribution's version."""
    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    if pyproject.is_file():
        text = pyproject.read_text(encoding="utf-8")
        project = re.search(r"^\[project\]\s*$(.*?)(?=^\[|\Z)", text, re.M | re.S)
        if project and re.search(rf'^name\s*=\s*"{DISTRIBUTION}"', project.group(1), re.M):
            found = re.search(r'^version\s*=\s*"([^"]+)"', project.group(1), re.M)
            if found:
                return found.group(1)
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        return "0+unknown"


__version__ = read_version()
