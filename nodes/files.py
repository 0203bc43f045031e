"""The pack's files in ComfyUI's input and output folders: one naming scheme, one resolver of listed names.

Names are ComfyUI's own: ``<prefix>_<NNNNN>_<part>`` with the counter that ``folder_paths.get_save_image_path``
gives SaveImage (one more than the highest ``<prefix>_<NNNNN>_...`` in the folder), so the pack's JSON files,
pose videos and frame folders number on from each other and from ComfyUI's PNGs of the same prefix, and never
replace a file (each is created exclusively; a name taken meanwhile moves on to the next number). Listed names are
relative to input/, or to output/ with ComfyUI's ' [output]' annotation (``folder_paths.annotated_filepath``).
The one walker of these folders is ``common.listing``.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..sdpose_core.atomic import AlreadyExists, write_text
from . import common

COUNTER = re.compile(r"^(?P<stem>.*)_(?P<n>\d{5,})_(?P<part>.*)$")


class MissingFile(common.InputError):
    """A listed name whose file does not exist (the routes answer 404)."""


def output_dir() -> Path:
    import folder_paths

    return Path(folder_paths.get_output_directory())


def input_dir() -> Path:
    import folder_paths

    return Path(folder_paths.get_input_directory())


def save_target(prefix: str, root: Path) -> tuple[Path, str]:
    """(folder, file stem) for ``prefix`` inside ``root``; an InputError for anything that would leave it, is not a
    portable file name (the pack's one name check, ``common.path_in``) or runs through an existing file."""
    try:
        path = common.path_in(root, prefix, "filename_prefix", "ComfyUI's output folder", creating=True)
    except common.InputError as exc:
        raise common.InputError(f"{exc} It names files inside ComfyUI's output folder, e.g. 'sdpose/pose'.") from None
    folder = path.parent
    while folder != root:  # a folder of the prefix that is a file: mkdir would fail with a bare FileExistsError
        if folder.exists() and not folder.is_dir():
            raise common.InputError(f"filename_prefix '{prefix}': '{folder.relative_to(root).as_posix()}' is a file "
                                    "in ComfyUI's output folder, not a folder; choose another prefix.")
        folder = folder.parent
    return path.parent, path.name


def first_free(folder: Path, stem: str) -> int:
    """The counter ComfyUI's SaveImage would use next for ``stem`` in ``folder`` (``get_save_image_path``)."""
    import folder_paths

    if not folder.is_dir():
        return 1
    return folder_paths.get_save_image_path(stem, str(folder))[2]


def numbered(stem: str, counter: int, part: str) -> str:
    """``<stem>_<NNNNN>_<part>``: 'pose_00001_.json', 'video_00001_pose.mp4', 'video_00001_frames'."""
    return f"{stem}_{counter:05d}_{part}"


def free_numbered(folder: Path, stem: str, part: str) -> str:
    """The first ``numbered(stem, n, part)`` nothing in ``folder`` has, from one more than the highest counter of
    ``stem`` there (SaveImage's rule, for folders ComfyUI's helper does not serve, e.g. the editor's saves)."""
    highest = 0
    if folder.is_dir():
        for entry in folder.iterdir():
            match = COUNTER.match(entry.name)
            if match and match["stem"] == stem:
                highest = max(highest, int(match["n"]))
    counter = highest + 1
    while (folder / numbered(stem, counter, part)).exists() or (folder / numbered(stem, counter, part)).is_symlink():
        counter += 1
    return numbered(stem, counter, part)


def create_numbered(folder: Path, stem: str, counter: int, part: str, text: str) -> tuple[Path, int]:
    """Write ``text`` to the first free numbered name from ``counter``, whole or not at all, never replacing a file."""
    while True:
        try:
            return write_text(folder / numbered(stem, counter, part), text, replace=False), counter
        except AlreadyExists:
            counter += 1


def series(path: Path) -> list[Path]:
    """Every file of the numbered series ``path`` belongs to (same stem and part, any counter), in order."""
    match = COUNTER.match(path.name)
    if not match:
        return [path]
    found = []
    for entry in path.parent.iterdir():
        other = COUNTER.match(entry.name)
        if other and (other["stem"], other["part"]) == (match["stem"], match["part"]) and entry.is_file():
            found.append((int(other["n"]), entry))
    return [p for _, p in sorted(found)]


def resolve_listed(name: object, what: str, kind: str, suffixes: tuple[str, ...],
                   roots: tuple[Path, Path] | None = None) -> Path:
    """A name as the pack lists it (relative to input/, or to output/ with ' [output]') -> its path, inside that
    folder (links followed), not hidden, with one of ``suffixes`` (``kind`` names such a file in messages);
    MissingFile when it does not exist. ``roots``: (input, output) folders other than ComfyUI's (the routes')."""
    if not isinstance(name, str) or not name.strip():
        raise common.InputError(f"{what}: give the name of a file in ComfyUI's input folder.")
    tagged = name.endswith(common.OUTPUT_TAG)  # ComfyUI's annotation (folder_paths.annotated_filepath)
    rel = name[: -len(common.OUTPUT_TAG)] if tagged else name
    inputs, outputs = roots if roots is not None else (input_dir(), output_dir())
    root, label = (Path(outputs), "output") if tagged else (Path(inputs), "input")
    path = common.path_in(root, rel, what, f"ComfyUI's {label} folder")
    hidden = any(part.startswith(".") for part in path.relative_to(root).parts)
    if hidden or not path.name.lower().endswith(suffixes):
        raise common.InputError(f"{what} '{name}' is not a {kind} (a {' or '.join(suffixes)} file, not hidden).")
    if not path.is_file():
        raise MissingFile(f"{what} '{name}' not found in ComfyUI's {label} folder.")
    return path
