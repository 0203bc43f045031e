"""pyproject.toml agrees with the requirement files, and the version is written once."""

from __future__ import annotations

import re
from pathlib import Path

import tomllib

import sdpose_core
from sdpose_core.version import read_version

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def requirements(name: str) -> set[str]:
    lines = (ROOT / name).read_text().splitlines()
    return {line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()}


def test_dependencies_are_requirements_txt_plus_torch():
    assert set(PROJECT["dependencies"]) == requirements("requirements.txt") | {"torch>=2.1"}


def test_each_extra_is_its_requirement_file():
    extras = PROJECT["optional-dependencies"]
    assert set(extras) == {"train", "ray", "test"}
    for extra, packages in extras.items():
        assert set(packages) == requirements(f"requirements-{extra}.txt"), extra


def test_the_version_is_written_once():
    """``[project] version`` is the one place (the registry reads it there); the library reads it from there."""
    assert sdpose_core.__version__ == read_version() == PROJECT["version"]
    written = [p for p in ROOT.rglob("*.py") if ".venv" not in str(p)
               and re.search(r"^__version__\s*=\s*['\"]\d", p.read_text(errors="replace"), re.M)]
    assert written == []
