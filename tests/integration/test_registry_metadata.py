"""pyproject.toml as the Comfy Registry and ComfyUI-Manager read it: present, well-formed, true.

The fields and their rules are the registry's specification (docs.comfy.org/registry/specifications) and the parser
ComfyUI ships for it (``comfy_config.config_parser``, kept in sync with comfy-cli's, which publishes).
"""

from __future__ import annotations

import re
import sys

import pytest
import tomllib

from comfy_helpers import REPO, comfyui_on_path

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
PROJECT, COMFY = PYPROJECT["project"], PYPROJECT["tool"]["comfy"]
TESTED_COMFYUI = (0, 3, 75)
VERSION_SPEC = re.compile(r"^(==|>=|<=|!=|~=|>|<)?\s*(\d+)\.(\d+)\.(\d+)$")  # the registry's per-part pattern
MIT_GRANT = "Permission is hereby granted, free of charge, to any person obtaining a copy"


def all_values(table, path=""):
    for key, value in table.items():
        if isinstance(value, dict):
            yield from all_values(value, f"{path}{key}.")
        else:
            yield f"{path}{key}", value


def test_node_id_version_and_description():
    name = PROJECT["name"]
    assert len(name) < 100 and re.fullmatch(r"[A-Za-z][A-Za-z0-9._-]*", name) and not re.search(r"[._-]{2}", name)
    assert "comfyui" not in name.lower()  # the registry asks not to
    assert re.fullmatch(r"\d+\.\d+\.\d+", PROJECT["version"])
    assert len(PROJECT["description"]) > 20


def test_the_version_is_the_one_of_the_library_and_the_changelog():
    sys.path.insert(0, str(REPO))
    import sdpose_core

    changelog = (REPO / "CHANGELOG.md").read_text()
    released = re.findall(r"^## (\d+\.\d+\.\d+)\b", changelog, re.M)
    assert sdpose_core.__version__ == PROJECT["version"] == released[0]
    assert "## Version policy" in changelog and released == sorted(released, key=lambda v: tuple(map(int, v.split(
        "."))), reverse=True)


def test_license_is_the_mit_text_the_metadata_names():
    assert PROJECT["license"] == {"file": "LICENSE"}
    text = (REPO / "LICENSE").read_text()
    assert text.startswith("MIT License\n") and MIT_GRANT in text and "Copyright (c)" in text


def test_no_placeholder_values():
    """Every field holds something real: no empty strings or lists, no example.com, URLs only where true."""
    for key, value in [*all_values(PROJECT), *all_values(COMFY, "tool.comfy.")]:
        assert value not in ("", [], {}), f"{key} is empty: leave it out instead"
        text = str(value)
        assert "example.com" not in text and "TODO" not in text, key
    for key, url in [*PROJECT.get("urls", {}).items(), *((k, COMFY[k]) for k in ("Icon", "Banner") if k in COMFY)]:
        assert url.startswith("https://"), key
    if "PublisherId" in COMFY:
        assert re.fullmatch(r"[a-z0-9][a-z0-9-]*", COMFY["PublisherId"])


def test_comfyui_requirement_holds_for_the_tested_version():
    parts = [VERSION_SPEC.match(p.strip()) for p in COMFY["requires-comfyui"].split(",")]
    assert all(parts), COMFY["requires-comfyui"]
    for match in parts:
        op, version = match.group(1) or "==", tuple(int(match.group(i)) for i in (2, 3, 4))
        assert {"==": TESTED_COMFYUI == version, ">=": TESTED_COMFYUI >= version, "<=": TESTED_COMFYUI <= version,
                ">": TESTED_COMFYUI > version, "<": TESTED_COMFYUI < version, "!=": TESTED_COMFYUI != version,
                "~=": TESTED_COMFYUI[:2] == version[:2] and TESTED_COMFYUI >= version}[op]


def test_dependencies_match_requirements_txt():
    """The registry records [project] dependencies; ComfyUI-Manager installs requirements.txt: the same packages
    (pyproject adds torch, which ComfyUI always has and requirements.txt leaves to the user's CUDA build)."""
    lines = [line.split("#")[0].strip() for line in (REPO / "requirements.txt").read_text().splitlines()]
    assert sorted(filter(None, lines)) == sorted(d for d in PROJECT["dependencies"] if not d.startswith("torch"))


def test_display_name():
    assert 3 <= len(COMFY["DisplayName"]) <= 100 and "SDPose" in COMFY["DisplayName"]


@pytest.fixture(scope="module")
def comfy_config():
    comfyui_on_path("its registry metadata parser (comfy_config) comes with it.")
    from comfy_config import config_parser

    return config_parser


def test_comfyuis_registry_parser_reads_every_field(comfy_config):
    config = comfy_config.extract_node_configuration(str(REPO))
    project, comfy = config.project, config.tool_comfy
    assert (project.name, project.version, project.description) == (
        PROJECT["name"], PROJECT["version"], PROJECT["description"])
    assert (project.license.file, project.license.text) == ("LICENSE", "")
    assert project.requires_python == PROJECT["requires-python"]
    assert project.dependencies == PROJECT["dependencies"]
    assert project.supported_comfyui_version == COMFY["requires-comfyui"]  # kept only when well-formed
    assert comfy.display_name == COMFY["DisplayName"]
    assert (comfy.icon, comfy.banner_url, comfy.models) == (COMFY.get("Icon", ""), COMFY.get("Banner", ""), [])


def test_comfyui_parses_the_metadata_when_it_loads_the_pack(comfy):
    assert "Unable to parse pyproject.toml" not in comfy.log.read_text(errors="replace")
